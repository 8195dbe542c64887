"""The learning loop over HTTP: /teach, 👍/👎 and corrections, /review, the admin gate,
/forgetme and /exportme, on the real shipped qa model (``python -m bot`` against the emulator).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botapi_emulator.bot_process import LiveBot, percentile, start_live_bot

BOT = "rnn_learning_bot"
ADMIN_ID = 5000

# Ten facts the shipped answer bank does not know, each with two paraphrases nobody taught.
FACTS = [
    ("What is the wifi password in the office?", "The office wifi password is tulip-42.",
     ["what's the office wifi password", "tell me the password for the office wifi"]),
    ("Who is the maintainer of this bot?", "Mara Lindqvist maintains this bot.",
     ["who maintains this bot", "who looks after the bot"]),
    ("When does the library close on Fridays?", "On Fridays the library closes at 6 pm.",
     ["what time does the library close on friday", "until when is the library open on fridays"]),
    ("Where is the team meeting held?", "Team meetings are held in room B214.",
     ["in which room is the team meeting", "where do we have the team meeting"]),
    ("What is the name of the office cat?", "The office cat is called Pixel.",
     ["what's the office cat called", "how is the office cat named"]),
    ("How many vacation days do employees get?", "Employees get 28 vacation days a year.",
     ["how many days of vacation do employees have", "how much vacation does an employee get"]),
    ("Which port does the staging server use?", "The staging server listens on port 8717.",
     ["what port is the staging server on", "on which port does staging run"]),
    ("Who won the chess tournament this year?", "Ingrid Solberg won this year's chess tournament.",
     ["who was the winner of this year's chess tournament", "who won the chess tournament"]),
    ("What is the budget code for travel?", "Travel expenses use budget code TR-5503.",
     ["which budget code do I use for travel", "what's the travel budget code"]),
    ("When is the next company picnic?", "The next company picnic is on June 14.",
     ["when will the next company picnic be", "what is the date of the company picnic"]),
]
ADMIN_COMMANDS = ["/teach Is this allowed? | No.", "/review", "/status", "/stats", "/retrain qa",
                  "/models", "/promote qa v1", "/rollback qa"]
REFUSAL = "Sorry, only the bot's admins can use this command."


@pytest.fixture(scope="module")
def bot(botapi: Any, bot_models: Path, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[LiveBot]:
    live = start_live_bot(botapi, bot_models, tmp_path_factory.mktemp("bot-learning"), BOT,
                          ADMIN_ID, admin_user_ids=str(ADMIN_ID), typing_delay_ms=0)
    assert live.process.serves("qa"), "these tests need the shipped qa model"
    yield live
    assert live.process.stop() == 0
    assert "Traceback" not in live.process.log()


def admin(bot: LiveBot) -> tuple[Any, Any]:
    user = bot.handle.user(ADMIN_ID, "Ada", username="ada")
    return user, bot.handle.private_chat(user)


def buttons(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [str(b["callback_data"]) for row in rows for b in row]


def press(bot: LiveBot, chat: Any, user: Any, message: dict[str, Any], data: str
          ) -> dict[str, Any]:
    """Press a button and wait for the bot's answer to the callback query."""
    query = bot.handle.press_button(chat, user, message, data)
    return dict(bot.handle.wait_callback_answer(query, timeout=30))


def wait_edited(bot: LiveBot, chat: Any, message: dict[str, Any], start: str) -> str:
    edited = bot.handle.wait_message(chat, message["message_id"],
                                     lambda m: str(m.get("text", "")).startswith(start), 30)
    return str(edited["text"])


def test_taught_facts_are_answered_at_once_in_other_words(bot: LiveBot) -> None:
    ada, ada_chat = admin(bot)
    user, chat = bot.person("Quinn")
    questions = [(q, answer) for _, answer, paraphrases in FACTS for q in paraphrases]
    before = [bot.reply_text(chat, user, f"/ask {q}") for q, _ in questions]
    assert not any(answer in reply for (_, answer), reply in zip(questions, before, strict=True))

    teach_ms = []
    for question, answer, _ in FACTS:
        started = time.perf_counter()
        reply = bot.reply_text(ada_chat, ada, f"/teach {question} | {answer}")
        teach_ms.append((time.perf_counter() - started) * 1000)
        assert reply == f'Learned. Asked "{question}", I will now answer: {answer}'

    exact, found, ask_ms = [], [], []
    for question, answer in questions:
        started = time.perf_counter()
        reply = bot.reply_text(chat, user, f"/ask {question}")
        ask_ms.append((time.perf_counter() - started) * 1000)
        exact.append(reply == answer)  # sure: the answer itself
        found.append(answer in reply)  # or "I'm not sure. The closest thing I know: <answer>"
    print(f"\ntaught facts: {sum(found)}/{len(questions)} paraphrases get the taught answer, "
          f"{sum(exact)}/{len(questions)} above the confidence threshold; /teach p50 "
          f"{percentile(teach_ms, 50):.0f} ms, /ask p50 {percentile(ask_ms, 50):.0f} ms "
          f"p90 {percentile(ask_ms, 90):.0f} ms (round trip over HTTP)")
    assert sum(found) >= 18
    assert all(exact[2 * i] or exact[2 * i + 1] for i in range(len(FACTS)))
    rows = bot.process.rows("SELECT source, target, origin, author_id FROM taught_pairs "
                            "WHERE origin = 'teach' ORDER BY id")
    assert rows == [(q, a, "teach", ADMIN_ID) for q, a, _ in FACTS]


