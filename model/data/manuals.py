"""Extract English -> Simplified Chinese pairs from Debian manuals (DocBook HTML).

The English and Chinese builds of a manual (debian-reference, maint-guide, debian-faq,
debian-handbook, installation-guide) come from the same DocBook sources through po4a, so a
page has the same sequence of block elements in both languages. Blocks are aligned by
matching the tag sequences (``difflib``) and kept where the tags agree; the usual translation
filters (length ratio, CJK presence) then remove misaligned or untranslated blocks.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from model.data.clean import clean_plain
from model.data.htmltext import Attrs, Block, extract_blocks, read_markup
from model.data.readers import Row
from model.data.translation import clean_rows

_BLOCK_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "td", "th", "li", "caption"}
)
_SKIP_TAGS = frozenset({"script", "style", "head", "pre", "noscript"})
_SKIP_CLASSES = frozenset(
    {
        "navheader",
        "navfooter",
        "toc",
        "list-of-tables",
        "list-of-figures",
        "list-of-examples",
        "indexterm",
        "programlisting",
        "screen",
        "index",
        "revhistory",
    }
)
_HEADING_NUMBER = re.compile(
    r"^(?:(?:chapter|appendix|section)\s+)?(?:[A-Z]|\d+)(?:\.\d+)*\.?\s+"
    r"|^第\s*[\d一二三四五六七八九十]+\s*[章节部]\s*"
    r"|^附录\s*[A-Z]\.?\s*",
    re.IGNORECASE,
)


_FOOTNOTE_REF = re.compile(r"\s*\[\d{1,3}\]")


def clean_manual_text(text: str) -> str:
    """Plain-text cleaning plus removal of footnote references such as ``[93]``."""
    return clean_plain(_FOOTNOTE_REF.sub("", text))


def _classes(attrs: Attrs) -> set[str]:
    return set(attrs.get("class", "").split())


def _select(tag: str, attrs: Attrs) -> str | None:
    """Prose blocks: paragraphs (``<p>``, ``<div class="para">``), headings, cells, terms."""
    if tag in _BLOCK_TAGS or (tag == "div" and "para" in _classes(attrs)):
        return "p" if tag == "div" else tag
    return None


def _skip(tag: str, attrs: Attrs) -> bool:
    """Navigation, tables of contents, code listings and scripts."""
    return tag in _SKIP_TAGS or bool(_classes(attrs) & _SKIP_CLASSES)


def strip_heading_number(text: str) -> str:
    """``2.1.3. Title`` -> ``Title``; ``第 1 章 定义`` -> ``定义``."""
    return _HEADING_NUMBER.sub("", text, count=1).strip()


def page_blocks(path: Path) -> list[Block]:
    """Prose blocks of one manual page, heading numbers removed."""
    blocks = extract_blocks(read_markup(path), _select, _skip)
    for block in blocks:
        if block.tag.startswith("h"):
            block.text = strip_heading_number(block.text)
    return blocks


def align_blocks(en: list[Block], zh: list[Block]) -> Iterator[tuple[str, str]]:
    """Pair blocks of two language versions where their tag sequences match."""
    matcher = difflib.SequenceMatcher(
        None, [b.key for b in en], [b.key for b in zh], autojunk=False
    )
    for match in matcher.get_matching_blocks():
        for k in range(match.size):
            en_text, zh_text = en[match.a + k].text, zh[match.b + k].text
            if en_text and zh_text:
                yield en_text, zh_text


def pair_pages(
    en_dir: Path, zh_dir: Path, en_suffix: str, zh_suffix: str
) -> list[tuple[Path, Path]]:
    """Pages ``<stem><en_suffix>`` in ``en_dir`` with a ``<stem><zh_suffix>`` twin in ``zh_dir``."""
    pairs = []
    for en_path in sorted(Path(en_dir).glob(f"*{en_suffix}")):
        stem = en_path.name[: -len(en_suffix)]
        zh_path = Path(zh_dir) / f"{stem}{zh_suffix}"
        if zh_path.is_file():
            pairs.append((en_path, zh_path))
    return pairs


def raw_manual_rows(
    manual: str, pages: Iterable[tuple[Path, Path]]
) -> Iterator[tuple[str, str, str]]:
    """``(en, zh, manual/page)`` rows for aligned blocks of every page pair."""
    for en_path, zh_path in pages:
        group = f"{manual}/{en_path.name.split('.')[0]}"
        for en_text, zh_text in align_blocks(page_blocks(en_path), page_blocks(zh_path)):
            yield en_text, zh_text, group


def extract_manuals(manuals: Iterable[tuple[str, list[tuple[Path, Path]]]]) -> list[Row]:
    """Clean, filtered, de-duplicated rows for several manuals.

    ``manuals`` yields ``(manual name, [(english page, chinese page), ...])``.
    """

    def _all() -> Iterator[tuple[str, str, str]]:
        for name, pages in manuals:
            yield from raw_manual_rows(name, pages)

    return clean_rows(_all(), cleaner=clean_manual_text)
