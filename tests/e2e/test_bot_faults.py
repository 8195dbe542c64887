"""The Bot API misbehaves, the bot is killed under load: nothing is lost, nothing sent twice.

Faults come from the emulator (``inject_fault``): 429 with ``retry_after``, 500, 502, a dropped
connection, and time-outs. The bot must back off, retry, and answer every message exactly
once; the one case where exactly once cannot be had (Telegram accepted a reply whose answer
never arrived) is answered at least once, and this test pins down that it is only that case.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from botapi_emulator.bot_process import LiveBot, start_live_bot
from tests.e2e.test_bot_restart import FREE_TEXT, numbers, wait_replies


@pytest.fixture(scope="module")
def bot(botapi: Any, bot_models: Path, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[LiveBot]:
    live = start_live_bot(botapi, bot_models, tmp_path_factory.mktemp("bot-faults"),
                          "rnn_faults_bot", 8000, tf_intra_threads=1, tf_inter_threads=1,
                          preload_tasks="translate-en-zh")  # every message here is /translate
    yield live
    assert live.process.stop() == 0
    log = live.process.log()
    assert live.handle.token not in log  # not even in the retry warnings
    # Every fault was absorbed by a retry: no error of the bot's own (PTB logs the 502's HTML
    # body it could not parse, with a traceback, under telegram.request).
    assert " ERROR bot." not in log


def send_from_many(live: LiveBot, people: int, per_person: int) -> list[tuple[Any, dict]]:
    """``people`` users each send ``per_person`` messages at once; (chat, sent message)."""
    users = [live.person(f"F{live.ids.next_user}") for _ in range(people)]

    def one(index: int) -> list[tuple[Any, dict]]:
        user, chat = users[index]
        return [(chat, live.handle.send_text(chat, user, f"/translate {numbers(index * 10 + n)}"))
                for n in range(per_person)]

    with ThreadPoolExecutor(people) as pool:
        return [item for batch in pool.map(one, range(people)) for item in batch]


def replies_per_message(live: LiveBot, sent: list[tuple[Any, dict]], timeout: float = 120
                        ) -> dict[tuple[int, int], int]:
    """How many replies quote each sent message (chat id, message id), once every one has
    at least one (or the time-out passed)."""
    counts: dict[tuple[int, int], int] = {}
    for chat in {c.id: c for c, _ in sent}.values():
        mine = [m for c, m in sent if c.id == chat.id]
        for message_id, n in wait_replies(live, chat, mine, timeout).items():
            counts[(chat.id, message_id)] = n
    return counts


def once_each(sent: list[tuple[Any, dict]]) -> dict[tuple[int, int], int]:
    return {(chat.id, m["message_id"]): 1 for chat, m in sent}


def assert_stored_once(live: LiveBot, sent: list[tuple[Any, dict]]) -> None:
    """Each message stored once and answered, with exactly one reply row (the bot records a
    reply just after Telegram accepted it: wait a moment for that)."""
    deadline = time.monotonic() + 15
    for chat, message in sent:
        while True:
            rows = live.process.rows(
                "SELECT direction, status FROM messages WHERE chat_id=? AND (message_id=? OR "
                "reply_to_message_id=?) ORDER BY id", chat.id, message["message_id"],
                message["message_id"])
            if rows == [("in", "answered"), ("out", "sent")] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert rows == [("in", "answered"), ("out", "sent")], (message["text"], rows)


@pytest.mark.parametrize(("kind", "times"), [
    ("429", 3),  # PTB's rate limiter retries after retry_after
    ("500", 3),
    ("502", 2),
    ("disconnect", 2),  # connection dropped before the request was processed
])
def test_api_errors_are_retried_without_loss_or_duplicates(
    bot: LiveBot, kind: str, times: int
) -> None:
    calls_before = len(bot.handle.calls("sendMessage"))
    bot.handle.inject_fault("sendMessage", kind, times=times, retry_after=1)
    sent = send_from_many(bot, 4, 3)
    counts = replies_per_message(bot, sent)
    time.sleep(1.0)  # a late duplicate would show now
    counts = replies_per_message(bot, sent)
    assert counts == once_each(sent)
    assert_stored_once(bot, sent)
    faulted = [c for c in bot.handle.calls("sendMessage")[calls_before:] if c.fault == kind]
    assert len(faulted) == times and not any(c.accepted for c in faulted)
    if kind == "429":  # each refused reply was tried again only after retry_after
        calls = bot.handle.calls("sendMessage")[calls_before:]
        for refused in faulted:
            retry = next(c for c in calls if c.seq > refused.seq
                         and c.params["chat_id"] == refused.params["chat_id"]
                         and c.params["reply_parameters"] == refused.params["reply_parameters"])
            assert retry.started - refused.finished >= 0.9


@pytest.mark.slow
def test_time_outs_are_retried(bot: LiveBot) -> None:
    """The server never answers (PTB gives up after its read time-out): retried, once."""
    bot.handle.inject_fault("sendMessage", "timeout", times=2, hold=60)
    sent = send_from_many(bot, 2, 2)
    counts = replies_per_message(bot, sent, timeout=180)
    assert counts == once_each(sent)
    assert_stored_once(bot, sent)


@pytest.mark.slow
def test_an_accepted_reply_whose_answer_is_lost_is_sent_at_least_once(bot: LiveBot) -> None:
    """Telegram took the reply but its answer never came: the bot cannot know, and retries
    rather than lose the reply (the README's at-least-once window)."""
    user, chat = bot.person("Tia")
    bot.handle.inject_fault("sendMessage", "timeout_after_accept", times=1, hold=60)
    sent = bot.handle.send_text(chat, user, "/translate one two")

    def replies() -> list[Any]:
        return [c for c in bot.handle.calls("sendMessage")
                if c.params.get("chat_id") == str(chat.id)
                and json.loads(c.params.get("reply_parameters") or "{}").get("message_id")
                == sent["message_id"]]

    deadline = time.monotonic() + 60  # the retry comes after PTB's read time-out
    while len(replies()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    counts = wait_replies(bot, chat, [sent], timeout=5)
    assert counts == {sent["message_id"]: 2}  # never lost; twice, the known cost
    calls = replies()
    assert [(c.fault, c.accepted) for c in calls] == [("timeout_after_accept", True),
                                                      (None, True)]


@pytest.mark.slow
def test_killed_under_load_every_message_is_answered(
    botapi: Any, bot_models: Path, tmp_path: Path
) -> None:
    """SIGKILL while 8 users write at once, restart: every message the bot had stored is
    answered, and a message answered twice only if its first reply reached Telegram but was not
    recorded yet (the window the README describes; with replies in flight at the kill, a few
    messages are).

    No message is lost: updates that ``getUpdates`` handed to the bot but that it had not
    stored when it died are not confirmed to Telegram (bot/inbox.py holds back the next
    offset), so Telegram delivers them again after the restart.
    """
    live = start_live_bot(botapi, bot_models, tmp_path, "rnn_killload_bot", 9000,
                          tf_intra_threads=1, tf_inter_threads=1,
                          preload_tasks=f"{FREE_TEXT},translate-en-zh")
    warm_user, warm_chat = live.person("Warm")
    assert live.reply_text(warm_chat, warm_user, "hello").strip()
    users = [live.person(f"K{i}") for i in range(8)]
    sent: list[tuple[Any, dict]] = []

    def write(index: int) -> None:
        user, chat = users[index]
        for n in range(6):
            sent.append((chat, live.handle.send_text(chat, user, f"/translate {numbers(n)}")))
            time.sleep(0.05)

    with ThreadPoolExecutor(len(users)) as pool:
        futures = [pool.submit(write, i) for i in range(len(users))]
        deadline = time.monotonic() + 60  # kill once some, not all, are answered
        while len(live.process.rows("SELECT id FROM messages WHERE direction='out'")) < 12:
            assert time.monotonic() < deadline, live.process.current_log()[-3000:]
            time.sleep(0.01)
        live.process.stop(signal.SIGKILL)
        for future in futures:
            future.result()
    recorded = set(live.process.rows(
        "SELECT chat_id, reply_to_message_id FROM messages WHERE direction='out'"))
    stored = set(live.process.rows(
        "SELECT chat_id, message_id FROM messages WHERE direction='in'"))
    live.process.start()
    live.process.wait_ready()
    wanted = set(once_each(sent))
    deadline = time.monotonic() + 90  # one deadline for all chats: a lost message fails fast
    while True:
        counts = replies_per_message(live, sent, timeout=0.5)
        if set(counts) >= wanted or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(1.5)
    counts = replies_per_message(live, sent, timeout=0.5)
    twice = [key for key, n in counts.items() if n > 1]
    assert all(counts[key] == 2 and key not in recorded for key in twice), (counts, recorded)
    assert live.process.stop() == 0
    assert live.handle.token not in live.process.log()
    lost = wanted - set(counts)
    print(f"\nkilled under load: {len(sent)} messages, {len(stored)} stored at the kill, "
          f"{len(lost)} lost, {len(twice)} answered twice (first reply accepted, not recorded)")
    assert not lost, f"lost: {sorted(lost)} (stored before the kill: {sorted(lost & stored)})"
