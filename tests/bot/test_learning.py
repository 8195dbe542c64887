"""The learning loop in the bot: 👍/👎, corrections, /teach, /review, the admin gate on each."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import bot.app as app_module
from model.api import Prediction, pair_fingerprint
from tests.bot.conftest import BotHarness, HarnessFactory
from tests.bot.fakes import (
    BOT_ID,
    BOT_USERNAME,
    FakeModels,
    Person,
)

pytestmark = pytest.mark.both_engines  # on SQLite and on PostgreSQL (conftest.py)

ADMIN = Person(1, "Ada")
ALICE = Person(2, "Alice")
BOB = Person(3, "Bob")
GROUP = -100
NOT_SURE = "I don't know"
_query_ids = itertools.count(1)


def _key(text: str) -> str:
    return re.sub(r"[^\w ]", "", text.lower()).strip()


@dataclass
class FakeAnswerBank:
    """A ``model.api.QAModel`` that answers stored questions exactly (after normalisation);
    its pairs live in memory only."""

    task: str = "qa"
    version: str = "qa-v1"
    user_dir: Path | None = None

    def __post_init__(self) -> None:
        self.pairs: dict[str, str] = {"what is rnn": "A recurrent neural network."}
        self.lock = threading.Lock()

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        out = []
        for text in texts:
            answer = self.pairs.get(_key(text))
            out.append(Prediction(answer or "", 0.9 if answer else 0.1, self.task,
                                  self.version, sure=answer is not None,
                                  closest_answer=answer or NOT_SURE))
        return out

    def warm_up(self, max_batch: int) -> None:
        self.predict(["hello"])

    def apply_overlay(self, user_dir: Path | None) -> None:
        self.user_dir = user_dir

    def add_pair(self, question: str, answer: str) -> None:
        with self.lock:
            self.pairs[_key(question)] = answer

    def add_missing(self, pairs: Sequence[tuple[str, str]]) -> int:
        with self.lock:
            missing = {_key(q): a for q, a in pairs if _key(q) not in self.pairs}
            self.pairs.update(missing)
            return len(missing)

    def remove_pair(self, question: str, answer: str | None = None) -> int:
        with self.lock:
            return 1 if self.pairs.pop(_key(question), None) is not None else 0

    def forget(self, fingerprints: Sequence[str]) -> int:
        wanted = set(fingerprints)
        with self.lock:
            gone = [q for q, a in self.pairs.items() if pair_fingerprint(q, a) in wanted]
            for question in gone:
                del self.pairs[question]
            return len(gone)


async def start(make_harness: HarnessFactory) -> tuple[BotHarness, FakeAnswerBank]:
    bank = FakeAnswerBank()
    models = FakeModels.default()
    models.models["qa"] = bank  # type: ignore[assignment]
    harness = await make_harness(models, admin_user_ids=[ADMIN.id])
    return harness, bank


def last_sent(harness: BotHarness) -> dict[str, Any]:
    call = [c for c in harness.api.calls if c.method == "sendMessage"][-1]
    return {"params": call.params, "message": call.result}


async def press(harness: BotHarness, person: Person, message: dict[str, Any], data: str
                ) -> dict[str, Any]:
    """``person`` presses the button ``data`` under the bot's ``message``; the answer to the
    callback query (answerCallbackQuery's parameters)."""
    query_id = str(next(_query_ids))
    bot_message = {**message, "from": {"id": BOT_ID, "is_bot": True, "first_name": "RNN",
                                       "username": BOT_USERNAME}}
    update = {"update_id": 10_000 + int(query_id), "callback_query": {
        "id": query_id, "from": person.as_dict(), "chat_instance": "ci", "data": data,
        "message": bot_message}}
    await harness.deliver(update)
    answers = [p for p in harness.api.of("answerCallbackQuery")
               if str(p["callback_query_id"]) == query_id]
    assert len(answers) == 1, "every callback query is answered exactly once"
    return answers[0]


async def ask(harness: BotHarness, person: Person, question: str,
              chat_id: int | None = None) -> dict[str, Any]:
    await harness.send(person, f"/ask {question}", chat_id=chat_id)
    return last_sent(harness)


def buttons(sent: dict[str, Any]) -> list[str]:
    markup = sent["params"].get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


# -- feedback ---------------------------------------------------------------------------------
async def test_model_answers_carry_feedback_buttons_others_do_not(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    answer = await ask(harness, ALICE, "what is RNN?")
    assert answer["params"]["text"] == "A recurrent neural network."
    assert buttons(answer) == ["fb:+", "fb:-"]
    await harness.send(ALICE, "/help")
    assert buttons(last_sent(harness)) == []


async def test_repeated_presses_update_one_row_with_the_model_version(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    answer = await ask(harness, ALICE, "what is RNN?")
    reply = await press(harness, ALICE, answer["message"], "fb:+")
    assert reply["text"] == "Thanks for the feedback!"
    await press(harness, ALICE, answer["message"], "fb:+")
    await press(harness, BOB, answer["message"], "fb:+")
    rows = await harness.rows(
        "SELECT f.user_id, f.rating, m.model_version, m.task FROM feedback f "
        "JOIN messages m ON m.id = f.message_id ORDER BY f.user_id")
    assert [tuple(r) for r in rows] == [(ALICE.id, 1, "qa-v1", "qa"), (BOB.id, 1, "qa-v1", "qa")]
    await press(harness, ALICE, answer["message"], "fb:-")
    rows = await harness.rows("SELECT user_id, rating FROM feedback ORDER BY user_id")
    assert [tuple(r) for r in rows] == [(ALICE.id, -1), (BOB.id, 1)]


async def test_a_press_on_a_message_that_is_no_answer_is_answered_and_ignored(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    await harness.send(ALICE, "/help")
    reply = await press(harness, ALICE, last_sent(harness)["message"], "fb:+")
    assert reply["text"] == "I can no longer find that answer."
    assert await harness.rows("SELECT * FROM feedback") == []


async def test_thumbs_down_asks_and_the_next_message_becomes_a_correction(
        make_harness: HarnessFactory) -> None:
    harness, bank = await start(make_harness)
    answer = await ask(harness, ALICE, "who made you")
    await press(harness, ALICE, answer["message"], "fb:-")
    prompt = last_sent(harness)["params"]
    assert prompt["text"] == "What should I have said? Reply with the right answer."
    assert prompt["reply_markup"]["force_reply"] is True
    calls_before = len(harness.api.calls)
    replies = await harness.send(ALICE, "The people who run me trained me.")
    assert replies == ["Thank you! An admin will review your correction before I learn it."]
    assert len(harness.api.calls) == calls_before + 1  # answered, no model reply
    rows = await harness.rows("SELECT c.user_id, c.text, c.status, m.text FROM corrections c "
                              "JOIN messages m ON m.id = c.message_id")
    assert [tuple(r) for r in rows] == [(ALICE.id, "The people who run me trained me.",
                                         "pending", answer["params"]["text"])]
    assert "who made you" not in bank.pairs  # nothing learnt before review
    # the message after the correction goes to the models again
    assert await harness.send(ALICE, "/ask what is rnn") == ["A recurrent neural network."]


async def test_a_prompt_survives_a_restart(make_harness: HarnessFactory) -> None:
    """The 👎 prompt is written through to pending_prompts: a bot started again on the same
    database still takes the user's next text as the correction, once."""
    first, _ = await start(make_harness)
    answer = await ask(first, ALICE, "who made you")
    await press(first, ALICE, answer["message"], "fb:-")
    assert len(await first.rows("SELECT * FROM pending_prompts")) == 1
    second, _ = await start(make_harness)  # a new process on the same database
    second.chatter = first.chatter  # Telegram's message ids go on where they were
    second.api._next_message_id = 50_000  # and so do the ids of the bot's own messages
    replies = await second.send(ALICE, "The people who run me trained me.")
    assert replies == ["Thank you! An admin will review your correction before I learn it."]
    rows = await second.rows("SELECT user_id, text FROM corrections")
    assert [tuple(r) for r in rows] == [(ALICE.id, "The people who run me trained me.")]
    assert await second.rows("SELECT * FROM pending_prompts") == []
    assert await second.send(ALICE, "/ask what is rnn") == ["A recurrent neural network."]


async def test_in_groups_a_reply_to_the_prompt_is_the_correction(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    answer = await ask(harness, ALICE, "who made you", chat_id=GROUP)
    await press(harness, BOB, answer["message"], "fb:-")
    prompt = last_sent(harness)
    assert prompt["params"]["reply_markup"] == {"force_reply": True, "selective": True}
    assert f"tg://user?id={BOB.id}" in prompt["params"]["text"]
    # Alice's unrelated message is not taken for Bob's correction
    await harness.send(ALICE, f"@{BOT_USERNAME} what is rnn", chat_id=GROUP)
    bot_prompt = {**prompt["message"], "from": {"id": BOT_ID, "is_bot": True,
                                                "first_name": "RNN"}}
    await harness.send(BOB, "Its admins trained it.", chat_id=GROUP, reply_to=bot_prompt)
    rows = await harness.rows("SELECT user_id, text FROM corrections")
    assert [tuple(r) for r in rows] == [(BOB.id, "Its admins trained it.")]


# -- teaching ---------------------------------------------------------------------------------
async def test_teach_adds_to_the_bank_at_once_and_to_the_training_data(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    replies = await harness.send(ADMIN, "/teach Who maintains this bot? | Mara does.")
    assert replies == ['Learned. Asked "Who maintains this bot?", I will now answer: Mara does.']
    assert await harness.send(ALICE, "/ask who maintains this bot") == ["Mara does."]
    rows = await harness.rows("SELECT task, source, target, origin, author_id, active "
                              "FROM taught_pairs")
    assert [tuple(r) for r in rows] == [("qa", "Who maintains this bot?", "Mara does.",
                                         "teach", ADMIN.id, 1)]


async def test_malformed_teach_gets_usage_and_stores_nothing(
        make_harness: HarnessFactory) -> None:
    harness, bank = await start(make_harness)
    for text in ("/teach", "/teach only a question", "/teach | an answer", "/teach q |  "):
        replies = await harness.send(ADMIN, text)
        assert replies[0].startswith("Usage: /teach QUESTION | ANSWER"), text
    assert await harness.rows("SELECT * FROM taught_pairs") == []
    assert len(bank.pairs) == 1


async def test_teach_without_a_qa_model_keeps_the_pair_for_training(
        make_harness: HarnessFactory) -> None:
    harness = await make_harness(admin_user_ids=[ADMIN.id])  # no qa model
    replies = await harness.send(ADMIN, "/teach Q1? | A1.")
    assert "answer bank is not available" in replies[0]
    assert len(await harness.rows("SELECT * FROM taught_pairs")) == 1


async def test_pairs_stored_while_the_bank_was_down_reach_it_at_sync(
        make_harness: HarnessFactory) -> None:
    harness, bank = await start(make_harness)
    services = harness.services
    await asyncio.gather(*app_module._BACKGROUND)  # the start-up sync (nothing to add then)
    async with services.db.unit_of_work() as uow:  # taught while qa was not loaded
        await uow.taught.add("qa", "Where is the spare key?", "Under the mat.", "teach", None)
    assert await services.learning.sync_bank() == 1
    assert await harness.send(ALICE, "/ask where is the spare key") == ["Under the mat."]
    assert await services.learning.sync_bank() == 0
    assert len(bank.pairs) == 2


# -- review -----------------------------------------------------------------------------------
async def _corrected(harness: BotHarness, person: Person, question: str, text: str) -> None:
    answer = await ask(harness, person, question)
    await press(harness, person, answer["message"], "fb:-")
    await harness.send(person, text)


async def test_review_approve_teaches_the_corrected_answer(
        make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    await _corrected(harness, ALICE, "who made you?", "A small team of volunteers.")
    await _corrected(harness, BOB, "where do you run", "On a laptop.")
    await harness.send(ADMIN, "/review")
    page = last_sent(harness)
    assert page["params"]["text"].startswith("Correction 1 of 2")
    assert "Question: who made you?" in page["params"]["text"]
    assert "Suggested: A small team of volunteers." in page["params"]["text"]
    approve = buttons(page)[0]
    assert re.fullmatch(r"rv:a:\d+:0", approve)
    reply = await press(harness, ADMIN, page["message"], approve)
    assert reply["text"].startswith("Approved #")
    edited = harness.api.of("editMessageText")[-1]["text"]
    assert "Correction 1 of 1" in edited and "On a laptop." in edited
    assert await harness.send(ALICE, "/ask who made you?") == ["A small team of volunteers."]
    rows = await harness.rows("SELECT t.task, t.source, t.target, t.origin, t.author_id, "
                              "c.status, c.reviewed_by FROM taught_pairs t "
                              "JOIN corrections c ON c.id = t.correction_id")
    assert [tuple(r) for r in rows] == [("qa", "who made you?", "A small team of volunteers.",
                                         "correction", ALICE.id, "approved", ADMIN.id)]
    # pressing approve again changes nothing
    again = await press(harness, ADMIN, page["message"], approve)
    assert "already reviewed" in again["text"]
    assert len(await harness.rows("SELECT * FROM taught_pairs")) == 1


async def test_review_edit_and_reject(make_harness: HarnessFactory) -> None:
    harness, bank = await start(make_harness)
    await _corrected(harness, ALICE, "who made you?", "lol nobody")
    await _corrected(harness, BOB, "where do you run", "On a laptop in a cupboard.")
    await harness.send(ADMIN, "/review")
    page = last_sent(harness)
    reject = buttons(page)[2]
    await press(harness, ADMIN, page["message"], reject)
    edited = harness.api.of("editMessageText")[-1]
    assert edited["text"].startswith("Rejected #")
    edit = [b for row in edited["reply_markup"]["inline_keyboard"] for b in row][1]
    shown = {**page["message"], "reply_markup": edited["reply_markup"]}  # as edited
    await press(harness, ADMIN, shown, edit["callback_data"])
    assert last_sent(harness)["params"]["reply_markup"]["force_reply"] is True
    replies = await harness.send(ADMIN, "On a small server.")
    assert replies[0].startswith("Approved #")
    assert replies[0].endswith("No corrections are waiting for review.")
    rows = await harness.rows("SELECT user_id, status, final_text FROM corrections ORDER BY id")
    assert [tuple(r) for r in rows] == [(ALICE.id, "rejected", None),
                                        (BOB.id, "approved", "On a small server.")]
    assert bank.pairs[_key("where do you run")] == "On a small server."
    assert _key("who made you") not in bank.pairs


# -- the admin gate on each admin command -----------------------------------------------------
ADMIN_COMMANDS = ("/teach Q? | A.", "/review", "/status", "/stats")


async def test_non_admins_are_refused_everywhere_and_nothing_changes(
        make_harness: HarnessFactory) -> None:
    harness, bank = await start(make_harness)
    await _corrected(harness, ALICE, "who made you?", "Volunteers.")
    tables = ("taught_pairs", "corrections", "feedback")
    before = {t: await harness.rows(f"SELECT * FROM {t}") for t in tables}
    refusal = "Sorry, only the bot's admins can use this command."
    for chat_id in (None, GROUP):
        for command in ADMIN_COMMANDS:
            name, _, rest = command.partition(" ")
            text = f"{name}@{BOT_USERNAME} {rest}" if chat_id else command
            assert await harness.send(BOB, text.strip(), chat_id=chat_id) == [refusal], text
    assert harness.api.of("sendPhoto") == []
    # an admin's review button pressed by someone else
    await harness.send(ADMIN, "/review")
    page = last_sent(harness)
    for data in buttons(page):
        reply = await press(harness, BOB, page["message"], data)
        assert reply == {"callback_query_id": reply["callback_query_id"], "text": refusal,
                         "show_alert": True}
    assert {t: await harness.rows(f"SELECT * FROM {t}") for t in tables} == before
    assert "q" not in bank.pairs
    audit = await harness.rows("SELECT user_id, action, allowed FROM audit_log "
                               "WHERE user_id = :u", u=BOB.id)
    assert len(audit) == 2 * len(ADMIN_COMMANDS) + len(buttons(page))
    assert all(not row.allowed for row in audit)
    assert {row.action for row in audit} == {"teach", "review", "status", "stats",
                                             "review_button"}


# -- status and stats -------------------------------------------------------------------------
async def test_status_and_stats_for_admins(make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    answer = await ask(harness, ALICE, "what is rnn")
    await press(harness, ALICE, answer["message"], "fb:+")
    await ask(harness, BOB, "what is rnn")
    status = (await harness.send(ADMIN, "/status"))[0]
    assert status.startswith("Up for 00:00:")
    assert "qa qa-v1" in status and "Next retrain: not scheduled" in status
    assert re.search(r"Database: [\d.]+ (KiB|MiB)", status)  # PostgreSQL's: 7.8 MiB when new
    started = time.perf_counter()
    stats = (await harness.send(ADMIN, "/stats"))[0]
    assert "2 model answers" in stats and "Per task: qa 2" in stats
    assert "👍 rate: 100% (1 👍, 0 👎)" in stats
    assert re.search(r"Latency \(arrival to reply\): p50 \d+ ms, p90 \d+ ms, p99 \d+ ms", stats)
    [photo] = [c for c in harness.api.calls if c.method == "sendPhoto"]
    assert photo.files["photo"].startswith(b"\x89PNG")
    assert time.perf_counter() - started < 10


async def test_stats_with_no_traffic(make_harness: HarnessFactory) -> None:
    harness = await make_harness(admin_user_ids=[ADMIN.id])
    stats = (await harness.send(ADMIN, "/stats"))[0]
    assert "0 model answers" in stats and "👍 rate: none" in stats
    assert harness.api.of("sendPhoto")


async def test_help_lists_admin_commands_to_admins_only(make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    assert "/teach" in (await harness.send(ADMIN, "/help"))[0]
    user_help = (await harness.send(ALICE, "/help"))[0]
    assert "/teach" not in user_help and "/forgetme" in user_help
