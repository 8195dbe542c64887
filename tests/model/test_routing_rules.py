"""The one routing rule set: linear time on crafted text, and RE2 matching what Python's re did."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable

import pytest
import re2

from model import routing_rules
from model.routing_rules import (
    extract_summary_text,
    extract_translation,
    route_by_rules,
    target_language,
)
from model.tokenizer import WHITESPACE, mask_placeholders, normalize

# Each took seconds to minutes with Python's backtracking re (the first 15 s, cubic in the
# run of spaces; "%000..." 0.7 s per 4,096 characters).
CRAFTED = {
    "spaces after translate": "translate" + " " * 1000 + "x",
    "4096 spaces after translate": "translate" + " " * 4086 + "x",
    "to to to": "translate " + "to " * 1360,
    "翻译成 run": "早上好" + "翻译成" * 1360,
    "printf zeros": "%0" + "0" * 4094,
    "nbsp and newlines": "translate" + "\u00a0\n" * 2040 + "x",
}
WORK: dict[str, Callable[[str], object]] = {
    "route_by_rules": route_by_rules,
    "extract_translation": extract_translation,
    "extract_summary_text": extract_summary_text,
    "mask_placeholders": mask_placeholders,
}


@pytest.mark.parametrize("name", list(CRAFTED))
@pytest.mark.parametrize("work", list(WORK))
def test_crafted_text_is_handled_in_milliseconds(name: str, work: str) -> None:
    text = CRAFTED[name]
    started = time.perf_counter()
    WORK[work](text)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"{work} took {elapsed:.2f} s on {name!r}"


def test_the_issue_examples_route_as_before() -> None:
    text = "translate" + " " * 1000 + "x"  # no language named, no colon: chat, as before
    assert route_by_rules(text) == routing_rules.Route("chat", text)
    assert mask_placeholders("%0" + "0" * 4094 + "d")[1] == ["%0" + "0" * 4094 + "d"]


def _every_character() -> str:
    return "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def test_whitespace_class_is_pythons() -> None:
    everything = _every_character()
    assert re2.findall(f"[{WHITESPACE}]", everything) == re.findall(r"\s", everything)
    assert normalize("a\u00a0\u3000b\u2028 c\x1c") == "a b c"


def test_shadow_puts_word_boundaries_where_python_does() -> None:
    everything = _every_character()
    assert re.findall(r"\w", everything) == [c for c in everything if c.isalnum() or c == "_"]
    python, ascii_rule = re.compile(r"\b"), re2.compile(r"\b")
    for text in ("说what is it", "éto english", "what说", "tr en", "to english!", "x_to zh"):
        shadow = routing_rules._shadow(text)
        assert len(shadow) == len(text)
        assert ([i for i in range(len(text) + 1) if python.match(text, i)]
                == [i for i in range(len(text) + 1) if ascii_rule.match(shadow, i)])


@pytest.mark.parametrize(("text", "lang"), [
    ("说to english", "zh"),  # no word boundary between 说 and "to" (Python's \b): not named
    ("说 to english", "en"),
    ("翻译成英文", "en"),
])
def test_target_language_word_boundaries(text: str, lang: str) -> None:
    assert target_language(text, "good") == lang


@pytest.mark.parametrize(("text", "payload"), [
    ("translate 'it's fine' to chinese", "it's fine"),  # 'it' is followed by a letter
    ("translate 'a \"b\" c' please", "a \"b\" c"),  # the single quotes open first
    ("say “保存” in english", "保存"),
    ("don't translate 'open' into chinese", "open"),  # an apostrophe is no opening quote
])
def test_quoted_payloads(text: str, payload: str) -> None:
    assert extract_translation(text)[0] == payload


@pytest.mark.parametrize(("text", "body"), [
    ("summarize pleased customers wrote this", "pleased customers wrote this"),
    ("summarize please: the text", "the text"),
    ("summarize pleasex y", "pleasex y"),
    ("总结了一下", "总结了一下"),  # 总结 is followed by a word character: no keyword
])
def test_summary_keyword_is_a_whole_word(text: str, body: str) -> None:
    assert extract_summary_text(text) == body


def test_language_names_are_one_table() -> None:
    assert route_by_rules("translate to eng: hi") == routing_rules.Route("translate", "hi", "en")
    assert route_by_rules("翻译成简体中文：good").target == "zh"
    assert extract_translation("translate to eng: hi") == ("hi", "en")
