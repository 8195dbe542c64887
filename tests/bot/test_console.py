"""The terminal chat: the same services and storage as the Telegram bot, on fake models."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from bot.console import chat_in_terminal
from tests.bot.conftest import make_settings
from tests.bot.fakes import FakeModel, FakeModels


async def run_lines(tmp_path: Path, lines: str, models: FakeModels | None = None) -> str:
    out = io.StringIO()
    settings = make_settings(tmp_path, telegram_bot_token=None)
    await chat_in_terminal(settings, io.StringIO(lines), out, models or FakeModels.default())
    return out.getvalue()


async def test_commands_and_plain_text_reach_the_models(tmp_path: Path) -> None:
    text = await run_lines(tmp_path, "/translate hello\n/translate en 你好\n/summarize long\n"
                                     "/chat hi\nhow are you\n/quit\nnever read\n")
    assert "To go live on Telegram" in text
    for expected in ("translate-en-zh:hello\n  (translate-en-zh v-fake, confidence 0.90)",
                     "translate-zh-en:你好", "summarize:long", "chat:hi", "chat:how are you"):
        assert expected in text
    assert "never read" not in text


async def test_usage_mode_language_and_unknown(tmp_path: Path) -> None:
    text = await run_lines(tmp_path, "/translate\n/mode translate\nnice day\n/lang zh\n"
                                     "/summarize\n/nope\n\n")
    assert "Usage: /translate TEXT" in text
    assert "Mode set to translate." in text and "translate-en-zh:nice day" in text
    assert "用法:/summarize" in text and "我不认识 /nope" in text
    assert "Type a message, or /help." in text


async def test_turns_are_stored_like_telegram_messages(tmp_path: Path) -> None:
    await run_lines(tmp_path, "hello\n/help\n")
    with sqlite3.connect(tmp_path / "bot.sqlite3") as connection:
        rows = connection.execute(
            "SELECT message_id, direction, status, task FROM messages ORDER BY id").fetchall()
    assert rows == [(1, "in", "answered", None), (2, "out", "sent", "chat"),
                    (3, "in", "answered", None), (4, "out", "sent", None)]


async def test_a_failing_model_keeps_the_chat_alive(tmp_path: Path) -> None:
    broken = FakeModel("chat")
    broken.fail = RuntimeError("model missing")
    text = await run_lines(tmp_path, "hello\n/help\n", FakeModels([broken]))
    assert "Sorry, something went wrong on my side." in text and "/translate TEXT" in text
    assert "model missing" not in text