def test_a_thumbs_down_correction_approved_is_the_answer_afterwards(bot: LiveBot) -> None:
    ada, ada_chat = admin(bot)
    user, chat = bot.person("Rhea")
    question = "who painted the mural in the staff room?"
    correction = "The staff room mural was painted by Lena Ortiz."
    _, [answer] = bot.exchange(chat, user, f"/ask {question}")
    assert correction not in answer["text"]
    assert buttons(answer) == ["fb:+", "fb:-"]
    assert press(bot, chat, user, answer, "fb:-")["text"] == "Thanks for the feedback!"
    [prompt] = bot.handle.wait_bot_messages(chat, 1, 30)
    assert prompt["text"] == "What should I have said? Reply with the right answer."
    assert bot.handle.reply_keyboard(chat)["force_reply"] is True
    reply = bot.reply_text(chat, user, correction, reply_to=prompt)
    assert reply == "Thank you! An admin will review your correction before I learn it."
    [(rating, version)] = bot.process.rows(
        "SELECT f.rating, m.model_version FROM feedback f JOIN messages m ON m.id = f.message_id "
        "WHERE f.user_id = ?", user.id)
    assert rating == -1 and version.startswith("v")
    assert bot.process.rows("SELECT text, status FROM corrections WHERE user_id = ?",
                            user.id) == [(correction, "pending")]
    # not learnt before review
    assert correction not in bot.reply_text(chat, user, f"/ask {question}")

    _, [page] = bot.exchange(ada_chat, ada, "/review")
    assert f"Question: {question}" in page["text"] and f"Suggested: {correction}" in page["text"]
    approve = buttons(page)[0]
    assert approve.startswith("rv:a:")
    assert press(bot, ada_chat, ada, page, approve)["text"].startswith("Approved #")
    wait_edited(bot, ada_chat, page, "Approved #")
    assert bot.reply_text(chat, user, f"/ask {question}") == correction
    assert bot.process.rows(
        "SELECT source, target, origin FROM taught_pairs WHERE origin = 'correction'") == [
        (question, correction, "correction")]


def _state(bot: LiveBot) -> dict[str, Any]:
    return {table: bot.process.rows(f"SELECT * FROM {table} ORDER BY 1")
            for table in ("taught_pairs", "corrections", "feedback", "retrain_runs")}


def test_non_admins_are_refused_in_private_and_in_groups(bot: LiveBot) -> None:
    user, chat = bot.person("Mallory")
    other = bot.handle.user(bot.ids.user(), "Oscar", username="oscar")
    group = bot.handle.group(f"Group {bot.ids.group()}", members=[user, other], admins=[user])
    before = _state(bot)
    for command in ADMIN_COMMANDS:
        name, _, rest = command.partition(" ")
        assert bot.reply_text(chat, user, command) == REFUSAL, command
        # a group administrator is not a bot admin
        assert bot.reply_text(group, user, f"{name}@{BOT} {rest}".strip()) == REFUSAL, command
    assert bot.silence(chat) == [] and bot.silence(group) == []
    assert _state(bot) == before
    refused = bot.process.rows("SELECT action, chat_id, allowed, outcome FROM audit_log "
                               "WHERE user_id = ? ORDER BY id", user.id)
    assert len(refused) == 2 * len(ADMIN_COMMANDS)
    assert {row[1] for row in refused} == {chat.id, group.id}
    assert all(allowed == 0 and outcome == "refused: not an admin"
               for _, _, allowed, outcome in refused)
    assert {row[0] for row in refused} == {c.partition(" ")[0][1:] for c in ADMIN_COMMANDS}


def _rows_of(bot: LiveBot, user_id: int) -> dict[str, int]:
    queries = {
        "users": "SELECT count(*) FROM users WHERE id = ?",
        "chats": "SELECT count(*) FROM chats WHERE id = ?",
        "messages": "SELECT count(*) FROM messages WHERE user_id = ?",
        "replies": "SELECT count(*) FROM messages r JOIN messages q ON q.id = r.in_reply_to_id "
                   "WHERE q.user_id = ?",
        "feedback": "SELECT count(*) FROM feedback WHERE user_id = ?",
        "corrections": "SELECT count(*) FROM corrections WHERE user_id = ?",
        "taught_pairs": "SELECT count(*) FROM taught_pairs WHERE author_id = ?",
        "audit_log": "SELECT count(*) FROM audit_log WHERE user_id = ?",
    }
    return {name: bot.process.rows(sql, user_id)[0][0] for name, sql in queries.items()}


