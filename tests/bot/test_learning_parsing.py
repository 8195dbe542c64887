"""The small pure pieces of the learning loop: parsing and figures."""

from __future__ import annotations

import pytest

from bot.handlers.keyboards import parse_forget, parse_rating, parse_review
from bot.services.insights import percentiles
from bot.services.learning_loop import model_input, parse_teach


@pytest.mark.parametrize(("argument", "expected"), [
    ("Who? | Mara.", ("Who?", "Mara.")),
    ("  spaced   out  question |  an   answer ", ("spaced out question", "an answer")),
    ("a | b | c", ("a", "b | c")),  # the first bar splits; answers may contain bars
    ("谁维护这个机器人? | Mara。", ("谁维护这个机器人?", "Mara。")),
    ("no bar at all", None), ("| answer", None), ("question |", None), ("", None),
])
def test_parse_teach(argument: str, expected: tuple[str, str] | None) -> None:
    assert parse_teach(argument) == expected


@pytest.mark.parametrize(("text", "command", "expected"), [
    ("/ask who made you?", "ask", "who made you?"),
    ("/ask@rnn_bot who made you?", "ask", "who made you?"),
    ("/translate zh good morning", "translate", "good morning"),
    ("@rnn_bot, who made you?", None, "who made you?"),
    ("who made you?", None, "who made you?"),
    (None, None, ""),
])
def test_model_input(text: str | None, command: str | None, expected: str) -> None:
    assert model_input(text, command, "rnn_bot") == expected


def test_callback_data() -> None:
    assert (parse_rating("fb:+"), parse_rating("fb:-"), parse_rating("fb:x")) == (1, -1, None)
    assert parse_review("rv:a:12:3") == ("a", 12, 3)
    assert parse_review("rv:n:4") == ("n", None, 4)
    assert parse_review("rv:a:x:3") is None and parse_review("rv:z:1:1") is None
    assert parse_forget("fm:yes:42") == (True, 42) and parse_forget("fm:no:42") == (False, 42)
    assert parse_forget("fm:maybe:42") is None and parse_forget("fm:yes:me") is None


def test_percentiles() -> None:
    assert percentiles([]) == {}
    assert percentiles([7.0]) == {"p50": 7.0, "p90": 7.0, "p99": 7.0}
    values = [float(v) for v in range(1, 101)]
    found = percentiles(values)
    assert found["p50"] == pytest.approx(50.5) and found["p90"] == pytest.approx(90.1)
    assert 99 <= found["p99"] <= 100
