"""Everyday translation data: CC-CEDICT rows, aligned chatterbot files, and the held-out
everyday sets that no training split may contain."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.data import build
from model.data.clean import has_cjk
from model.data.everyday import (
    HELDOUT_FILES,
    cedict_entries,
    cedict_rows,
    chatterbot_aligned_rows,
    drop_heldout,
    heldout_keys,
    hsk_words,
    match_key,
)
from model.data.readers import read_tsv, read_tsv_rows
from model.data.sources import Fetched, SourceSpec

TEST_SET, DEV_SET = HELDOUT_FILES


def test_match_key_ignores_case_spaces_and_punctuation() -> None:
    assert match_key("Good morning, everyone!") == match_key("good morning everyone")
    assert match_key("大家早上好！") == match_key("大家早上好")
    assert match_key("See you tomorrow.") != match_key("See you today.")


def test_cedict_entries_clean_senses(fixtures: Path) -> None:
    entries = {simp: senses for simp, _p, senses in cedict_entries(fixtures / "cedict" /
                                                                    "cedict_tiny.txt")}
    assert entries["吃饭"] == ["have a meal", "eat"]  # "to" dropped
    assert entries["咖啡"] == ["coffee"]  # note and classifier dropped
    assert entries["干杯"] == ["drink a toast", "Cheers!"]  # "lit." gloss dropped
    assert entries["明天见"][0] == "see you tomorrow"
    assert "3Q" not in entries  # Latin/digits in the headword


def test_cedict_rows_prefer_exclamations_and_skip_proper_nouns(fixtures: Path) -> None:
    rows = cedict_rows(fixtures / "cedict" / "cedict_tiny.txt")
    by_zh = {zh: en for en, zh, group in rows}
    assert by_zh["干杯"] == "Cheers!"
    assert by_zh["早上好"] == "Good morning!"
    assert "北京" not in by_zh  # capitalised pinyin: a proper noun
    assert {group for _e, _z, group in rows} == {"cedict"}


def test_hsk_words_skip_headers(fixtures: Path) -> None:
    assert hsk_words([fixtures / "cedict" / "hsk_tiny.txt"]) == {"谢谢", "咖啡", "早"}


def test_chatterbot_aligned_rows_pair_only_same_shaped_files(fixtures: Path) -> None:
    root = fixtures / "chatterbot-aligned"
    rows = chatterbot_aligned_rows(root / "english", root / "chinese")
    assert [(en, zh) for en, zh, _g in rows] == [
        ("Hello", "你好"), ("Hi", "嗨"), ("How are you doing?", "你好吗?"),
        ("Very well, thanks.", "很好，谢谢."),
    ]  # humor.yml has 3 English lines against 2 Chinese: not aligned, left out
    assert {g for _e, _z, g in rows} == {"chatterbot/greetings"}


def test_everyday_sets_are_hand_written_and_disjoint() -> None:
    test, dev = read_tsv(TEST_SET), read_tsv(DEV_SET)
    assert len(test) >= 150 and len(dev) >= 20
    for en, zh in test + dev:
        assert not has_cjk(en) and has_cjk(zh)
    test_keys = {match_key(s) for pair in test for s in pair}
    assert not test_keys & {match_key(s) for pair in dev for s in pair}
    assert len({match_key(en) for en, _ in test}) == len(test)  # no duplicates


def test_drop_heldout_removes_either_side() -> None:
    keys = heldout_keys()
    rows = [("See you tomorrow!", "回头见", "g"), ("Bye", "明天见。", "g"),
            ("Open the file", "打开文件", "g")]
    assert drop_heldout(rows, keys) == [("Open the file", "打开文件", "g")]


def test_build_drops_heldout_sentences_from_translation_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source holding everyday test and dev sentences: none reaches any training file."""
    test, dev = read_tsv(TEST_SET), read_tsv(DEV_SET)
    leaked = [(en.lower().rstrip("!.?"), zh, f"doc{i}") for i, (en, zh) in enumerate(test[:5])]
    leaked += [("Thanks for everything", zh, "doc-zh") for _en, zh in dev[:1]]
    clean = [(f"Open file number {i}", f"打开第{i}号文件", f"file{i % 7}") for i in range(40)]

    def extract(_f: Fetched) -> list[tuple[str, str, str]]:
        return leaked + clean

    extra_tasks = [t for t in build.TRANSLATION_TASKS if t != "translate-en-zh"]
    monkeypatch.setattr(build, "SOURCES", (
        SourceSpec("fake-tech", "translate-en-zh", "MIT", extract),
        *(SourceSpec(f"fake-{t}", t, "MIT", extract) for t in extra_tasks),
    ))
    manifest = build.build_all(tmp_path)
    keys = heldout_keys()
    assert {"translate-tatoeba", "translate-hsk", "translate-games"} <= set(extra_tasks)
    for task in build.TRANSLATION_TASKS:
        train = read_tsv(tmp_path / manifest["tasks"][task]["splits"]["train"]["path"])
        assert train and not [p for p in train if match_key(p[0]) in keys
                              or match_key(p[1]) in keys]
    assert manifest["tasks"]["translate-everyday"]["heldout_dropped_from_train"] == len(leaked)
    # the source file itself keeps them: only the training split is filtered
    assert len(read_tsv_rows(tmp_path / "sources" / "fake-translate-everyday.tsv")) == 46


@pytest.mark.slow
def test_built_corpus_holds_no_everyday_test_sentence() -> None:
    """On the real corpus cache, when it has been built (`python -m model data build`)."""
    tasks = build.default_cache_dir() / "tasks"
    files = [tasks / t / "train.tsv" for t in build.TRANSLATION_TASKS]
    files = [f for f in files if f.is_file()]
    if not files:
        pytest.skip("corpus cache not built")
    keys = heldout_keys()
    longest = max(len(k) for k in keys)
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            for side in line.split("\t"):
                # a side much longer than any held-out key cannot match it (fast path)
                if len(side) <= 2 * longest + 20:
                    assert match_key(side) not in keys, (path, line)