def _settled(bot: LiveBot, *user_ids: int) -> None:
    """Until every message of these users is answered and its reply recorded (the bot records
    a reply just after Telegram accepted it)."""
    deadline = time.monotonic() + 15
    marks = ",".join("?" * len(user_ids))
    while bot.process.rows(f"SELECT count(*) FROM messages WHERE status = 'received' "
                           f"AND user_id IN ({marks})", *user_ids)[0][0]:
        assert time.monotonic() < deadline, "messages left unanswered"
        time.sleep(0.05)


def _chat_a_little(bot: LiveBot, user: Any, chat: Any, group: Any) -> None:
    _, [answer] = bot.exchange(chat, user, "/ask what is the office cat called?")
    press(bot, chat, user, answer, "fb:+")
    _, [other] = bot.exchange(chat, user, "/ask how do I reset my password?")
    press(bot, chat, user, other, "fb:-")
    bot.handle.wait_bot_messages(chat, 1, 30)  # the prompt
    bot.exchange(chat, user, "Ask the help desk at extension 42.")
    bot.exchange(group, user, f"@{BOT} hello there")
    bot.exchange(chat, user, "/status")  # refused, audited


def test_forgetme_leaves_no_row_of_the_user(bot: LiveBot) -> None:
    user, chat = bot.person("Uma")
    witness, witness_chat = bot.person("Walt")
    group = bot.handle.group(f"Group {bot.ids.group()}", members=[user, witness])
    _chat_a_little(bot, user, chat, group)
    _chat_a_little(bot, witness, witness_chat, group)
    _settled(bot, user.id, witness.id)
    mine = _rows_of(bot, user.id)
    assert all(mine[t] for t in ("users", "chats", "messages", "replies", "feedback",
                                 "corrections", "audit_log"))
    witness_before = _rows_of(bot, witness.id)

    _, [confirm] = bot.exchange(chat, user, "/forgetme")
    yes = buttons(confirm)[0]
    assert yes == f"fm:yes:{user.id}"
    press(bot, chat, user, confirm, yes)
    done = wait_edited(bot, chat, confirm, "Done.")
    assert "messages: 6" in done
    assert "Receipt: no model has been retrained since" in done  # the unlearning receipt
    assert _rows_of(bot, user.id) == dict.fromkeys(mine, 0)
    assert bot.process.rows("SELECT user_id FROM forgotten_users WHERE user_id = ?",
                            user.id) == [(user.id,)]
    assert _rows_of(bot, witness.id) == witness_before


def test_exportme_returns_exactly_the_users_data(bot: LiveBot) -> None:
    user, chat = bot.person("Xena")
    stranger, stranger_chat = bot.person("Yuri")
    group = bot.handle.group(f"Group {bot.ids.group()}", members=[user, stranger])
    _chat_a_little(bot, user, chat, group)
    _chat_a_little(bot, stranger, stranger_chat, group)
    _settled(bot, user.id, stranger.id)
    _, [message] = bot.exchange(chat, user, "/exportme")
    document = message["document"]
    assert document["file_name"] == f"my-data-{user.id}.json"
    data = json.loads(bot.handle.file_bytes(document["file_id"]))
    assert data["user"]["id"] == user.id and data["user"]["first_name"] == "Xena"
    stored = bot.process.rows("SELECT id, chat_id, text FROM messages WHERE user_id = ? "
                              "ORDER BY id", user.id)
    assert [(m["id"], m["chat_id"], m["text"]) for m in data["messages"]] == stored
    replies = bot.process.rows(
        "SELECT r.id, r.text FROM messages r JOIN messages q ON q.id = r.in_reply_to_id "
        "WHERE q.user_id = ? ORDER BY r.id", user.id)
    assert [(m["id"], m["text"]) for m in data["replies_to_you"]] == replies
    assert [(f["message_id"], f["rating"]) for f in data["feedback"]] == bot.process.rows(
        "SELECT message_id, rating FROM feedback WHERE user_id = ? ORDER BY id", user.id)
    assert [(c["text"], c["status"]) for c in data["corrections"]] == [
        ("Ask the help desk at extension 42.", "pending")]
    assert "Yuri" not in json.dumps(data, ensure_ascii=False)


def test_status_and_stats_for_the_admin(bot: LiveBot) -> None:
    ada, ada_chat = admin(bot)
    status = bot.reply_text(ada_chat, ada, "/status")
    assert status.startswith("Up for ") and "Next retrain: not scheduled" in status
    assert "qa v" in status and "Database: " in status
    _, [text, chart] = bot.exchange(ada_chat, ada, "/stats", n=2)
    assert "model answers" in text["text"] and "👍 rate: " in text["text"]
    assert "p50" in text["text"]
    png = bot.handle.file_bytes(chart["photo"][-1]["file_id"])
    assert png is not None and png.startswith(b"\x89PNG")
    print(f"\n/status: {status}\n/stats: {text['text']}")
