"""Cleaning and filtering of English -> Simplified Chinese pairs, shared by all translation
extractors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from model.data.clean import (
    clean_ui_text,
    has_cjk,
    has_cjk_or_fullwidth,
    is_placeholder_only,
    length_ratio_ok,
    looks_traditional,
    word_count,
)
from model.data.readers import Row

MIN_EN_WORDS = 1
MAX_EN_WORDS = 40

# msgids that are keys or metadata rather than text
_KEY_LIKE = re.compile(
    r"^(?:translator[-_ ]credits?|translator[-_ ]?comments?|[\w.-]+:[\w.-]+(?::[\w.-]+)*"
    r"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z]+(?:_[a-z0-9]+)+|gtk-\w+|default:\w+)$",
    re.IGNORECASE,
)


def is_key_like(text: str) -> bool:
    """True for identifiers such as ``translator-credits``, ``STR_FOO`` or ``calendar:week``."""
    return _KEY_LIKE.match(text.strip()) is not None


def accept_pair(
    en: str, zh: str, min_words: int = MIN_EN_WORDS, max_words: int = MAX_EN_WORDS
) -> bool:
    """Filter for already-cleaned pairs (see module docs of :mod:`model.data.clean`)."""
    if not en or not zh or is_key_like(en):
        return False
    if is_placeholder_only(en) or is_placeholder_only(zh):
        return False
    if has_cjk_or_fullwidth(en) or not has_cjk(zh) or looks_traditional(zh):
        return False
    if not min_words <= word_count(en) <= max_words:
        return False
    return length_ratio_ok(en, zh)


def clean_pair(
    en: str, zh: str, cleaner: Callable[[str], str] = clean_ui_text
) -> tuple[str, str] | None:
    """Clean both sides and return the pair, or ``None`` if it is filtered out."""
    en_clean, zh_clean = cleaner(en), cleaner(zh)
    return (en_clean, zh_clean) if accept_pair(en_clean, zh_clean) else None


def clean_rows(
    raw: Iterable[tuple[str, str, str]], cleaner: Callable[[str], str] = clean_ui_text
) -> list[Row]:
    """Clean and filter raw ``(en, zh, group)`` rows, dropping exact duplicate pairs
    (the first occurrence, with its group, is kept)."""
    seen: set[tuple[str, str]] = set()
    rows: list[Row] = []
    for en, zh, group in raw:
        pair = clean_pair(en, zh, cleaner)
        if pair is None or pair in seen:
            continue
        seen.add(pair)
        rows.append((pair[0], pair[1], group))
    return rows
