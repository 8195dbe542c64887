"""Extract English -> Simplified Chinese pairs from gettext catalogs (``.mo`` / ``.po``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from model.data.readers import Row
from model.data.translation import clean_rows

ZH_CN_DIRS = frozenset(
    {"zh_cn", "zh_cn.utf-8", "zh_cn.utf8", "zh-cn", "zh_hans", "zh-hans", "zh_hans_cn"}
)


def is_zh_cn_catalog(path: Path) -> bool:
    """A ``.mo``/``.po`` file inside ``<zh_CN-like dir>/LC_MESSAGES/``."""
    parts = [p.lower() for p in path.parts]
    return (
        path.suffix in {".mo", ".po"}
        and len(parts) >= 3
        and parts[-2] == "lc_messages"
        and parts[-3] in ZH_CN_DIRS
    )


def find_catalogs(root: Path) -> list[Path]:
    """Simplified-Chinese catalogs under ``root``; a ``.po`` is ignored when its ``.mo`` exists.

    Sorted, so extraction order (and hence de-duplication) is deterministic.
    """
    found = sorted(p for p in Path(root).rglob("*") if p.is_file() and is_zh_cn_catalog(p))
    compiled = {p.with_suffix("") for p in found if p.suffix == ".mo"}
    return [p for p in found if p.suffix == ".mo" or p.with_suffix("") not in compiled]


def catalog_domain(root: Path, path: Path) -> str:
    """Readable domain id: path below ``root`` without the locale directories, no suffix."""
    rel = path.relative_to(root).parts
    try:
        idx = [p.lower() for p in rel].index("lc_messages")
        parts = [*rel[: idx - 1], path.stem]
    except ValueError:
        parts = [*rel[:-1], path.stem]
    trimmed = [p for p in parts if p not in {"usr", "share", "lib", "locale", "locales"}]
    return "/".join(trimmed[-4:])


def _load_catalog(path: Path) -> Any:
    """Open a catalog with polib (imported lazily)."""
    import polib

    return polib.mofile(str(path)) if path.suffix == ".mo" else polib.pofile(str(path))


def catalog_pairs(path: Path) -> Iterator[tuple[str, str]]:
    """Translated, non-fuzzy, non-obsolete ``(msgid, msgstr)`` pairs of one catalog.

    For plural entries the singular msgid is paired with the first plural form (Chinese has
    only one).
    """
    for entry in _load_catalog(path):
        if not entry.msgid or getattr(entry, "obsolete", False) or "fuzzy" in entry.flags:
            continue
        if entry.msgid_plural:
            forms = entry.msgstr_plural or {}
            target = forms.get(0) or forms.get("0") or next(iter(forms.values()), "")
        else:
            target = entry.msgstr
        if target:
            yield entry.msgid, target


def raw_catalog_rows(package: str, root: Path) -> Iterator[tuple[str, str, str]]:
    """Raw ``(en, zh, group)`` rows for every zh_CN catalog of an unpacked package."""
    for path in find_catalogs(root):
        group = f"{package}/{catalog_domain(root, path)}"
        try:
            pairs = list(catalog_pairs(path))
        except (OSError, ValueError, UnicodeDecodeError):
            continue  # a broken catalog loses only itself
        for en, zh in pairs:
            yield en, zh, group


def extract_catalogs(packages: Iterable[tuple[str, Path]]) -> list[Row]:
    """Clean, filtered, de-duplicated rows from several unpacked packages.

    ``packages`` is an iterable of ``(package name, directory it was unpacked into)``.
    """

    def _all() -> Iterator[tuple[str, str, str]]:
        for name, root in packages:
            yield from raw_catalog_rows(name, root)

    return clean_rows(_all())
