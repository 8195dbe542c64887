"""Floods and scope: every update a user causes counts against their rate limit; a repeated or
forged button press writes nothing; /review stays in private chats; /promote takes only the
registry's version names; a stored update keeps no unaddressed group text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.services.versions import SwitchFailed
from bot.texts import say
from model.__main__ import main as model_cli
from model.registry import Registry, RegistryError
from tests.bot.conftest import BotHarness, HarnessFactory
from tests.bot.fakes import Chatter
from tests.bot.test_learning import ADMIN, ALICE, BOB, GROUP, ask, last_sent, press, start
from tests.bot.test_retrain import VersionedModels, make_version

WRITTEN = ("feedback", "pending_prompts", "corrections", "audit_log", "forgotten_users",
           "messages", "users")


async def tables(harness: BotHarness) -> dict[str, list[Any]]:
    return {t: sorted(map(tuple, await harness.rows(f"SELECT * FROM {t}")), key=repr)
            for t in WRITTEN}


def keyboard(*data: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": d, "callback_data": d} for d in data]]}


# -- the rate limit covers presses and edits ---------------------------------------------------
async def test_presses_and_edits_count_against_the_rate_limit(
        make_harness: HarnessFactory) -> None:
    harness = await make_harness(user_rate_limit=3, user_rate_period_s=60)
    sent = harness.chatter.message(ALICE, "first")
    assert await harness.deliver(sent) == ["chat:first"]
    answer = last_sent(harness)["message"]
    rating = await press(harness, ALICE, answer, "fb:+")
    assert rating["text"] == say("en", "feedback_thanks")
    await harness.deliver(harness.chatter.message(ALICE, "first, edited",
                                                  edited_of=sent["message"]["message_id"]))
    # three updates: the limit is spent, so the press below is refused, not handled
    refused = await press(harness, ALICE, answer, "fb:-")
    assert refused["text"].startswith("You are sending messages too fast")
    assert await harness.rows("SELECT rating FROM feedback") == [(1,)]
    assert await harness.send(ALICE, "second") == []  # told once already
    # an edit over the limit is not recorded either
    await harness.deliver(harness.chatter.message(ALICE, "first, edited again",
                                                  edited_of=sent["message"]["message_id"]))
    assert await harness.rows("SELECT text FROM messages WHERE direction='in' AND "
                              "message_id=:m", m=sent["message"]["message_id"]) == [
        ("first, edited",)]
    assert await harness.send(BOB, "hi") == ["chat:hi"]  # others are not affected


# -- repeated presses --------------------------------------------------------------------------
async def test_repeated_presses_of_one_button_write_nothing_and_send_nothing(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    answer = await ask(harness, ALICE, "who made you?")
    first = await press(harness, ALICE, answer["message"], "fb:-")
    assert first["text"] == say("en", "feedback_thanks")
    prompts = len(harness.api.of("sendMessage"))
    before = await tables(harness)
    for _ in range(3):
        again = await press(harness, ALICE, answer["message"], "fb:-")
        assert "text" not in again  # answered, silently
    assert len(harness.api.of("sendMessage")) == prompts
    assert await tables(harness) == before


async def test_a_flood_of_40_presses_makes_at_most_one_new_message(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    for person, pattern in ((ALICE, ["fb:-"]), (BOB, ["fb:-", "fb:+"])):
        answer = await ask(harness, person, "who made you?")
        before = len(harness.api.of("sendMessage"))
        for n in range(40):
            await press(harness, person, answer["message"], pattern[n % len(pattern)])
        prompts = harness.api.of("sendMessage")[before:]
        assert len(prompts) == 1, (person, [p["text"] for p in prompts])
    [(count,)] = await harness.rows("SELECT count(*) FROM pending_prompts")
    assert count == 2


# -- forged presses ----------------------------------------------------------------------------
async def test_forged_forget_and_review_buttons_are_refused_without_a_write(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    answer = await ask(harness, ALICE, "who made you?")
    await press(harness, ALICE, answer["message"], "fb:-")
    await harness.send(ALICE, "Volunteers.")  # a correction pending review
    await harness.send(BOB, "/forgetme")
    bobs_confirm = last_sent(harness)["message"]
    before = await tables(harness)
    invalid = say("en", "button_invalid")
    forged = [
        (ALICE, answer["message"], f"fm:yes:{BOB.id}"),  # someone else's /forgetme
        (ALICE, answer["message"], f"fm:yes:{ALICE.id}"),  # not a confirmation
        (ALICE, bobs_confirm, f"fm:yes:{ALICE.id}"),  # Bob's message, another id
        (ALICE, answer["message"], "rv:a:1:0"),  # review buttons under an answer
        (ADMIN, answer["message"], "rv:a:99999:0"),  # a correction that does not exist
        (ADMIN, answer["message"], "rv:e:1:0"),
        (ADMIN, {k: v for k, v in answer["message"].items() if k != "reply_markup"},
         "rv:n:0"),
    ]
    for person, message, data in forged:
        reply = await press(harness, person, message, data)
        assert reply.get("text") == invalid, (person.first_name, data, reply)
    # Bob's genuine confirmation pressed by Alice: refused, nothing written either
    [[yes, _]] = bobs_confirm["reply_markup"]["inline_keyboard"]
    reply = await press(harness, ALICE, bobs_confirm, yes["callback_data"])
    assert reply["text"] == say("en", "forget_not_yours")
    assert await tables(harness) == before
    assert harness.api.of("editMessageText") == []


async def test_a_review_button_of_a_correction_gone_says_so(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    stale = {**Chatter.bot_message(500, ADMIN.id, "Correction 1 of 1 (#77)"),
             "reply_markup": keyboard("rv:a:77:0", "rv:e:77:0", "rv:r:77:0")}
    for data in ("rv:a:77:0", "rv:e:77:0", "rv:r:77:0"):
        reply = await press(harness, ADMIN, stale, data)
        assert reply["text"] == say("en", "review_missing", id=77)
    assert harness.api.of("sendMessage") == [] and harness.api.of("editMessageText") == []
    assert await harness.rows("SELECT * FROM pending_prompts") == []


# -- /review is for private chats --------------------------------------------------------------
async def test_review_in_a_group_shows_nothing(make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    answer = await ask(harness, ALICE, "who made you?")
    await press(harness, ALICE, answer["message"], "fb:-")
    await harness.send(ALICE, "My secret correction.")
    for lang in ("en", "zh"):
        ADMIN.language_code = lang
        try:
            replies = await harness.send(ADMIN, "/review@rnn_test_bot", chat_id=GROUP)
        finally:
            ADMIN.language_code = "en"
        assert replies == [say(lang, "review_private_only")]
    assert say("en", "review_private_only") != say("zh", "review_private_only")
    assert not any("secret" in t for t in harness.api.texts(GROUP))
    # a review page an older version left in a group: its buttons do nothing there either
    page = {**Chatter.bot_message(600, GROUP, "Correction 1 of 1 (#1)"),
            "reply_markup": keyboard("rv:a:1:0")}
    reply = await press(harness, ADMIN, page, "rv:a:1:0")
    assert reply["text"] == say("en", "review_private_only")
    assert await harness.rows("SELECT status FROM corrections") == [("pending",)]
    [page_text] = await harness.send(ADMIN, "/review")  # in private it works
    assert "My secret correction." in page_text


# -- /promote takes the registry's names only --------------------------------------------------
BAD_NAMES = ["/tmp/x", "../..", "..", ".staging-v3-abc", "v1/../v2"]


async def test_promote_refuses_names_the_registry_does_not_list(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    outside = tmp_path / "x"
    make_version(outside.parent, "x", "card-here")  # a card.json somewhere else
    (tmp_path / "card.json").write_text(json.dumps({"version": "evil"}))
    (models / "chat" / "versions" / ".staging-v3-abc").mkdir()
    (models / "chat" / "versions" / ".staging-v3-abc" / "card.json").write_text("{}")
    (models / "card.json").write_text("{}")
    harness = await make_harness(VersionedModels(), admin_user_ids=[ADMIN.id], model_dir=models)
    for name in [*BAD_NAMES, str(outside / "versions" / "card-here"), "v7"]:
        replies = await harness.send(ADMIN, f"/promote chat {name}")
        assert replies == [say("en", "promote_unknown", task="chat", version=name,
                               versions="v1, v2")], name
    assert (models / "chat" / "current").read_text().strip() == "v1"
    assert (await harness.services.inference.predict("chat", "x")).version == "v1"
    # the service refuses them too (for callers other than /promote)
    for name in BAD_NAMES:
        with pytest.raises(SwitchFailed, match="its versions: v1, v2"):
            await harness.services.versions.promote("chat", name)


def test_the_registry_and_the_cli_refuse_names_it_does_not_list(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(models, "chat", version)
    registry = Registry(models)
    registry.promote("chat", "v1")
    staging = models / "chat" / "versions" / ".staging-v3-abc"
    staging.mkdir()
    (staging / "card.json").write_text("{}")
    (models / "card.json").write_text("{}")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "card.json").write_text("{}")
    for name in [*BAD_NAMES, str(tmp_path / "x")]:
        with pytest.raises(RegistryError, match="its versions: v1, v2"):
            registry.promote("chat", name)
        with pytest.raises(RegistryError):
            registry.pin("chat", name)
        assert model_cli(["--model-dir", str(models), "promote", "chat", name]) == 2
        assert "its versions: v1, v2" in capsys.readouterr().err
    assert registry.current("chat") == "v1" and registry.history("chat") == ["v1"]
    assert model_cli(["--model-dir", str(models), "promote", "chat", "v2"]) == 0
    assert registry.current("chat") == "v2"


# -- raw_update keeps no unaddressed group text ------------------------------------------------
async def stored_raw(harness: BotHarness, update: dict[str, Any]) -> dict[str, Any]:
    """Deliver ``update`` through the handlers to a process that "dies" once the message is
    stored (nothing answers it, so its row keeps the raw update); that raw update."""
    turns = harness.services.turns
    begin = turns.begin
    stored: list[Any] = []

    async def begin_only(message: Any) -> None:
        stored.append(await begin(message))
        return None  # the crash: admission goes no further

    turns.begin = begin_only  # type: ignore[method-assign]
    try:
        await harness.deliver(update)
    finally:
        turns.begin = begin  # type: ignore[method-assign]
    assert len(stored) == 1 and stored[0] is not None, "stored as an addressed message"
    [(raw,)] = await harness.rows("SELECT raw_update FROM messages WHERE id=:i",
                                  i=stored[0].row_id)
    assert raw is not None
    return dict(json.loads(raw))


async def test_a_stored_group_update_keeps_no_unaddressed_text(
        make_harness: HarnessFactory) -> None:
    harness = await make_harness(store_group_messages=False)
    secret = harness.chatter.message(BOB, "my secret plan for friday", chat_id=GROUP)
    assert await harness.deliver(secret) == []  # unaddressed: not stored, not answered
    quoted = {"text": "secret plan", "position": 3}
    for text in ("/translate@rnn_test_bot", "@rnn_test_bot what did he say?"):
        update = harness.chatter.message(ALICE, text, chat_id=GROUP,
                                         reply_to=secret["message"], extra={"quote": quoted})
        raw = await stored_raw(harness, update)
        assert "secret" not in json.dumps(raw), raw
        assert raw["message"]["text"] == text  # the addressed message itself is kept
        assert raw["message"]["reply_to_message"]["message_id"] == (
            secret["message"]["message_id"])
    # restarted past the recovery window, the row still holds only that
    rows = await harness.rows("SELECT raw_update FROM messages WHERE raw_update IS NOT NULL")
    assert len(rows) == 2 and not any("secret" in raw for (raw,) in rows)


async def test_replies_to_the_bot_and_stored_groups_keep_the_replied_text(
        make_harness: HarnessFactory) -> None:
    """The control: what the policy allows stays, so a recovered turn can still answer."""
    for store in (False, True):
        harness = await make_harness(store_group_messages=store)
        bot_says = Chatter.bot_message(900, GROUP, "an answer of mine")
        update = harness.chatter.message(ALICE, "/translate@rnn_test_bot", chat_id=GROUP,
                                         reply_to=bot_says)
        raw = await stored_raw(harness, update)
        assert raw["message"]["reply_to_message"]["text"] == "an answer of mine"
        if store:
            plain = harness.chatter.message(BOB, "plain words", chat_id=GROUP)
            await harness.deliver(plain)
            update = harness.chatter.message(ALICE, "/translate@rnn_test_bot", chat_id=GROUP,
                                             reply_to=plain["message"])
            raw = await stored_raw(harness, update)
            assert raw["message"]["reply_to_message"]["text"] == "plain words"
