"""Messages in both languages, and splitting at Telegram's limit."""

from __future__ import annotations

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from bot.handlers.outgoing import split_text
from bot.texts import COMMAND_MENU, MESSAGES, pick_language, say


def test_every_message_exists_in_both_languages_with_the_same_placeholders() -> None:
    for key, variants in MESSAGES.items():
        assert set(variants) == {"en", "zh"}, key
        fields = [{f for _, f, _, _ in string.Formatter().parse(v) if f} for v in variants.values()]
        assert fields[0] == fields[1], key
    for name, variants in COMMAND_MENU.items():
        assert re.fullmatch(r"[a-z]{1,32}", name) and set(variants) == {"en", "zh"}


def test_language_choice() -> None:
    assert pick_language("zh", "en", "en") == "zh"
    assert pick_language(None, "zh-hant", "en") == "zh"
    assert pick_language(None, "de", "zh") == "zh"
    assert pick_language(None, None, "en") == "en"
    assert say("fr", "not_sure") == "I'm not sure about that."


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_split_prefers_line_breaks() -> None:
    text = "\n".join(["a" * 3000, "b" * 3000, "c" * 10])
    pieces = split_text(text)
    assert pieces == ["a" * 3000, "b" * 3000 + "\n" + "c" * 10]


def test_split_counts_utf16_units() -> None:
    pieces = split_text("😀" * 3000)  # 2 UTF-16 units each
    assert [utf16(p) for p in pieces] == [4096, 1904]


@given(st.text(min_size=1, max_size=9000))
def test_split_never_exceeds_the_limit_or_loses_text(text: str) -> None:
    pieces = split_text(text, limit=1000)
    assert all(0 < utf16(p) <= 1000 for p in pieces)
    squeeze = re.compile(r"\s+")
    assert squeeze.sub("", "".join(pieces)) == squeeze.sub("", text) or not text.strip()
