"""The Telegram handlers end to end inside one process: PTB's Application, fake models, a fake
Bot API. Each test is a short conversation and what it leaves in the database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from model.api import Prediction
from tests.bot.conftest import BotHarness, HarnessFactory
from tests.bot.fakes import BOT_ID, Chatter, FakeModel, FakeModels, Person

ALICE = Person(101, "Alice")
BOB = Person(102, "Bob", language_code="zh-hans")
GROUP = -500


# -- private chats ---------------------------------------------------------------------------
async def test_free_text_is_answered_quoting_the_message(harness: BotHarness) -> None:
    assert await harness.send(ALICE, "hello there") == ["chat:hello there"]
    [call] = harness.api.of("sendMessage")
    assert call["reply_parameters"]["message_id"] == harness.chatter.message_id
    rows = await harness.rows(
        "SELECT direction, status, task, model_version, batch_size FROM messages ORDER BY id")
    assert rows == [("in", "answered", None, None, None), ("out", "sent", "chat", "v-fake", 1)]


@pytest.mark.parametrize(("text", "expected"), [
    ("translate to chinese: good morning", "translate-en-zh:good morning"),
    ("把这句话翻译成英文：早上好", "translate-zh-en:早上好"),
    ("tl;dr: the package provides a parser", "summarize:the package provides a parser"),
    ("what is a parser?", "chat:what is a parser?"),  # no QA model: the chat model answers
    ("nice weather today", "chat:nice weather today"),
])
async def test_free_text_routing_without_intent_model(
    harness: BotHarness, text: str, expected: str
) -> None:
    assert await harness.send(ALICE, text) == [expected]


async def test_intent_model_routes_when_installed(make_harness: HarnessFactory) -> None:
    models = FakeModels.default()
    models.models["intent"] = FakeModel("intent", respond=lambda text: "summarize")  # label only
    harness = await make_harness(models, preload_tasks=["intent"])
    for _ in range(100):  # the model loads in the background
        if harness.services.inference.ready("intent"):
            break
        await asyncio.sleep(0.02)
    assert await harness.send(ALICE, "hi") == ["summarize:hi"]


async def test_question_answering_and_its_uncertainty(make_harness: HarnessFactory) -> None:
    qa = FakeModel("qa")
    qa.predict = lambda texts: [  # type: ignore[method-assign]
        Prediction("42" if "life" in t else "", 0.9, "qa", "v-qa", sure="life" in t,
                   closest_answer="maybe")
        for t in texts]
    models = FakeModels.default()
    models.models["qa"] = qa
    harness = await make_harness(models)
    assert await harness.send(ALICE, "/ask what is life") == ["42"]
    assert await harness.send(ALICE, "/ask what is death") == [
        "I'm not sure. The closest thing I know: maybe"]
    # auto mode: a question the bank does not hold is not handed to the chat model to make up
    # an answer ("what is the capital of France?" -> "omaha nebraska")
    assert await harness.send(ALICE, "what is death?") == ["I don't know that yet."]
    assert await harness.send(ALICE, "法国的首都是哪里？") == ["这个我还不知道。"]
    assert await harness.send(ALICE, "what is life?") == ["42"]


def _intent(label: str, confidence: float) -> FakeModel:
    intent = FakeModel("intent")
    intent.predict = lambda texts: [  # type: ignore[method-assign]
        Prediction(t, confidence, "intent", "v-intent", confidence >= 0.6, label)
        for t in texts]
    return intent


@pytest.mark.parametrize(("label", "confidence", "text", "expected"), [
    ("qa", 0.95, "what is the capital of France?", "I don't know that yet."),
    ("qa", 0.95, "capital of France", "I don't know that yet."),  # the router is sure: a question
    ("chat", 0.5, "what are dried plums called", "I don't know that yet."),  # a question word
    ("chat", 0.5, "you are untidy", "chat:you are untidy"),  # unsure router, no question: chat
    ("summarize", 0.4, "nice weather", "chat:nice weather"),
    ("chat", 0.9, "how are you?", "chat:how are you?"),  # the router's chit-chat goes to chat
])
async def test_unsure_answers_by_router_label_and_confidence(
    make_harness: HarnessFactory, label: str, confidence: float, text: str, expected: str
) -> None:
    qa = FakeModel("qa")
    qa.predict = lambda texts: [  # type: ignore[method-assign]
        Prediction("", 0.3, "qa", "v-qa", sure=False, closest_answer="omaha nebraska")
        for _ in texts]
    models = FakeModels.default()
    models.models["qa"] = qa
    models.models["intent"] = _intent(label, confidence)
    harness = await make_harness(models, preload_tasks=["intent"])
    for _ in range(100):  # the model loads in the background
        if harness.services.inference.ready("intent"):
            break
        await asyncio.sleep(0.02)
    assert await harness.send(ALICE, text) == [expected]


@pytest.mark.parametrize(("admins", "expected"), [
    ([], "I don't know that yet."),
    ([999], "I don't know that yet. An admin can teach me: /teach QUESTION | ANSWER"),
])
async def test_group_dont_know_names_teach_when_there_are_admins(
    make_harness: HarnessFactory, admins: list[int], expected: str
) -> None:
    qa = FakeModel("qa")
    qa.predict = lambda texts: [  # type: ignore[method-assign]
        Prediction("", 0.3, "qa", "v-qa", sure=False) for _ in texts]
    models = FakeModels.default()
    models.models["qa"] = qa
    harness = await make_harness(models, admin_user_ids=admins)
    assert await harness.send(ALICE, "@rnn_test_bot who wrote Vineland?", chat_id=GROUP) == [
        expected]
    assert await harness.send(ALICE, "who wrote Vineland?") == ["I don't know that yet."]


@pytest.mark.parametrize(("command", "expected"), [
    ("/translate good morning", "translate-en-zh:good morning"),
    ("/translate 早上好", "translate-zh-en:早上好"),
    ("/translate en 早上好", "translate-zh-en:早上好"),
    ("/translate zh good\nmorning", "translate-en-zh:good\nmorning"),
    ("/summarize a long text", "summarize:a long text"),
    ("/ask who are you", "chat:who are you"),
])
async def test_commands_with_arguments(harness: BotHarness, command: str, expected: str) -> None:
    assert await harness.send(ALICE, command) == [expected]


@pytest.mark.parametrize(("command", "usage"), [
    ("/translate", "Usage: /translate TEXT"),
    ("/translate zh", "Usage: /translate TEXT"),
    ("/summarize   ", "Usage: /summarize TEXT"),
    ("/ask", "Usage: /ask QUESTION"),
    ("/mode sideways", "This chat's mode is auto. Usage: /mode"),
    ("/lang fr", "My interface language for you is en. Usage: /lang en|zh"),
    ("/digest", "/digest works in groups"),
    ("/frobnicate", "I don't know /frobnicate."),
])
async def test_usage_help_for_missing_or_bad_arguments(
    harness: BotHarness, command: str, usage: str
) -> None:
    [reply] = await harness.send(ALICE, command)
    assert reply.startswith(usage)


async def test_start_and_help(harness: BotHarness) -> None:
    [start] = await harness.send(ALICE, "/start")
    assert start.startswith("Hello, Alice!") and "/translate" in start
    [help_text] = await harness.send(ALICE, "/help")
    assert "/mode" in help_text and "/digest" not in help_text  # group help only in groups


async def test_mode_overrides_the_router_and_persists(harness: BotHarness) -> None:
    assert await harness.send(ALICE, "/mode translate") == ["Mode set to translate."]
    assert await harness.send(ALICE, "nice weather") == ["translate-en-zh:nice weather"]
    assert await harness.send(ALICE, "/mode auto") == ["Mode set to auto."]
    assert await harness.send(ALICE, "nice weather") == ["chat:nice weather"]


async def test_language_from_telegram_and_from_lang(harness: BotHarness) -> None:
    [reply] = await harness.send(BOB, "/ask")  # Telegram says zh-hans
    assert reply == "用法:/ask 问题"
    assert await harness.send(BOB, "/lang en") == ["I will speak English with you."]
    assert await harness.send(BOB, "/ask") == ["Usage: /ask QUESTION"]
    assert await harness.send(ALICE, "/lang zh") == ["我会用中文和你交流。"]


async def test_non_text_in_private_chat(harness: BotHarness) -> None:
    sticker = {"sticker": {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1,
                           "is_animated": False, "is_video": False, "type": "regular"}}
    assert await harness.send(ALICE, None, extra=sticker) == ["Sorry, I only read text messages."]
    [row] = await harness.rows("SELECT content_type, status FROM messages WHERE direction='in'")
    assert row == ("sticker", "answered")


async def test_edited_message_updates_storage_without_a_new_answer(harness: BotHarness) -> None:
    await harness.send(ALICE, "helo")
    original = harness.chatter.message_id
    edit = harness.chatter.message(ALICE, "hello", edited_of=original)
    assert await harness.deliver(edit) == []
    rows = await harness.rows("SELECT text, edited_at IS NOT NULL FROM messages "
                              "WHERE direction='in' AND message_id=:m", m=original)
    assert rows == [("hello", 1)]


async def test_long_replies_are_split(make_harness: HarnessFactory) -> None:
    models = FakeModels([FakeModel("chat", respond=lambda t: ("word " * 1500).strip())])
    harness = await make_harness(models)
    pieces = await harness.send(ALICE, "talk a lot")
    assert len(pieces) == 2 and all(len(p) <= 4096 for p in pieces)
    assert " ".join(pieces) == ("word " * 1500).strip()
    calls = harness.api.of("sendMessage")
    assert "reply_parameters" in calls[0] and "reply_parameters" not in calls[1]
    [(count,)] = await harness.rows("SELECT count(*) FROM messages WHERE direction='out'")
    assert count == 2


async def test_typing_action_while_the_model_works(make_harness: HarnessFactory) -> None:
    harness = await make_harness(FakeModels.default(delay=0.3), typing_delay_ms=0)
    await harness.send(ALICE, "hello")
    assert harness.api.of("sendChatAction")[0]["action"] == "typing"


async def test_model_time_out_gives_a_clear_message(make_harness: HarnessFactory) -> None:
    harness = await make_harness(FakeModels.default(delay=1.0), inference_timeout_s=0.2)
    [reply] = await harness.send(ALICE, "hello")
    assert reply.startswith("The model is busy and did not answer in time.")


async def test_missing_model_is_named(make_harness: HarnessFactory) -> None:
    harness = await make_harness(FakeModels([FakeModel("chat")]))
    [reply] = await harness.send(ALICE, "/summarize something long")
    assert reply == "The summarize model is not available yet. Please try again later."


async def test_input_longer_than_the_limit_is_truncated_with_a_notice(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(max_input_chars=20)
    [reply] = await harness.send(ALICE, "/translate " + "a" * 50)
    assert reply.startswith("translate-en-zh:" + "a" * 20 + "\n")
    assert reply.endswith("(Your text was long; I read the first 20 characters.)")


# -- delivery guarantees ---------------------------------------------------------------------
async def test_a_message_delivered_twice_is_answered_once(harness: BotHarness) -> None:
    update = harness.chatter.message(ALICE, "hello")
    assert await harness.deliver(update) == ["chat:hello"]
    assert await harness.deliver(update) == []
    again = await asyncio.gather(*(harness.deliver(harness.chatter.message(ALICE, "x")
                                                   | {"update_id": 999}) for _ in range(1)))
    assert again == [["chat:x"]]
    [(count,)] = await harness.rows("SELECT count(*) FROM messages WHERE direction='in'")
    assert count == 2


async def test_concurrent_duplicate_deliveries_are_answered_once(harness: BotHarness) -> None:
    update = harness.chatter.message(ALICE, "hello")
    await asyncio.gather(*(harness.deliver(update) for _ in range(5)))
    assert harness.api.texts() == ["chat:hello"]


async def test_messages_left_by_a_dead_process_are_answered_after_restart(
    make_harness: HarnessFactory, tmp_path: object
) -> None:
    first = await make_harness()
    update = first.chatter.message(ALICE, "are you there")
    incoming = await _store_only(first, update)  # accepted, then the process "died"
    assert incoming is not None
    second = await make_harness()  # same database: a restart
    await second.drain_queue()
    assert second.api.texts() == ["chat:are you there"]
    assert await second.deliver(update) == []  # and Telegram delivering it again changes nothing
    rows = await second.rows("SELECT status FROM messages WHERE direction='in'")
    assert rows == [("answered",)]


async def _store_only(harness: BotHarness, update: dict[str, object]) -> object:
    from bot.handlers.incoming import incoming_message
    from tests.bot.fakes import as_update

    parsed = incoming_message(as_update(update, harness.app.bot), harness.app.bot.username,
                              BOT_ID)
    assert parsed is not None
    return await harness.services.turns.begin(parsed)


async def test_a_user_deleted_behind_the_bots_back_is_stored_again(harness: BotHarness) -> None:
    await harness.send(ALICE, "hello")
    async with harness.services.db.unit_of_work() as uow:  # e.g. /forgetme (issue #5)
        await uow.session.execute(text("DELETE FROM users WHERE id = :u"), {"u": ALICE.id})
    assert await harness.send(ALICE, "again") == ["chat:again"]
    assert await harness.rows("SELECT first_name FROM users") == [("Alice",)]


# -- limits and access -----------------------------------------------------------------------
async def test_rate_limit_warns_once_then_stays_quiet(make_harness: HarnessFactory) -> None:
    harness = await make_harness(user_rate_limit=2, user_rate_period_s=60)
    assert await harness.send(ALICE, "one") == ["chat:one"]
    assert await harness.send(ALICE, "two") == ["chat:two"]
    [warning] = await harness.send(ALICE, "three")
    assert warning.startswith("You are sending messages too fast. Please wait")
    assert await harness.send(ALICE, "four") == []
    assert await harness.send(BOB, "hi") == ["chat:hi"]  # others are not affected
    statuses = await harness.rows("SELECT status FROM messages WHERE direction='in' "
                                  "AND user_id=:u ORDER BY id", u=ALICE.id)
    assert [s for (s,) in statuses] == ["answered", "answered", "ignored", "ignored"]


async def test_admins_are_not_rate_limited(make_harness: HarnessFactory) -> None:
    harness = await make_harness(user_rate_limit=1, admin_user_ids=[ALICE.id])
    for word in ("one", "two", "three"):
        assert await harness.send(ALICE, word) == [f"chat:{word}"]


async def test_allow_lists(make_harness: HarnessFactory) -> None:
    harness = await make_harness(allowed_user_ids=[ALICE.id])
    assert await harness.send(ALICE, "hi") == ["chat:hi"]
    assert await harness.send(BOB, "hi") == ["抱歉,这是一个私人机器人。"]
    assert await harness.send(BOB, "hi again") == []  # told once
    assert await harness.send(BOB, "@rnn_test_bot hi", chat_id=GROUP) == []
    [(count,)] = await harness.rows("SELECT count(*) FROM users WHERE id=:u", u=BOB.id)
    assert count == 0  # nothing of theirs is stored
    assert harness.models.models["chat"].batches == [1]


async def test_errors_are_logged_and_reported_without_internals(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals at /srv/db")

    monkeypatch.setattr(harness.services.conversation, "free_text", broken)
    [reply] = await harness.send(ALICE, "hello")
    assert reply == "Sorry, something went wrong on my side. Please try again."
    assert "secret internals" in caplog.text and "Traceback" in caplog.text
    [(status,)] = await harness.rows("SELECT status FROM messages WHERE direction='in'")
    assert status == "failed"


# -- groups ----------------------------------------------------------------------------------
async def test_group_answers_only_when_addressed(harness: BotHarness) -> None:
    assert await harness.send(ALICE, "just chatting", chat_id=GROUP) == []
    assert await harness.send(ALICE, "@rnn_test_bot, how are you", chat_id=GROUP) == [
        "chat:how are you"]
    bot_message = Chatter.bot_message(harness.api._next_message_id, GROUP, "chat:how are you")
    assert await harness.send(BOB, "fine thanks", chat_id=GROUP, reply_to=bot_message) == [
        "chat:fine thanks"]
    other = Chatter.bot_message(77, GROUP, "x") | {"from": {"id": 9, "is_bot": False,
                                                            "first_name": "Carol"}}
    assert await harness.send(BOB, "me too", chat_id=GROUP, reply_to=other) == []
    assert await harness.send(ALICE, "/translate@rnn_test_bot hello", chat_id=GROUP) == [
        "translate-en-zh:hello"]
    assert await harness.send(ALICE, "/translate@other_bot hello", chat_id=GROUP) == []
    assert await harness.send(ALICE, "/translate hello", chat_id=GROUP) == [
        "translate-en-zh:hello"]
    assert await harness.send(ALICE, "/unknown", chat_id=GROUP) == []  # maybe another bot's
    assert await harness.send(ALICE, "/unknown@rnn_test_bot", chat_id=GROUP) == [
        "I don't know /unknown. /help lists what I can do."]


async def test_group_reply_based_translate_and_summarize(harness: BotHarness) -> None:
    original = harness.chatter.message(BOB, "good morning everyone", chat_id=GROUP)
    await harness.deliver(original)
    quoted = original["message"]
    assert await harness.send(ALICE, "/translate", chat_id=GROUP, reply_to=quoted) == [
        "translate-en-zh:good morning everyone"]
    assert await harness.send(ALICE, "/translate zh", chat_id=GROUP, reply_to=quoted) == [
        "translate-en-zh:good morning everyone"]
    assert await harness.send(ALICE, "/summarize@rnn_test_bot", chat_id=GROUP,
                              reply_to=quoted) == ["summarize:good morning everyone"]


async def test_group_help_mentions_digest(harness: BotHarness) -> None:
    [reply] = await harness.send(ALICE, "/help", chat_id=GROUP)
    assert "/digest [N]" in reply


async def test_digest_names_who_said_what(harness: BotHarness) -> None:
    for person, line in [(ALICE, "the release is on friday"), (BOB, "I will write the notes"),
                         (ALICE, "great")]:
        await harness.send(person, line, chat_id=GROUP)
    [reply] = await harness.send(BOB, "/digest 2", chat_id=GROUP)
    assert reply.splitlines() == [
        "最近 2 条消息摘要:", "• Bob, Alice: summarize:I will write the notes. great."]
    [reply] = await harness.send(ALICE, "/digest", chat_id=GROUP)
    assert reply.startswith("Digest of the last 3 messages:")
    [reply] = await harness.send(ALICE, "/digest lots", chat_id=GROUP)
    assert reply == "Usage: /digest [N] with N from 1 to 200"
    [row] = await harness.rows("SELECT task, model_version FROM messages WHERE direction='out' "
                               "AND text LIKE 'Digest%'")
    assert row == ("summarize", "v-fake")
    await harness.send(BOB, "@rnn_test_bot what about monday", chat_id=GROUP)
    [reply] = await harness.send(ALICE, "/digest 1", chat_id=GROUP)
    assert reply.endswith("• Bob: summarize:what about monday.")  # the bot's name left out


async def test_group_privacy_setting_off_stores_nothing_unaddressed(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(store_group_messages=False)
    assert await harness.send(ALICE, "private matter", chat_id=GROUP) == []
    assert await harness.rows("SELECT * FROM messages") == []
    assert await harness.rows("SELECT * FROM users") == []
    await harness.send(ALICE, "@rnn_test_bot hello", chat_id=GROUP)
    [reply] = await harness.send(ALICE, "/digest", chat_id=GROUP)
    assert reply.endswith("(Only messages addressed to me are stored here, so that is all "
                          "I can summarize.)")


async def test_group_non_text_is_ignored(harness: BotHarness) -> None:
    photo = {"photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
             "caption": "@rnn_test_bot look"}
    assert await harness.send(ALICE, None, chat_id=GROUP, extra=photo) == []


async def test_group_mode_needs_a_group_admin(harness: BotHarness) -> None:
    assert await harness.send(ALICE, "/mode chat", chat_id=GROUP) == [
        "Only the group's admins can change its mode."]
    harness.api.member_status = "administrator"
    assert await harness.send(ALICE, "/mode chat", chat_id=GROUP) == ["Mode set to chat."]


async def test_command_menus_for_both_scopes_and_languages(harness: BotHarness) -> None:
    calls = harness.api.of("setMyCommands")
    seen = {(c["scope"]["type"], c.get("language_code")) for c in calls}
    assert seen == {("all_private_chats", None), ("all_private_chats", "zh"),
                    ("all_group_chats", None), ("all_group_chats", "zh")}
    group_en = next(c for c in calls if c["scope"]["type"] == "all_group_chats"
                    and "language_code" not in c)
    assert "digest" in [c["command"] for c in group_en["commands"]]


async def test_database_failure_still_gets_an_error_reply(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def locked(*args: object) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(harness.services.turns, "begin", locked)
    monkeypatch.setattr(harness.services.turns, "mark_failed", locked)
    assert await harness.send(BOB, "hello") == ["抱歉,我这边出了点问题。请再试一次。"]
    assert "database is locked" in caplog.text


async def test_unsure_translation_and_summary_say_so_in_one_line(
    make_harness: HarnessFactory,
) -> None:
    models = FakeModels.default()
    for task in ("translate-en-zh", "summarize"):
        unsure = FakeModel(task)
        unsure.predict = lambda texts, task=task: [  # type: ignore[method-assign]
            Prediction(f"{task}:{t}", 0.1, task, "v-fake", sure="sure" in t) for t in texts]
        models.models[task] = unsure
    harness = await make_harness(models)
    assert await harness.send(ALICE, "/translate good morning") == [
        "translate-en-zh:good morning\n(Low confidence: this may be wrong.)"]
    assert await harness.send(ALICE, "/translate sure thing") == ["translate-en-zh:sure thing"]
    assert await harness.send(ALICE, "/lang zh") != []
    assert await harness.send(ALICE, "/summarize a text") == [
        "summarize:a text\n(把握不大,可能有误。)"]
