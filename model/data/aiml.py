"""Paraphrase pairs from the ALICE AIML sets (PyPI ``aiml`` wheel, ``botdata/``).

An AIML category whose template is only ``<srai>OTHER PATTERN</srai>`` says that its pattern
means the same as another one ("WHAT MAKES YOU TICK" -> "HOW DO YOU WORK"): a hand-written
question paraphrase. Only literal patterns are used (no ``*``/``_`` wildcards, no ``<that>``
context, no bot properties), lower-cased. The sets repeat some reductions for hundreds of
names ("I AM BELEN" -> "CALL ME BELEN"); each such shape (the pair with the words the two
sides share blanked out) is kept at most ``per_shape`` times.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from model.data.readers import Row

log = logging.getLogger(__name__)
PER_SHAPE = 3
MAX_WORDS = 16


def _literal(element: ET.Element | None) -> str | None:
    """The element's text when it holds no child elements and no wildcards."""
    if element is None or len(element) or element.text is None:
        return None
    text = " ".join(element.text.split()).lower()
    if not text or any(c in text for c in "*_<>#$^"):
        return None
    return text


def srai_pairs(path: Path) -> list[tuple[str, str]]:
    """``(pattern, pattern it reduces to)`` for the literal srai-only categories of one file;
    a file that is not well-formed XML yields nothing."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        log.warning("aiml: skipping %s: %s", path.name, exc)
        return []
    pairs = []
    for category in root.iter("category"):
        if category.find("that") is not None or category.find("topic") is not None:
            continue
        template = category.find("template")
        if template is None or (template.text or "").strip() or len(template) != 1:
            continue
        srai = template[0]
        if srai.tag != "srai" or (srai.tail or "").strip():
            continue
        pattern, target = _literal(category.find("pattern")), _literal(srai)
        if pattern and target and pattern != target:
            pairs.append((pattern, target))
    return pairs


def _shape(pattern: str, target: str) -> tuple[str, str]:
    shared = set(pattern.split()) & set(target.split())
    blank = lambda text: " ".join("_" if w in shared else w for w in text.split())  # noqa: E731
    return blank(pattern), blank(target)


def aiml_paraphrase_rows(paths: Iterable[Path], per_shape: int = PER_SHAPE) -> list[Row]:
    """Paraphrase rows ``(pattern, target, "aiml/<file stem>")`` of 2 to ``MAX_WORDS`` words
    each, in file order, deduplicated, at most ``per_shape`` per shape."""
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    shapes: Counter[tuple[str, str]] = Counter()
    for path in sorted(paths):
        for pattern, target in srai_pairs(path):
            words = (len(pattern.split()), len(target.split()))
            if min(words) < 2 or max(words) > MAX_WORDS or (pattern, target) in seen:
                continue
            shape = _shape(pattern, target)
            if shapes[shape] >= per_shape:
                continue
            shapes[shape] += 1
            seen.add((pattern, target))
            rows.append((pattern, target, f"aiml/{path.stem}"))
    return rows
