"""Extract English -> Simplified Chinese paragraph pairs from LibreOffice help.

The Debian packages ``libreoffice-help-en-us`` and ``libreoffice-help-zh-cn`` ship the same
help pages (HTML, generated from ``.xhp`` sources) in both languages; every translatable
paragraph and heading carries the same ``par_id...`` / ``hd_id...`` id in both. Pages are paired
by relative path and paragraphs by id. Both HTML pages and ``.xhp`` sources are understood.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from model.data.clean import clean_plain
from model.data.htmltext import Attrs, extract_blocks, read_markup
from model.data.readers import Row
from model.data.translation import clean_rows

HELP_SUFFIXES = (".html", ".xhp")
_PARAGRAPH_ID = re.compile(r"^(?:par|hd)_id", re.IGNORECASE)
_BLOCK_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "paragraph", "td", "th", "li"})
_SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "head",
        "noscript",
        "header",
        "aside",  # HTML page chrome
        "caseinline",
        "bookmark",
        "comment",
        "image",
        "embedvar",
        "sort",  # xhp
    }
)


def _select(tag: str, attrs: Attrs) -> str | None:
    """Paragraphs and headings with a translation id."""
    ident = attrs.get("id", "")
    return ident if tag in _BLOCK_TAGS and _PARAGRAPH_ID.match(ident) else None


def _skip(tag: str, attrs: Attrs) -> bool:
    """Page chrome, OS-specific variants (only the default one is kept) and xhp metadata."""
    if tag in _SKIP_TAGS:
        return True
    return "hidden" in attrs and not attrs.get("id", "").startswith("default")


def help_paragraphs(path: Path) -> dict[str, str]:
    """Map paragraph id -> text for one help page; repeated ids get a ``#n`` suffix."""
    out: dict[str, str] = {}
    for block in extract_blocks(read_markup(path), _select, _skip):
        key = block.key
        n = 1
        while key in out:
            n += 1
            key = f"{block.key}#{n}"
        out[key] = block.text
    return out


def help_pages(root: Path) -> list[Path]:
    """Help pages under a language root (``.../help/en-US``), sorted, relative to it."""
    return sorted(p.relative_to(root) for p in Path(root).rglob("*") if p.suffix in HELP_SUFFIXES)


def raw_help_rows(en_root: Path, zh_root: Path) -> Iterator[tuple[str, str, str]]:
    """``(en, zh, page)`` for every id present in both language versions of a page."""
    for rel in help_pages(en_root):
        zh_path = Path(zh_root) / rel
        if not zh_path.is_file():
            continue
        en_pars = help_paragraphs(Path(en_root) / rel)
        zh_pars = help_paragraphs(zh_path)
        group = rel.with_suffix("").as_posix()
        for key, en_text in en_pars.items():
            zh_text = zh_pars.get(key)
            if zh_text and en_text:
                yield en_text, zh_text, group


def extract_lohelp(en_root: Path, zh_root: Path) -> list[Row]:
    """Clean, filtered, de-duplicated ``(en, zh, page)`` rows."""
    return clean_rows(raw_help_rows(en_root, zh_root), cleaner=clean_plain)
