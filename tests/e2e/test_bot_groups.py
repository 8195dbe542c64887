"""The bot over HTTP in groups: when it answers, reply-based commands, /digest, privacy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botapi_emulator.bot_process import LiveBot, start_live_bot

BOT = "rnn_group_bot"


@pytest.fixture(scope="module")
def bot(botapi: Any, bot_models: Path, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[LiveBot]:
    live = start_live_bot(botapi, bot_models, tmp_path_factory.mktemp("bot-groups"), BOT, 2000,
                          store_group_messages="true")
    yield live
    assert live.process.stop() == 0
    assert "Traceback" not in live.process.log()


def new_group(bot: LiveBot, *names: str, admins: int = 0) -> tuple[Any, list[Any]]:
    people = [bot.handle.user(bot.ids.user(), name, username=name.lower()) for name in names]
    group = bot.handle.group(f"Group {bot.ids.group()}", members=people, admins=people[:admins])
    return group, people


def test_only_messages_addressed_to_the_bot_are_answered(bot: LiveBot) -> None:
    group, (ann, ben) = new_group(bot, "Ann", "Ben")
    quiet = bot.handle.send_text(group, ann, "lunch at noon?")
    assert bot.silence(group) == []
    sent, [reply] = bot.exchange(group, ben, f"@{BOT} hello")  # a mention
    assert reply["reply_to_message"]["message_id"] == sent["message_id"]
    assert bot.stored_reply(group.id, sent["message_id"])[0] == "chat"
    sent, _ = bot.exchange(group, ann, "good morning", reply_to=reply)  # reply to the bot
    assert bot.stored_reply(group.id, sent["message_id"])[0] == "chat"
    bot.handle.send_text(group, ben, "thanks", reply_to=quiet)  # a reply to someone else
    bot.handle.send_text(group, ben, "/translate@some_other_bot one")  # another bot's command
    bot.handle.send_text(group, ben, "/weather")  # a command the bot does not have
    assert bot.silence(group) == []
    statuses = dict(bot.process.rows(
        "SELECT message_id, status FROM messages WHERE chat_id=? AND direction='in'", group.id))
    assert statuses[quiet["message_id"]] == "ignored"  # stored: STORE_GROUP_MESSAGES=true


def test_commands_with_and_without_the_bot_name(bot: LiveBot) -> None:
    group, (cat,) = new_group(bot, "Cat")
    for text in (f"/translate@{BOT} one two", "/translate one two"):
        sent, _ = bot.exchange(group, cat, text)
        assert bot.stored_reply(group.id, sent["message_id"])[0] == "translate-en-zh"
    assert bot.reply_text(group, cat, f"/weather@{BOT}").startswith("I don't know /weather.")
    assert "/digest [N]" in bot.reply_text(group, cat, f"/help@{BOT}")
    assert bot.reply_text(group, cat, "/ask").startswith("Usage: /ask")


def test_reply_based_translate_and_summarize(bot: LiveBot) -> None:
    group, (dan, eva) = new_group(bot, "Dan", "Eva")
    original = bot.handle.send_text(group, dan, "three four five")
    blurb = bot.handle.send_text(
        group, dan, "delta is a secure tool for network work. it reads network data and "
                    "writes reports. delta runs on every system.")
    assert bot.silence(group) == []
    sent, [reply] = bot.exchange(group, eva, "/translate", reply_to=original)
    assert bot.stored_reply(group.id, sent["message_id"])[0] == "translate-en-zh"
    assert reply["text"].strip()
    sent, _ = bot.exchange(group, eva, "/translate en", reply_to=original)
    assert bot.stored_reply(group.id, sent["message_id"])[0] == "translate-zh-en"
    sent, _ = bot.exchange(group, eva, f"/summarize@{BOT}", reply_to=blurb)
    assert bot.stored_reply(group.id, sent["message_id"])[0] == "summarize"
    assert bot.reply_text(group, eva, "/summarize").startswith("Usage: /summarize")


def test_digest_names_who_said_what(bot: LiveBot) -> None:
    group, (fox, gil) = new_group(bot, "Fox", "Gil")
    lines = [(fox, "the release is on friday"), (gil, "i will write the notes"),
             (fox, "omega is a fast tool for image work"), (gil, "see you then")]
    for person, text in lines:
        bot.handle.send_text(group, person, text)
    assert bot.silence(group) == []
    digest = bot.reply_text(group, gil, "/digest")
    assert digest.startswith("Digest of the last 4 messages:")
    assert "• Fox, Gil:" in digest
    sent, [short] = bot.exchange(group, fox, f"/digest@{BOT} 2")
    assert short["text"].startswith("Digest of the last 2 messages:")
    assert bot.stored_reply(group.id, sent["message_id"])[0] == "summarize"
    assert bot.reply_text(group, fox, "/digest many").startswith("Usage: /digest [N]")
    assert bot.reply_text(group, fox, "/digest 0").startswith("Usage: /digest [N]")


def test_non_text_in_groups_is_ignored(bot: LiveBot) -> None:
    group, (hal,) = new_group(bot, "Hal")
    bot.handle.send_sticker(group, hal)
    bot.handle.send_photo(group, hal, caption=f"@{BOT} what is this")
    assert bot.silence(group) == []


def test_group_mode_is_for_group_admins(bot: LiveBot) -> None:
    group, (ida, jon) = new_group(bot, "Ida", "Jon", admins=1)
    assert bot.reply_text(group, jon, "/mode translate") == (
        "Only the group's admins can change its mode.")
    assert bot.reply_text(group, ida, "/mode translate") == "Mode set to translate."
    sent, _ = bot.exchange(group, jon, f"@{BOT} six seven")
    assert bot.stored_reply(group.id, sent["message_id"])[0] == "translate-en-zh"
