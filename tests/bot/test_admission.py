"""The length cap at admission: the bot reads at most MAX_INPUT_CHARS of a message (after its
command word), says so, and stores the message as sent."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from pathlib import Path

import pytest

from bot.console import chat_in_terminal
from bot.services.turns import cap_input
from bot.texts import say
from tests.bot.conftest import HarnessFactory, make_settings
from tests.bot.fakes import FakeModel, FakeModels, Person

ALICE = Person(101, "Alice")
NOTE_30 = "(Your text was long; I read the first 30 characters.)"


@pytest.mark.parametrize(("text", "admitted", "cut"), [
    ("hello", "hello", False),
    ("a" * 30, "a" * 30, False),
    ("a" * 31, "a" * 30, True),
    ("/translate " + "b" * 30, "/translate " + "b" * 30, False),  # the command word is extra
    ("/translate " + "b" * 40, "/translate " + "b" * 30, True),
    ("/translate@my_bot zh " + "b" * 40, "/translate@my_bot " + "zh " + "b" * 27, True),
    ("/" + "c" * 100, "/" + "c" * 29, True),  # no command word: cut like any text
    ("x" * 100_000, "x" * 30, True),
])
def test_cap_input(text: str, admitted: str, cut: bool) -> None:
    assert cap_input(text, 30) == (admitted, cut)


async def test_long_free_text_is_read_up_to_the_limit(make_harness: HarnessFactory) -> None:
    seen: list[str] = []
    models = FakeModels.default()
    models.models["intent"] = FakeModel("intent", respond=lambda text: seen.append(text) or "chat")
    harness = await make_harness(models, max_input_chars=30, preload_tasks=["intent"])
    for _ in range(100):  # the model loads in the background
        if harness.services.inference.ready("intent"):
            break
        await asyncio.sleep(0.02)
    text = "translate" + " " * 4000 + "x"
    [reply] = await harness.send(ALICE, text)
    assert reply == f"chat:translate\n\n{NOTE_30}"
    assert seen[-1] == "translate" + " " * 21  # the intent model got the admitted text only
    [(stored,)] = await harness.rows("SELECT text FROM messages WHERE direction='in'")
    assert stored == text  # stored as sent


async def test_short_text_gets_no_note(make_harness: HarnessFactory) -> None:
    harness = await make_harness(max_input_chars=30)
    assert await harness.send(ALICE, "translate to chinese: good") == ["translate-en-zh:good"]


async def test_the_terminal_reads_up_to_the_limit_too(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = make_settings(tmp_path, telegram_bot_token=None, max_input_chars=30)
    line = "/summarize " + "word " * 2000
    await chat_in_terminal(settings, io.StringIO(line + "\n"), out, FakeModels.default())
    assert f"summarize:{'word ' * 6}".strip() + f"\n\n{NOTE_30}" in out.getvalue()
    with sqlite3.connect(tmp_path / "bot.sqlite3") as connection:
        [(stored,)] = connection.execute(
            "SELECT text FROM messages WHERE direction='in'").fetchall()
    assert stored == line.strip()


async def test_only_a_model_answer_gets_the_note(make_harness: HarnessFactory) -> None:
    harness = await make_harness(max_input_chars=30)
    photo = {"photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
             "caption": "c" * 100}
    [reply] = await harness.send(ALICE, None, extra=photo)
    assert reply == say("en", "only_text")
