"""Security: admin commands and buttons refuse everyone outside ADMIN_USER_IDS, in private chats
and in groups (a group's own administrators included), and change nothing; secrets stay out of
logs and error replies.

The admin commands are not listed here: they are found in the application's handlers as the
callbacks wrapped by ``bot.handlers.admin.admin_command``, so a new admin command is covered
as soon as it is registered.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from typing import Any

import pytest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.app import handlers
from bot.handlers import keyboards
from bot.handlers.admin import admin_command
from bot.logs import RedactSecrets
from bot.texts import say
from tests.bot.conftest import BotHarness, HarnessFactory
from tests.bot.fakes import BOT_USERNAME, Chatter, FakeModel, FakeModels, Person

ADMIN = Person(1, "Ada")
EVE = Person(666, "Eve")
GROUP = -7000
ARGUMENTS = ["", "qa", "qa v20990101T000000-abcdef", "all", "what is x | y", "1 2 3"]
# Callback data for each admin button pattern (a new admin button needs its samples here).
BUTTON_SAMPLES = {
    keyboards.REVIEW_PATTERN: ["rv:a:1:0", "rv:e:1:0", "rv:r:1:0", "rv:n:0"],
}


async def _probe(update: Any, context: Any) -> None:
    return None


GUARDED = admin_command("probe")(_probe).__code__  # every admin_command wrapper runs this code


def is_admin_only(handler: BaseHandler[Any, Any, Any]) -> bool:
    callback = getattr(handler, "callback", None)
    return getattr(callback, "__code__", None) is GUARDED


def admin_commands() -> list[str]:
    return sorted(command for group in handlers().values() for h in group
                  if isinstance(h, CommandHandler) and is_admin_only(h) for command in h.commands)


def admin_buttons() -> list[str]:
    patterns = [h.pattern.pattern if isinstance(h.pattern, re.Pattern) else str(h.pattern)
                for group in handlers().values() for h in group
                if isinstance(h, CallbackQueryHandler) and is_admin_only(h)]
    missing = [p for p in patterns if p not in BUTTON_SAMPLES]
    assert not missing, f"add callback data samples for the admin buttons {missing}"
    return [data for p in patterns for data in BUTTON_SAMPLES[p]]


def test_the_admin_commands_are_found() -> None:
    found = admin_commands()
    assert {"promote", "rollback", "retrain"} <= set(found), found
    assert admin_buttons()


async def snapshot(harness: BotHarness) -> dict[str, list[Any]]:
    """Every table but the ones a refused message writes to (messages, users, chats, and the
    audit log, checked on its own)."""
    names = [n for (n,) in await harness.rows(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT IN ('messages', 'users', 'chats', 'audit_log', 'alembic_version')")]
    return {name: sorted(map(tuple, await harness.rows(f'SELECT * FROM "{name}"')), key=repr)
            for name in names}


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> BotHarness:
    models = FakeModels.default()
    models.models["qa"] = FakeModel("qa")
    harness = await make_harness(models, admin_user_ids=[ADMIN.id], user_rate_limit=100_000,
                                 telegram_group_messages_per_min=100_000)  # no flood waits
    harness.api.member_status = "administrator"  # Eve runs the group; she is not a bot admin
    return harness


async def test_admin_commands_from_others_are_refused_and_change_nothing(
    harness: BotHarness
) -> None:
    refusal = say("en", "admins_only")
    before = await snapshot(harness)
    versions, loads = harness.services.inference.versions(), list(harness.models.loads)
    [(audit_before,)] = await harness.rows("SELECT count(*) FROM audit_log")
    tried = 0
    for command, argument, chat_id in itertools.product(admin_commands(), ARGUMENTS,
                                                        [EVE.id, GROUP]):
        for name in (command, f"{command}@{BOT_USERNAME}"):
            replies = await harness.send(EVE, f"/{name} {argument}".strip(), chat_id=chat_id)
            assert replies == [refusal], (name, argument, chat_id, replies)
            tried += 1
    assert await snapshot(harness) == before
    assert harness.services.inference.versions() == versions
    assert harness.models.loads == loads  # no model was (re)loaded, promoted or rolled back
    audit = await harness.rows("SELECT user_id, allowed, outcome FROM audit_log")
    assert len(audit) - audit_before == tried
    assert all(r[0] == EVE.id and not r[1] and r[2].startswith("refused") for r in audit)


async def test_admin_buttons_from_others_are_refused_and_change_nothing(
    harness: BotHarness
) -> None:
    before = await snapshot(harness)
    for n, data in enumerate(admin_buttons()):
        # a message that carries the button (one without it is refused before the gate)
        bot_message = {**Chatter.bot_message(99 + n, EVE.id, "a correction to review"),
                       "reply_markup": {"inline_keyboard": [[{"text": "b",
                                                              "callback_data": data}]]}}
        update = {"update_id": 900_000 + n, "callback_query": {
            "id": str(n), "from": EVE.as_dict(), "chat_instance": "ci", "data": data,
            "message": bot_message}}
        await harness.deliver(update)
        answer = harness.api.of("answerCallbackQuery")[-1]
        assert answer["text"] == say("en", "admins_only") and answer["show_alert"], data
    assert harness.api.of("editMessageText") == []
    assert await snapshot(harness) == before


async def test_an_admin_passes_the_gate(harness: BotHarness) -> None:
    """The control: the same commands from ADMIN_USER_IDS are not refused."""
    replies = await harness.send(ADMIN, "/status")
    assert replies and replies != [say("en", "admins_only")]


async def test_secrets_stay_out_of_logs_and_error_replies(
    make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error whose message carries the token and the webhook secret: the bot's log handler
    (as ``python -m bot`` configures it) shows neither, and the user sees only the plain error
    sentence. (tests/e2e scan the whole log of a running bot for both.)"""
    token, secret = "123456:TEST-TOKEN-abc", "webhook-secret-0123456789"
    harness = await make_harness(webhook_secret_token=secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets([token, secret]))
    logging.getLogger().addHandler(handler)

    async def leaky(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"POST https://api.telegram.org/bot{token}/sendMessage {secret}")

    monkeypatch.setattr(harness.services.conversation, "free_text", leaky)
    try:
        replies = await harness.send(EVE, "hello")
    finally:
        logging.getLogger().removeHandler(handler)
    assert replies == ["Sorry, something went wrong on my side. Please try again."]
    logged = stream.getvalue()
    assert "Traceback" in logged and "/sendMessage <redacted>" in logged  # logged, redacted
    assert token not in logged and secret not in logged
    for text in harness.api.texts():
        assert token not in text and secret not in text


