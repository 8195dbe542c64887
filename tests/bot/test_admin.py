"""The admin gate: ADMIN_USER_IDS only, a refusal for others, an audit row for every call."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import BotContext
from bot.handlers.admin import admin_command
from bot.handlers.outgoing import respond
from bot.services.conversation import Reply
from tests.bot.conftest import BotHarness, HarnessFactory
from tests.bot.fakes import Person

ADMIN = Person(1, "Ada")
OTHER = Person(2, "Bob")
GROUP = -100


async def _with_secret(make_harness: HarnessFactory) -> tuple[BotHarness, list[str]]:
    ran: list[str] = []

    @admin_command("secret")
    async def secret(update: Update, context: BotContext) -> str:
        ran.append(" ".join(context.args or []))
        await respond(update, context, Reply("done"))
        return "did the secret thing"

    harness = await make_harness(admin_user_ids=[ADMIN.id])
    harness.app.handlers[0].insert(0, CommandHandler("secret", secret))
    return harness, ran


async def test_admins_run_the_command_and_it_is_audited(make_harness: HarnessFactory) -> None:
    harness, ran = await _with_secret(make_harness)
    assert await harness.send(ADMIN, "/secret a b") == ["done"]
    assert ran == ["a b"]
    rows = await harness.rows("SELECT user_id, chat_id, action, arguments, allowed, outcome "
                              "FROM audit_log")
    assert [tuple(r) for r in rows] == [
        (ADMIN.id, ADMIN.id, "secret", '{"args": ["a", "b"], "text": "a b"}', 1,
         "did the secret thing")]


async def test_others_are_refused_in_private_and_in_groups(make_harness: HarnessFactory) -> None:
    harness, ran = await _with_secret(make_harness)
    private = await harness.send(OTHER, "/secret x")
    group = await harness.send(OTHER, "/secret@rnn_test_bot y", chat_id=GROUP)
    refusal = "Sorry, only the bot's admins can use this command."
    assert private == [refusal] and group == [refusal]
    assert ran == []
    rows = await harness.rows("SELECT user_id, chat_id, allowed, outcome FROM audit_log "
                              "ORDER BY id")
    assert [tuple(r) for r in rows] == [(OTHER.id, OTHER.id, 0, "refused: not an admin"),
                                        (OTHER.id, GROUP, 0, "refused: not an admin")]


async def test_group_admins_are_not_bot_admins(make_harness: HarnessFactory) -> None:
    harness, ran = await _with_secret(make_harness)
    harness.api.member_status = "creator"
    assert await harness.send(OTHER, "/secret", chat_id=GROUP) == [
        "Sorry, only the bot's admins can use this command."]
    assert ran == []


async def test_the_refusal_speaks_the_users_language(make_harness: HarnessFactory) -> None:
    harness, _ = await _with_secret(make_harness)
    chinese = Person(3, "Li", language_code="zh-hans")
    assert await harness.send(chinese, "/secret") == ["抱歉,只有机器人的管理员可以使用这个命令。"]


async def test_a_failing_command_is_audited_as_an_error(make_harness: HarnessFactory) -> None:
    @admin_command("broken")
    async def broken(update: Update, context: BotContext) -> None:
        raise RuntimeError("boom")

    harness = await make_harness(admin_user_ids=[ADMIN.id])
    harness.app.handlers[0].insert(0, CommandHandler("broken", broken))
    await harness.send(ADMIN, "/broken")
    rows = await harness.rows("SELECT allowed, outcome FROM audit_log")
    assert [tuple(r) for r in rows] == [(1, "error: RuntimeError")]
