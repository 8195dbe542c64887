"""General-domain sentence sources (model/data/sentences.py) on tiny fixtures: Tatoeba with
Traditional -> Simplified conversion, the HSK example sentences and Wesnoth's catalogs."""

from __future__ import annotations

from pathlib import Path

from model.data.sentences import (
    MAX_TRANSLATIONS_PER_SENTENCE,
    hsk_sentence_rows,
    is_title_or_name,
    normalize_chinese,
    normalize_english,
    strip_context,
    tatoeba_rows,
    trad_to_simp_map,
    wesnoth_rows,
)


def test_trad_to_simp_map_skips_characters_that_are_also_simplified(fixtures: Path) -> None:
    mapping = trad_to_simp_map(fixtures / "sentences" / "cedict_ts_tiny.u8")
    assert mapping == {"們": "们", "這": "这", "試": "试"}  # 乾 stays: it is also a headword


def test_normalizers() -> None:
    assert normalize_english("Let\u2019s  go \u201chome\u201d") == 'Let\'s go "home"'
    assert normalize_chinese("今天是６月１８号，這樣", {"這": "这"}) == "今天是6月18号，这樣"


def test_tatoeba_rows_convert_dedupe_and_cap(fixtures: Path) -> None:
    root = fixtures / "sentences"
    rows = tatoeba_rows(root / "tatoeba_tiny.tsv", trad_to_simp_map(root / "cedict_ts_tiny.u8"))
    assert rows == [
        ("Let's try something.", "我们试试看！", "tatoeba"),
        ("Let's do it.", "我们试试看！", "tatoeba"),
        ("Let's try it.", "我们试试看！", "tatoeba"),
        ("Today is June 18th.", "今天是6月18号。", "tatoeba"),
    ]  # a fourth wording of one sentence, Chinese on the English side, a broken line: out
    assert MAX_TRANSLATIONS_PER_SENTENCE == 3


def test_hsk_sentence_rows(fixtures: Path) -> None:
    rows = hsk_sentence_rows(fixtures / "sentences" / "hsk_tiny.json")
    assert rows == [
        ("Hello, teacher!", "老师，您好！", "hsk1/greetings"),
        ("I'd like some coffee.", "我想喝咖啡。", "hsk1/food"),
    ]  # duplicate, missing translation, Traditional-looking Chinese, non-object: out


def test_wesnoth_context_names_and_markup() -> None:
    assert strip_context("recruit^Walking Corpse (Wolf)") == "Walking Corpse (Wolf)"
    assert strip_context("time of day^None") == "None"
    assert strip_context("x = (a+b)^2") == "x = (a+b)^2"  # not a context
    assert is_title_or_name("Honber") and is_title_or_name("Desert Castle")
    assert not is_title_or_name("Thank you, Hamel.") and not is_title_or_name("Potion of Decay")


def test_wesnoth_rows_from_a_catalog(fixtures: Path) -> None:
    root = fixtures / "sentences" / "wesnoth-1.16-tiny"
    rows = wesnoth_rows([("wesnoth-1.16-tiny", root)])
    assert [(en, zh) for en, zh, _g in rows] == [
        ("Thank you, Hamel.", "谢谢，哈梅尔。"),
        ("Walking Corpse (Wolf)", "陆行僵尸（狼）"),
        ("Very well.", "好吧。"),
        ("I don't think I can take much more of this.", "我觉得我快撑不住了。"),
        ("one gold piece", "一枚金币"),
    ]  # names and titles, the fuzzy entry and the untranslated one are left out
    assert {g for _e, _z, g in rows} == {"wesnoth-1.16-tiny/games/wesnoth/1.16/wesnoth-tiny"}
