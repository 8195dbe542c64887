"""Restarts: a graceful stop mid-conversation, and a SIGKILL with replies in flight. Every
message is answered exactly once across the restart; chat settings survive it."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from botapi_emulator.bot_process import EN, LiveBot, start_live_bot

# Each bot loads at start only the models its test uses (the others would load on first use),
# since these tests start the bot twice and its start-up is most of their time.
TRANSLATE = "translate-en-zh"  # the chat is in translate mode
FREE_TEXT = "intent,chat,qa"  # free text is routed by intent, then answered by chat or qa


def numbers(i: int) -> str:
    return " ".join(EN[int(d)] for d in str(i))


def wait_replies(live: LiveBot, chat: Any, sent: list[dict[str, Any]], timeout: float = 120
                 ) -> dict[int, int]:
    """Replies per user message (by the message they quote), once all are answered."""
    wanted = {m["message_id"] for m in sent}
    deadline = time.monotonic() + timeout
    while True:
        counts: dict[int, int] = {}
        for message in live.handle.bot_messages(chat):
            quoted = (message.get("reply_to_message") or {}).get("message_id")
            if isinstance(quoted, int) and quoted in wanted:
                counts[quoted] = counts.get(quoted, 0) + 1
        if set(counts) == wanted or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def test_graceful_restart_mid_conversation(botapi: Any, bot_models: Path, tmp_path: Path) -> None:
    live = start_live_bot(botapi, bot_models, tmp_path, "rnn_restart_bot", 4000,
                          preload_tasks=TRANSLATE)
    user, chat = live.person("Pat")
    assert live.reply_text(chat, user, "/mode translate") == "Mode set to translate."
    sent = [live.handle.send_text(chat, user, numbers(i)) for i in range(10, 16)]
    assert live.process.stop(signal.SIGTERM) == 0  # while some of them are in flight
    sent += [live.handle.send_text(chat, user, numbers(i)) for i in range(16, 19)]  # bot down
    live.process.start()
    live.process.wait_ready()
    counts = wait_replies(live, chat, sent)
    assert counts == {m["message_id"]: 1 for m in sent}  # nothing lost, nothing twice
    # each reply is recorded right after Telegram accepted it (group commit): wait for each
    tasks = [live.stored_reply(chat.id, m["message_id"])[0] for m in sent]
    assert tasks == ["translate-en-zh"] * len(sent)  # the chat's mode survived the restart
    assert len(live.process.rows("SELECT id FROM messages WHERE chat_id=? AND direction='out' "
                                 "AND task IS NOT NULL", chat.id)) == len(sent)  # none twice
    assert live.process.stop() == 0
    assert "Traceback" not in live.process.log()


def test_killed_with_replies_in_flight(botapi: Any, bot_models: Path, tmp_path: Path) -> None:
    live = start_live_bot(botapi, bot_models, tmp_path, "rnn_kill_bot", 5000,
                          preload_tasks=FREE_TEXT)
    user, chat = live.person("Quin")
    assert live.reply_text(chat, user, "hello").strip()
    # Telegram stops accepting replies: the bot has accepted the messages, none is answered.
    live.handle.inject_fault("sendMessage", "timeout", times=100, hold=60)
    sent = [live.handle.send_text(chat, user, f"message number {i}") for i in range(5)]
    deadline = time.monotonic() + 60
    while len(live.process.rows("SELECT id FROM messages WHERE chat_id=? AND direction='in' "
                                "AND status='received'", chat.id)) < len(sent):
        assert time.monotonic() < deadline, live.process.current_log()[-3000:]
        time.sleep(0.1)
    live.process.stop(signal.SIGKILL)
    live.handle.clear_faults()
    live.process.start()
    live.process.wait_ready()
    counts = wait_replies(live, chat, sent)
    assert counts == {m["message_id"]: 1 for m in sent}
    assert "left unanswered by the previous run" in live.process.current_log()
    assert live.process.stop() == 0


@pytest.mark.parametrize("same_id", [False, True])
def test_redelivery_after_restart_is_not_answered_again(
    botapi: Any, bot_models: Path, tmp_path: Path, same_id: bool
) -> None:
    live = start_live_bot(botapi, bot_models, tmp_path, f"rnn_redeliver{int(same_id)}_bot",
                          6000 + 100 * int(same_id), preload_tasks=FREE_TEXT)
    user, chat = live.person("Ray")
    sent, _ = live.exchange(chat, user, "hello")
    live.process.stop()
    live.handle.deliver_again(sent, same_id=same_id)
    live.process.start()
    live.process.wait_ready()
    assert live.silence(chat, quiet=2.0) == []
    assert live.process.stop() == 0
