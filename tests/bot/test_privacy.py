"""/forgetme leaves no row of the user; /exportme sends exactly their data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.bot.conftest import BotHarness, HarnessFactory
from tests.bot.test_learning import ADMIN, ALICE, BOB, GROUP, ask, last_sent, press, start

pytestmark = pytest.mark.both_engines  # on SQLite and on PostgreSQL (conftest.py)

USER_TABLES = {
    "users": "id = :u", "chats": "id = :u", "messages": "user_id = :u",
    "feedback": "user_id = :u", "corrections": "user_id = :u",
    "taught_pairs": "author_id = :u", "audit_log": "user_id = :u OR chat_id = :u",
    "pending_prompts": "user_id = :u",
}


async def user_rows(harness: BotHarness, user_id: int) -> dict[str, int]:
    counts = {}
    for table, where in USER_TABLES.items():
        rows = await harness.rows(f"SELECT * FROM {table} WHERE {where}", u=user_id)
        counts[table] = len(rows)
    replies = await harness.rows(
        "SELECT r.id FROM messages r JOIN messages q ON q.id = r.in_reply_to_id "
        "WHERE q.user_id = :u", u=user_id)
    counts["replies"] = len(replies)
    return counts


async def chat_about(harness: BotHarness) -> None:
    """Alice and Bob chat, rate, correct; Alice's correction is approved by the admin."""
    for person in (ALICE, BOB):
        answer = await ask(harness, person, "who made you?")
        await press(harness, person, answer["message"], "fb:+")
        await press(harness, person, answer["message"], "fb:-")
        await harness.send(person, f"{person.first_name}'s friends made you.")
        await harness.send(person, "/ask what is rnn", chat_id=GROUP)
        await harness.send(person, "/teach a | b")  # refused: audited
    await harness.send(ADMIN, "/review")
    page = last_sent(harness)
    await press(harness, ADMIN, page["message"], page["params"]["reply_markup"][
        "inline_keyboard"][0][0]["callback_data"])


async def test_forgetme_deletes_every_row_of_the_user_and_only_theirs(
        make_harness: HarnessFactory) -> None:
    harness, bank = await start(make_harness)
    await chat_about(harness)
    assert bank.pairs.get("who made you") == "Alice's friends made you."
    bob_before = await user_rows(harness, BOB.id)
    assert all(bob_before[t] for t in ("users", "messages", "feedback", "corrections"))
    alice = await user_rows(harness, ALICE.id)
    assert alice["taught_pairs"] == 1 and alice["corrections"] == 1

    await harness.send(ALICE, "/forgetme")
    confirm = last_sent(harness)
    [[yes, _]] = confirm["params"]["reply_markup"]["inline_keyboard"]
    refused = await press(harness, BOB, confirm["message"], yes["callback_data"])
    assert refused["text"] == "Only the person who asked can confirm this."
    await press(harness, ALICE, confirm["message"], yes["callback_data"])
    done = harness.api.of("editMessageText")[-1]["text"]
    assert done.startswith("Done. I deleted what I had stored of you (messages: 5, ratings: 1, "
                           "corrections: 1)")

    assert await user_rows(harness, ALICE.id) == {t: 0 for t in bob_before}
    assert [tuple(r) for r in await harness.rows("SELECT user_id FROM forgotten_users")] == [
        (ALICE.id,)]
    assert "who made you" not in bank.pairs  # her words left the answer bank
    assert await user_rows(harness, BOB.id) == bob_before
    # she can use the bot again; nothing old of hers comes back
    assert await harness.send(ALICE, "/ask what is rnn") == ["A recurrent neural network."]
    assert (await user_rows(harness, ALICE.id))["messages"] == 1


async def test_forgetme_closes_an_open_correction_prompt(make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    answer = await ask(harness, ALICE, "who made you?")
    await press(harness, ALICE, answer["message"], "fb:-")  # "what should I have said?"
    assert (await user_rows(harness, ALICE.id))["pending_prompts"] == 1
    await harness.send(ALICE, "/forgetme")
    [[yes, _]] = last_sent(harness)["params"]["reply_markup"]["inline_keyboard"]
    await press(harness, ALICE, last_sent(harness)["message"], yes["callback_data"])
    assert (await user_rows(harness, ALICE.id))["pending_prompts"] == 0
    await harness.send(ALICE, "my friends made you")  # an ordinary message now
    assert await harness.rows("SELECT * FROM corrections") == []


async def test_forgetme_cancel_deletes_nothing(make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    await ask(harness, ALICE, "what is rnn")
    await harness.send(ALICE, "/forgetme")
    confirm = last_sent(harness)
    before = await user_rows(harness, ALICE.id)
    cancel = confirm["params"]["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    await press(harness, ALICE, confirm["message"], cancel)
    assert harness.api.of("editMessageText")[-1]["text"] == "Cancelled; nothing was deleted."
    assert await user_rows(harness, ALICE.id) == before
    assert await harness.rows("SELECT * FROM forgotten_users") == []


def exported(harness: BotHarness) -> dict[str, Any]:
    [call] = [c for c in harness.api.calls if c.method == "sendDocument"]
    data: dict[str, Any] = json.loads(call.files["document"])
    return data


async def test_exportme_sends_exactly_the_users_data(make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    await chat_about(harness)
    await harness.send(ALICE, "/exportme")
    data = exported(harness)
    assert data["user_id"] == ALICE.id and data["user"]["first_name"] == "Alice"
    mine = await harness.rows("SELECT id, text FROM messages WHERE user_id = :u ORDER BY id",
                              u=ALICE.id)
    assert [(m["id"], m["text"]) for m in data["messages"]] == [tuple(r) for r in mine]
    assert data["messages"][-1]["text"] == "/exportme"
    replies = await harness.rows(
        "SELECT r.id FROM messages r JOIN messages q ON q.id = r.in_reply_to_id "
        "WHERE q.user_id = :u ORDER BY r.id", u=ALICE.id)
    assert [m["id"] for m in data["replies_to_you"]] == [r.id for r in replies]
    assert [(f["rating"]) for f in data["feedback"]] == [-1]
    assert [(c["text"], c["status"]) for c in data["corrections"]] == [
        ("Alice's friends made you.", "approved")]
    assert [(p["source"], p["origin"]) for p in data["taught_pairs"]] == [
        ("who made you?", "correction")]
    assert "Bob" not in json.dumps(data, ensure_ascii=False)
    assert {m["chat_id"] for m in data["messages"]} == {ALICE.id, GROUP}


async def test_exportme_in_a_group_points_to_a_private_chat(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    replies = await harness.send(ALICE, f"/exportme@{harness.app.bot.username}", chat_id=GROUP)
    assert replies == ["For your privacy, use /exportme in a private chat with me."]
    assert not [c for c in harness.api.calls if c.method == "sendDocument"]
