"""Cleaning functions."""

from __future__ import annotations

import pytest

from model.data.clean import (
    clean_ui_text,
    collapse_whitespace,
    has_cjk,
    is_placeholder_only,
    length_ratio_ok,
    normalize_key,
    strip_accelerators,
    strip_markup,
    truncate_words,
    unescape_entities,
)
from model.data.translation import accept_pair, clean_pair, is_key_like


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("_File", "File"),
        ("Save _As...", "Save As..."),
        ("Mo_ve", "Move"),
        ("&Quit", "Quit"),
        ("Fish && Chips", "Fish & Chips"),
        ("Fish & Chips", "Fish & Chips"),
        ("~Tools", "Tools"),
        ("~/.config", "~/.config"),
        ("文件(_F)", "文件"),
        ("打开(&O)...", "打开..."),
        ("阈值（_T）：", "阈值："),
        ("max_size", "max_size"),
        ("Hello %(user_name)s", "Hello %(user_name)s"),
        ("Open {file_name} with _Editor", "Open {file_name} with Editor"),
        ("&amp; stays", "&amp; stays"),
    ],
)
def test_strip_accelerators(raw: str, expected: str) -> None:
    assert strip_accelerators(raw) == expected


def test_strip_markup_keeps_operands() -> None:
    assert strip_markup("<b>Bold</b> and <span foreground='red'>red</span>").split() == [
        "Bold",
        "and",
        "red",
    ]
    assert strip_markup("git add <pathspec>") == "git add <pathspec>"
    assert strip_markup("a <!-- note --> b").split() == ["a", "b"]


def test_entities_and_whitespace() -> None:
    assert unescape_entities("Tom &amp; Jerry &lt;3 &#39;x&#39;") == "Tom & Jerry <3 'x'"
    assert collapse_whitespace("  a\tb\n\nc  ") == "a b c"


@pytest.mark.parametrize(
    "text",
    ["Copied %d files to %s", "%1$s of %2$s", "Hello %(name)s", "Open {0}", "Hi {name}"],
)
def test_placeholders_are_kept(text: str) -> None:
    assert clean_ui_text(text) == text
    assert not is_placeholder_only(text)


@pytest.mark.parametrize("text", ["%s: %s", "{0}", "%(count)d %%", "%1", "(%s)", "42", "..."])
def test_placeholder_only(text: str) -> None:
    assert is_placeholder_only(text)


def test_clean_ui_text_full_chain() -> None:
    assert clean_ui_text("Save <b>all</b> documents &amp;amp; _close") == (
        "Save all documents &amp; close"
    )
    assert clean_ui_text("expected %<asm%>") == "expected 'asm'"


def test_cjk_detection_and_ratio() -> None:
    assert has_cjk("打开文件") and not has_cjk("Open file")
    assert length_ratio_ok("Open the file", "打开文件")
    assert not length_ratio_ok("Open the document in a new window right now please", "打")
    assert not length_ratio_ok("Click the tab.", "")


def test_normalize_key_and_truncate() -> None:
    assert normalize_key("  Ｈｅｌｌｏ\tWORLD ") == "hello world"
    assert truncate_words("a b c d", 2) == "a b"


def test_translation_pair_filters() -> None:
    assert clean_pair("_Open", "打开(_O)") == ("Open", "打开")
    assert clean_pair("Untranslated", "Untranslated") is None  # zh side without CJK
    assert clean_pair("打开", "打开") is None  # CJK on the English side
    assert clean_pair("%s: %s", "%s：%s") is None  # placeholder-only
    assert clean_pair("translator-credits", "张三") is None
    assert clean_pair(" ".join(["word"] * 41), "很多词") is None  # too long
    assert is_key_like("STR_SAVE_DOC") and not is_key_like("Path:")
    assert accept_pair("Copied %d files", "已复制 %d 个文件")


def test_traditional_chinese_is_detected() -> None:
    from model.data.clean import looks_traditional

    assert looks_traditional("簽出文件的詳細資訊")
    assert not looks_traditional("签出文件的详细信息")
    assert not looks_traditional("打开文件")  # shared characters only
    assert clean_pair("Check out details", "簽出文件的詳細資訊") is None
