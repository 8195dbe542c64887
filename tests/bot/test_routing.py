"""The fallback routing rules for free text, and reading the intent model's output."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.commands import command_argument, parse_translate
from bot.services.inference import ModelAnswer
from bot.services.routing import (
    Route,
    _route_from_model,
    route_by_rules,
    translation_task,
    unsure_answer_goes_to_chat,
)

LONG = " ".join(["the tool reads configuration files and reports errors"] * 6)


@pytest.mark.parametrize(("text", "route"), [
    ("translate to chinese: good morning", Route("translate", "good morning", "zh")),
    ("Please translate this into English - 早上好", Route("translate", "早上好", "en")),
    ("translate good night to Chinese", Route("translate", "good night", "zh")),
    ("translate: open the file", Route("translate", "open the file", None)),
    ("把这句话翻译成英文：早上好", Route("translate", "早上好", "en")),
    ("翻译成中文：good morning", Route("translate", "good morning", "zh")),
    ("早上好翻译成英文", Route("translate", "早上好", "en")),
    ("翻译：早上好", Route("translate", "早上好", None)),
    ("tl;dr: a long story", Route("summarize", "a long story")),
    ("Summarize this: a long story", Route("summarize", "a long story")),
    ("总结一下：很长的故事", Route("summarize", "很长的故事")),
    (LONG, Route("summarize", LONG)),
    ("what is debian?", Route("qa", "what is debian?")),
    ("How do I install a package", Route("qa", "How do I install a package")),
    ("这是什么", Route("qa", "这是什么")),
    ("hello there", Route("chat", "hello there")),
    ("你好", Route("chat", "你好")),
])
def test_rules(text: str, route: Route) -> None:
    assert route_by_rules(text) == route


def test_translation_direction() -> None:
    assert translation_task("good morning") == "translate-en-zh"
    assert translation_task("早上好") == "translate-zh-en"
    assert translation_task("早上好", "zh") == "translate-en-zh"
    assert translation_task("good", "en") == "translate-zh-en"


def answer(text: str, confidence: float = 0.8, label: str | None = None,
           target_lang: str | None = None) -> ModelAnswer:
    return ModelAnswer(text, confidence, "intent", "v1", 1.0, 1, label=label,
                       target_lang=target_lang)


def test_router_prediction_with_extraction() -> None:
    """The shape of the intent model's predictions: label, target_lang, extracted text."""
    route = _route_from_model(answer("早上好", label="translate", target_lang="en"),
                              "please say 早上好 in English", 0.6)
    assert route == Route("translate", "早上好", "en", "model", 0.8, "translate")


def test_label_only_model_gets_the_rules_extraction() -> None:
    route = _route_from_model(answer("translate"), "translate to chinese: good morning", 0.6)
    assert route == Route("translate", "good morning", "zh", "model", 0.8, "translate")


def test_unsure_intent_model_makes_it_a_question() -> None:
    route = _route_from_model(answer("hi", 0.3, label="summarize"), "hi", 0.6)
    assert route == Route("qa", "hi", None, "model", 0.3, "summarize")  # its label kept


def test_unknown_label_falls_back_to_rules() -> None:
    assert _route_from_model(answer("weather"), "hello", 0.6) == Route("chat", "hello")
    assert _route_from_model(answer("x", label="QA"), "hello", 0.6).intent == "qa"


@given(st.text(max_size=3000))
def test_rules_take_any_text(text: str) -> None:
    route = route_by_rules(text)
    assert route.intent in ("qa", "chat", "translate", "summarize")
    assert route.target in (None, "en", "zh")


@given(st.text(max_size=300))
def test_command_parsing_takes_any_text(text: str) -> None:
    target, rest = parse_translate(text)
    assert target in (None, "en", "zh") and isinstance(rest, str)
    assert isinstance(command_argument("/translate " + text), str)


@pytest.mark.parametrize(("route", "text", "to_chat"), [
    (Route("qa", "capital of France", None, "model", 0.9, "qa"), "capital of France", False),
    (Route("qa", "x", None, "model", 0.4, "qa"), "you are untidy", True),
    (Route("qa", "x", None, "model", 0.5, "chat"), "where was the first starbucks", False),
    (Route("qa", "x", None, "model", 0.5, "chat"), "你喜欢什么", False),  # 什么: a question
    (Route("qa", "x", None, "model", 0.5, "chat"), "you behave like a kid", True),
    (Route("qa", "who wrote Vineland?"), "who wrote Vineland?", False),  # the rules' question
])
def test_only_what_is_no_question_goes_to_chat_when_qa_is_unsure(
    route: Route, text: str, to_chat: bool
) -> None:
    assert unsure_answer_goes_to_chat(route, text, 0.6) is to_chat
