"""The bot over HTTP in private chats: ``python -m bot`` (long polling) against the Bot API
emulator, on real small models. Routing and versions are checked in the bot's database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botapi_emulator.bot_process import LiveBot, start_live_bot

CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def bot(botapi: Any, bot_models: Path, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[LiveBot]:
    live = start_live_bot(botapi, bot_models, tmp_path_factory.mktemp("bot-private"),
                          "rnn_private_bot", 1000, typing_delay_ms=0)
    yield live
    assert live.process.stop() == 0
    assert "Traceback" not in live.process.log()


def test_start_help_and_command_menus(bot: LiveBot) -> None:
    alice, chat = bot.person("Alice")
    assert bot.reply_text(chat, alice, "/start").startswith("Hello, Alice!")
    assert "/translate en|zh TEXT" in bot.reply_text(chat, alice, "/help")
    private = bot.handle.commands({"type": "all_private_chats"})
    private_zh = bot.handle.commands({"type": "all_private_chats"}, "zh")
    group = bot.handle.commands({"type": "all_group_chats"})
    assert private is not None and private_zh is not None and group is not None
    assert [c["command"] for c in private] == ["start", "help", "ask", "translate",
                                               "summarize", "mode", "lang", "exportme",
                                               "forgetme"]
    assert private_zh[0]["description"] == "介绍"
    assert "digest" in [c["command"] for c in group]


@pytest.mark.parametrize(("command", "expected"), [
    ("/translate", "Usage: /translate TEXT"),
    ("/translate zh", "Usage: /translate TEXT"),
    ("/summarize", "Usage: /summarize TEXT"),
    ("/ask", "Usage: /ask QUESTION"),
    ("/mode upside-down", "This chat's mode is auto."),
    ("/lang klingon", "My interface language for you is en."),
    ("/digest", "/digest works in groups"),
    ("/digest 5", "/digest works in groups"),
    ("/nonsense", "I don't know /nonsense."),
])
def test_bad_arguments_get_usage_help(bot: LiveBot, command: str, expected: str) -> None:
    user, chat = bot.person("Bea")
    assert bot.reply_text(chat, user, command).startswith(expected)


@pytest.mark.parametrize(("text", "task"), [
    ("/translate one two three", "translate-en-zh"),
    ("/translate 一二三", "translate-zh-en"),
    ("/translate en 四五", "translate-zh-en"),
    ("/translate zh four five", "translate-en-zh"),
    ("/summarize alpha is a fast tool for disk work. it reads disk data and writes reports.",
     "summarize"),
    ("/ask how are you", "qa"),  # the chat model answers when there is no qa model
])
def test_commands_reach_their_model(bot: LiveBot, text: str, task: str) -> None:
    if task == "qa" and not bot.process.serves("qa"):
        task = "chat"
    user, chat = bot.person("Cy")
    sent, [reply] = bot.exchange(chat, user, text)
    assert reply["reply_to_message"]["message_id"] == sent["message_id"]  # quotes the user
    stored_task, version, stored_text = bot.stored_reply(chat.id, sent["message_id"])
    assert stored_task == task and version.startswith("v")
    assert stored_text == reply["text"] and version not in reply["text"]  # version: storage only
    if task == "translate-en-zh":
        assert CJK.search(reply["text"])
    if task == "translate-zh-en":
        assert not CJK.search(reply["text"])


@pytest.mark.parametrize(("text", "task"), [
    ("translate to chinese: six seven", "translate-en-zh"),
    ("把这句话翻译成英文：六七", "translate-zh-en"),
    ("tl;dr: gamma is a small tool for music work. it reads music data and writes reports.",
     "summarize"),
    (" ".join(["beta is a simple tool for text work. it reads text data."] * 5), "summarize"),
    ("hello", "chat"),
    ("what is debian?", "qa|chat"),  # a question: qa when it is sure of an answer, else chat
])
def test_free_text_is_routed_to_each_task(bot: LiveBot, text: str, task: str) -> None:
    user, chat = bot.person("Dee")
    sent, [reply] = bot.exchange(chat, user, text)
    assert bot.stored_reply(chat.id, sent["message_id"])[0] in task.split("|")
    assert reply["text"].strip()


def test_mode_and_language_are_remembered(bot: LiveBot) -> None:
    user, chat = bot.person("Eve", language_code="zh-hans")
    assert bot.reply_text(chat, user, "/ask").startswith("用法")  # from Telegram's language
    assert bot.reply_text(chat, user, "/mode translate") == "模式已设为 translate。"
    sent, _ = bot.exchange(chat, user, "eight nine")
    assert bot.stored_reply(chat.id, sent["message_id"])[0] == "translate-en-zh"
    assert bot.reply_text(chat, user, "/lang en") == "I will speak English with you."
    assert bot.reply_text(chat, user, "/mode auto") == "Mode set to auto."
    sent, _ = bot.exchange(chat, user, "hello")
    assert bot.stored_reply(chat.id, sent["message_id"])[0] == "chat"


def test_non_text_messages_get_a_short_answer(bot: LiveBot) -> None:
    user, chat = bot.person("Fay")
    bot.handle.send_sticker(chat, user)
    bot.handle.send_photo(chat, user, caption="look")
    bot.handle.send_voice(chat, user)
    replies = bot.handle.wait_bot_messages(chat, 3, 60)
    assert [r["text"] for r in replies] == ["Sorry, I only read text messages."] * 3


def test_a_message_delivered_twice_is_answered_once(bot: LiveBot) -> None:
    user, chat = bot.person("Gus")
    sent, [_] = bot.exchange(chat, user, "hello")
    bot.handle.deliver_again(sent)  # the same message in a new update
    bot.handle.deliver_again(sent, same_id=True)  # the very same update again
    assert bot.silence(chat) == []
    rows = bot.process.rows("SELECT direction FROM messages WHERE chat_id=?", chat.id)
    assert sorted(rows) == [("in",), ("out",)]


def test_edited_message_is_stored_not_answered_again(bot: LiveBot) -> None:
    user, chat = bot.person("Hal")
    sent, _ = bot.exchange(chat, user, "helo")
    bot.handle.edit_text(chat, user, sent, "hello")
    assert bot.silence(chat) == []
    [(text,)] = bot.process.rows(
        "SELECT text FROM messages WHERE chat_id=? AND message_id=?", chat.id, sent["message_id"])
    assert text == "hello"


def test_typing_is_shown_and_long_input_is_truncated(bot: LiveBot) -> None:
    user, chat = bot.person("Ida")
    reply = bot.reply_text(chat, user, "/translate " + "one " * 400)
    assert reply.endswith("(Your text was long; I read the first 1000 characters.)")
    assert "typing" in bot.handle.chat_actions(chat)
