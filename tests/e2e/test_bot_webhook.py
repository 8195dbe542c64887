"""The bot in webhook mode over HTTP: the secret-token header, privacy setting off."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botapi_emulator.bot_process import LiveBot, start_live_bot

BOT = "rnn_webhook_bot"
SECRET = "webhook-secret-e2e-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def bot(botapi: Any, bot_models: Path, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[LiveBot]:
    port = free_port()
    live = start_live_bot(
        botapi, bot_models, tmp_path_factory.mktemp("bot-webhook"), BOT, 3000,
        webhook_url=f"http://127.0.0.1:{port}/telegram/hook", webhook_listen="127.0.0.1",
        webhook_port=port, webhook_secret_token=SECRET, store_group_messages="false",
    )
    yield live
    assert live.process.stop() == 0
    log = live.process.log()
    assert "Traceback" not in log
    assert SECRET not in log and live.handle.token not in log  # secrets never logged


def test_updates_arrive_by_webhook_with_the_secret(bot: LiveBot) -> None:
    info = bot.handle.webhook_info()
    assert info["url"].endswith("/telegram/hook")
    user, chat = bot.person("Kim")
    sent, [reply] = bot.exchange(chat, user, "/translate one two")
    assert reply["reply_to_message"]["message_id"] == sent["message_id"]
    assert bot.stored_reply(chat.id, sent["message_id"])[0] == "translate-en-zh"
    deliveries = bot.handle.webhook_deliveries()
    assert deliveries and all(d.status == 200 for d in deliveries)
    assert not bot.handle.calls("getUpdates")


def test_the_webhook_answers_telegram_only_after_storing_the_message(bot: LiveBot) -> None:
    """A bot killed right after answering 200 must not lose the message: Telegram does not send
    a delivered update again, so the row must already be there when the POST returns."""
    user, chat = bot.person("Oda")
    update = {"update_id": 5 * 10**8, "message": {
        "message_id": 4242, "date": 1_800_000_000, "text": "remember this one",
        "chat": {"id": chat.id, "type": "private", "first_name": "Oda"},
        "from": {"id": user.id, "is_bot": False, "first_name": "Oda"}}}
    status, _ = bot.handle.post_to_webhook(update, SECRET)
    assert status == 200
    rows = bot.process.rows("SELECT text FROM messages WHERE chat_id=? AND message_id=4242",
                            chat.id)
    assert rows == [("remember this one",)]
    bot.silence(chat)  # let the reply go out before the next test


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_requests_without_the_secret_are_refused(bot: LiveBot, secret: str | None) -> None:
    user, chat = bot.person("Lou")
    forged = {"update_id": 10**9 + len(secret or ""), "message": {
        "message_id": 1, "date": 1_800_000_000, "text": "forged",
        "chat": {"id": chat.id, "type": "private", "first_name": "Lou"},
        "from": {"id": user.id, "is_bot": False, "first_name": "Lou"}}}
    status, _ = bot.handle.post_to_webhook(forged, secret)
    assert status == 403
    assert bot.silence(chat) == []
    assert bot.process.rows("SELECT * FROM messages WHERE chat_id=?", chat.id) == []


def test_a_message_delivered_twice_is_answered_once(bot: LiveBot) -> None:
    user, chat = bot.person("Max")
    sent, _ = bot.exchange(chat, user, "hello")
    bot.handle.deliver_again(sent)
    assert bot.silence(chat) == []
    assert len(bot.process.rows("SELECT id FROM messages WHERE chat_id=?", chat.id)) == 2


def test_privacy_setting_off_keeps_no_unaddressed_group_message(bot: LiveBot) -> None:
    ned = bot.handle.user(bot.ids.user(), "Ned", username="ned")
    group = bot.handle.group("Quiet group", members=[ned])
    bot.handle.send_text(group, ned, "my phone number is 555-0100")
    assert bot.silence(group) == []
    sent, _ = bot.exchange(group, ned, f"@{BOT} hello")
    assert bot.stored_reply(group.id, sent["message_id"])[0] == "chat"
    rows = bot.process.rows("SELECT message_id, direction FROM messages WHERE chat_id=? "
                            "ORDER BY id", group.id)
    assert [r[1] for r in rows] == ["in", "out"] and rows[0][0] == sent["message_id"]
    assert bot.process.rows("SELECT count(*) FROM messages WHERE text LIKE '%555-0100%'") == [
        (0,)]
    digest = bot.reply_text(group, ned, "/digest")
    assert digest.endswith("(Only messages addressed to me are stored here, so that is all "
                           "I can summarize.)")