async def test_outsiders_of_the_allow_lists_get_no_model_output_and_leave_nothing(
    make_harness: HarnessFactory
) -> None:
    """Users and chats outside ALLOWED_USER_IDS / ALLOWED_CHAT_IDS: every kind of update,
    private and group; no model is called and no table changes (README: nothing stored)."""
    harness = await make_harness(allowed_user_ids=[ADMIN.id], allowed_chat_ids=[-1],
                                 admin_user_ids=[ADMIN.id])
    tables = [n for (n,) in await harness.rows(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]

    async def everything() -> dict[str, list[Any]]:
        return {n: sorted(map(tuple, await harness.rows(f'SELECT * FROM "{n}"')), key=repr)
                for n in tables}

    before = await everything()
    replies = []
    for chat_id in (EVE.id, GROUP):
        for text in ("hello", "/start", "/ask what is x", "/translate hi", "/exportme",
                     "/forgetme", "/teach a | b", "/promote qa v1", f"@{BOT_USERNAME} hi"):
            replies += await harness.send(EVE, text, chat_id=chat_id)
        replies += await harness.send(EVE, None, chat_id=chat_id,
                                      extra={"sticker": {"file_id": "s", "file_unique_id": "s",
                                                         "width": 1, "height": 1,
                                                         "is_animated": False,
                                                         "is_video": False, "type": "regular"}})
        replies += await harness.send(EVE, "edited", chat_id=chat_id,
                                      edited_of=harness.chatter.message_id)
        await harness.deliver({"update_id": 990_000 + abs(chat_id) % 1000, "callback_query": {
            "id": "cb", "from": EVE.as_dict(), "chat_instance": "ci", "data": "fb:+",
            "message": Chatter.bot_message(5, chat_id, "an answer")}})
    assert replies == [say("en", "not_allowed")]  # told once, in the private chat
    assert harness.models.loads == []  # no model was even loaded for them
    assert await everything() == before


async def test_privacy_off_unaddressed_group_messages_leave_no_row(
    make_harness: HarnessFactory
) -> None:
    """STORE_GROUP_MESSAGES=false (the default) and the bot's privacy mode off at BotFather:
    it sees every group message, and one not addressed to it leaves nothing in any table."""
    harness = await make_harness(store_group_messages=False)
    tables = [n for (n,) in await harness.rows(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]

    async def everything() -> dict[str, list[Any]]:
        return {n: sorted(map(tuple, await harness.rows(f'SELECT * FROM "{n}"')), key=repr)
                for n in tables}

    before = await everything()
    someone_else = Chatter.bot_message(3, GROUP, "hi") | {
        "from": {"id": 77, "is_bot": False, "first_name": "Carol"}}
    for text, extra in [
        ("my phone number is 555-0100", None),
        ("/translate@some_other_bot hello", None),
        ("/weather", None),  # a bare command the bot does not have: another bot's
        ("@some_other_bot hi", None),
        (f"an email to {BOT_USERNAME}@example.org", None),  # the name, but no mention
        ("thanks", {"reply_to_message": someone_else}),
    ]:
        assert await harness.send(EVE, text, chat_id=GROUP, extra=extra) == []
    assert await harness.send(EVE, None, chat_id=GROUP, extra={"sticker": {
        "file_id": "s", "file_unique_id": "s", "width": 1, "height": 1, "is_animated": False,
        "is_video": False, "type": "regular"}}) == []
    assert await everything() == before
    assert harness.models.loads == []
