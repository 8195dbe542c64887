"""Extract English summarization pairs (long text -> one-line summary).

* Debian package descriptions from an APT ``Translation-en`` index: the long description
  (paragraphs joined, bullet markers dropped) -> the one-line synopsis.
* Python docstrings read with :mod:`ast` (no import): the docstring body -> its first line.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import re2

from model.data.clean import (
    clean_plain,
    normalize_key,
    truncate_words,
    word_count,
    zh_length,
)
from model.data.readers import Row

MIN_DESCRIPTION_WORDS = 15
MAX_DESCRIPTION_WORDS = 120
DEDUPE_PREFIX_WORDS = 12
MIN_SYNOPSIS_WORDS = 2

_BULLET = re.compile(r"^\s*(?:[*+\-o•·]|\d+[.)]|[a-z][.)])\s+")
_ENDS_SENTENCE = re.compile(r"[.!?:;,]$")


@dataclass(frozen=True)
class Description:
    """One record of a ``Translation-en`` index."""

    package: str
    synopsis: str
    body: list[str]  # raw continuation lines, leading space removed


# --- Translation-en ----------------------------------------------------------------------------


def parse_translation_index(lines: Iterable[str]) -> Iterator[Description]:
    """Parse deb822 records with ``Package`` and ``Description-en`` fields."""
    package = synopsis = ""
    body: list[str] = []
    in_description = False
    for raw in [*lines, ""]:
        line = raw.rstrip("\n")
        if not line.strip():
            if package and synopsis:
                yield Description(package, synopsis, body)
            package, synopsis, body, in_description = "", "", [], False
        elif line.startswith((" ", "\t")):
            if in_description:
                body.append(line[1:])
        else:
            field, _, value = line.partition(":")
            in_description = field.startswith("Description")
            if field == "Package":
                package = value.strip()
            elif in_description:
                synopsis = value.strip()


def _paragraphs(body: list[str]) -> list[list[str]]:
    """Split continuation lines at `` .`` separators."""
    paragraphs: list[list[str]] = [[]]
    for line in body:
        if line.strip() == ".":
            paragraphs.append([])
        else:
            paragraphs[-1].append(line)
    return [p for p in paragraphs if any(x.strip() for x in p)]


def _paragraph_text(lines: list[str]) -> str:
    """Join one paragraph; bullet items lose their marker and get a closing ``;``/``.``."""
    items: list[str] = []
    bullets: list[bool] = []
    for line in lines:
        if _BULLET.match(line):
            items.append(_BULLET.sub("", line, count=1).strip())
            bullets.append(True)
        elif items and bullets[-1] and line.startswith("   "):
            items[-1] += " " + line.strip()  # continuation of a bullet item
        else:
            items.append(line.strip())
            bullets.append(False)
    out = []
    for idx, (item, bullet) in enumerate(zip(items, bullets, strict=True)):
        last_of_run = idx + 1 == len(items) or not bullets[idx + 1]
        if bullet and item and not _ENDS_SENTENCE.search(item):
            item += "." if last_of_run else ";"
        out.append(item)
    return " ".join(out)


def description_text(body: list[str]) -> str:
    """The long description as one line of prose."""
    return clean_plain(" ".join(_paragraph_text(p) for p in _paragraphs(body)))


_STEM_PREFIXES = (
    "lib",
    "python3-",
    "python-",
    "node-",
    "ruby-",
    "r-cran-",
    "golang-",
    "php-",
    "lua-",
    "perl-",
    "gir1.2-",
    "fonts-",
    "texlive-",
    "xfonts-",
)
_STEM_SUFFIXES = (
    "-dev",
    "-doc",
    "-dbg",
    "-dbgsym",
    "-common",
    "-data",
    "-bin",
    "-utils",
    "-tools",
    "-examples",
    "-perl",
    "-java",
    "-plugin",
    "-plugins",
    "-runtime",
    "-static",
    "-headers",
    "-l10n",
    "-locales",
    "-i18n",
)
# RE2: linear time (with re this nested repetition backtracks exponentially on a long run of
# digits and dots); \p{Nd} is Python's \d, and $ is the end (package names have no newline).
_TRAILING_VERSION = re2.compile(r"(?:[-.]?\p{Nd}+(?:\.\p{Nd}+)*[a-z]?)+$")


def package_group(package: str) -> str:
    """Source-ish stem of a binary package name so related packages share a split.

    ``libssl-dev`` / ``libssl3`` -> ``ssl``; ``python3-numpy`` -> ``numpy``;
    ``gcc-12-locales`` -> ``gcc``.
    """
    stem = package.lower()
    changed = True
    while changed:
        changed = False
        for suffix in _STEM_SUFFIXES:
            if stem.endswith(suffix) and len(stem) > len(suffix):
                stem, changed = stem[: -len(suffix)], True
        trimmed = _TRAILING_VERSION.sub("", stem).rstrip("-.+")
        if trimmed and trimmed != stem:
            stem, changed = trimmed, True
    for prefix in _STEM_PREFIXES:
        if stem.startswith(prefix) and len(stem) > len(prefix) + 1:
            stem = stem[len(prefix) :]
            break
    stem = _TRAILING_VERSION.sub("", stem).rstrip("-.+") or stem
    return stem or package


def _without_name(text: str, package: str) -> str:
    """Normalized text with the package name (and its stem) removed, for near-duplicate keys."""
    key = normalize_key(text)
    for name in sorted({package.lower(), package_group(package)}, key=len, reverse=True):
        if len(name) > 1:
            key = key.replace(name, " ")
    return " ".join(key.split())


def description_rows(records: Iterable[Description]) -> list[Row]:
    """Clean, filter and near-duplicate-filter descriptions; group = :func:`package_group`.

    A description is dropped when it has fewer than 15 words, when it is identical to an
    earlier one once the package name is removed, or when its first 12 words repeat an earlier
    description's. Bodies are capped at 120 words.
    """
    seen_bodies: set[str] = set()
    seen_prefixes: set[str] = set()
    seen_packages: set[str] = set()
    rows: list[Row] = []
    for record in records:
        if record.package in seen_packages:
            continue
        seen_packages.add(record.package)
        text = description_text(record.body)
        synopsis = clean_plain(record.synopsis)
        if word_count(text) < MIN_DESCRIPTION_WORDS or word_count(synopsis) < MIN_SYNOPSIS_WORDS:
            continue
        body_key = _without_name(text, record.package)
        prefix_key = " ".join(normalize_key(text).split()[:DEDUPE_PREFIX_WORDS])
        if body_key in seen_bodies or prefix_key in seen_prefixes:
            continue
        seen_bodies.add(body_key)
        seen_prefixes.add(prefix_key)
        rows.append(
            (truncate_words(text, MAX_DESCRIPTION_WORDS), synopsis, package_group(record.package))
        )
    return rows


def read_translation_files(paths: Iterable[Path], chinese: bool = False) -> list[Row]:
    """:func:`description_rows` (``chinese``: :func:`zh_description_rows`) over decompressed
    ``Translation-en`` (``Translation-zh_CN``) files, in order."""

    def _records() -> Iterator[Description]:
        for path in paths:
            with Path(path).open(encoding="utf-8", errors="replace") as handle:
                yield from parse_translation_index(handle)

    return zh_description_rows(_records()) if chinese else description_rows(_records())


MIN_ZH_DESCRIPTION = 30  # zh_length units: one per ideograph, one per Latin word
MAX_ZH_DESCRIPTION = 200
MIN_ZH_SYNOPSIS = 3
DEDUPE_PREFIX_ZH = 24


def zh_description_rows(records: Iterable[Description]) -> list[Row]:
    """:func:`description_rows` for ``Translation-zh_CN``: a Chinese long description -> its
    Chinese synopsis. Lengths are counted in ideographs (plus Latin words); a description or
    synopsis that is not translated (no ideograph: the index carries some English) is dropped,
    as are near-duplicates (same text without the package name, or the same first 24
    characters). Bodies are cut at the last sentence end within 200 units."""
    seen: set[str] = set()
    seen_packages: set[str] = set()
    rows: list[Row] = []
    for record in records:
        if record.package in seen_packages:
            continue
        seen_packages.add(record.package)
        text = description_text(record.body)
        synopsis = clean_plain(record.synopsis)
        if (_IDEOGRAPH.search(text) is None or _IDEOGRAPH.search(synopsis) is None
                or zh_length(text) < MIN_ZH_DESCRIPTION or zh_length(synopsis) < MIN_ZH_SYNOPSIS):
            continue
        keys = {_without_name(text, record.package), normalize_key(text)[:DEDUPE_PREFIX_ZH]}
        if keys & seen:
            continue
        seen |= keys
        rows.append((_cut_zh(text, MAX_ZH_DESCRIPTION), synopsis, package_group(record.package)))
    return rows


_IDEOGRAPH = re2.compile(r"[\x{4e00}-\x{9fff}]")
_ZH_SENTENCE_END = re2.compile(r"[。！？；]")


def _cut_zh(text: str, limit: int) -> str:
    """``text`` up to ``limit`` zh_length units, at the last sentence end inside when any."""
    if zh_length(text) <= limit:
        return text
    end = len(text)
    while end > 0 and zh_length(text[:end]) > limit:
        end = max(end - 20, 0)
    head = text[:end]
    stops = [m.end() for m in _ZH_SENTENCE_END.finditer(head)]
    return head[: stops[-1]] if stops else head


# --- docstrings --------------------------------------------------------------------------------

MIN_DOC_BODY_WORDS = 12
MAX_DOC_SUMMARY_WORDS = 30
MIN_DOC_SUMMARY_WORDS = 3
MAX_SOURCE_BYTES = 400_000

_SECTION = re.compile(
    r"^\s*(?:Args|Arguments|Parameters|Params|Returns?|Yields?|Raises|Examples?|Notes?|"
    r"Attributes|Keyword Arguments|Kwargs|See Also|References|Warnings?|Usage|Todo|Methods|"
    r"Properties|Call arguments|Input shape|Output shape|Example usage)\s*:?\s*$"
    r"|^\s*[-=~^]{3,}\s*$|^\s*(?:>>>|\.\. |:param|:type|:return|:rtype|:raises|@param|@return)",
    re.IGNORECASE,
)
_SKIP_DIRS = frozenset({"tests", "test", "testing", "__pycache__", "_vendor", "vendor", "examples"})


def docstring_summary_pair(docstring: str) -> tuple[str, str] | None:
    """``(body, first line)`` of a docstring, or ``None`` when unusable.

    The body is the prose after the summary paragraph, up to the first section header
    (``Args:``, ``Returns:``, a reST underline, a doctest...).
    """
    lines = docstring.expandtabs().strip().splitlines()
    if len(lines) < 3:
        return None
    summary_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    summary = clean_plain(" ".join(lines[:summary_end]))
    body_lines: list[str] = []
    for line in lines[summary_end + 1 :]:
        if _SECTION.match(line):
            break
        body_lines.append(line)
    body = clean_plain(" ".join(body_lines))
    if not MIN_DOC_SUMMARY_WORDS <= word_count(summary) <= MAX_DOC_SUMMARY_WORDS:
        return None
    if word_count(body) < MIN_DOC_BODY_WORDS or "`" * 3 in body:
        return None
    return truncate_words(body, MAX_DESCRIPTION_WORDS), summary


def module_docstrings(source: str) -> Iterator[str]:
    """Docstrings of a module and of all its classes and functions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield doc


def python_files(package_dir: Path) -> list[Path]:
    """``.py`` files of a package, skipping tests, vendored code and very large files."""
    files = []
    for path in sorted(Path(package_dir).rglob("*.py")):
        rel = path.relative_to(package_dir).parts
        if _SKIP_DIRS & set(rel[:-1]) or path.name.startswith("test_"):
            continue
        if path.stat().st_size <= MAX_SOURCE_BYTES:
            files.append(path)
    return files


def docstring_rows(packages: Iterable[tuple[str, Path]]) -> list[Row]:
    """Docstring pairs of several packages; ``packages`` yields ``(top-level name, path)``.

    A path may be a package directory or a single module file. Exact duplicate bodies are
    kept once.
    """
    seen: set[str] = set()
    rows: list[Row] = []
    for name, root in packages:
        files = [Path(root)] if Path(root).is_file() else python_files(Path(root))
        for path in files:
            try:
                docs = list(module_docstrings(path.read_text(encoding="utf-8")))
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError, RecursionError):
                continue
            for doc in docs:
                pair = docstring_summary_pair(doc)
                if pair is None:
                    continue
                key = normalize_key(pair[0])
                if key not in seen:
                    seen.add(key)
                    rows.append((pair[0], pair[1], name))
    return rows
