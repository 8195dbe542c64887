"""Twenty users at once: everyone gets their own answers; reply latency and batching measured.

The figures (p50/p95 reply latency for one user and for 20 concurrent users, the share of
model calls that decoded more than one request) are printed and written to
``bot-latency.json`` in the test's temporary directory.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from botapi_emulator.bot_process import EN, LiveBot, percentile, start_live_bot

USERS = 20
MESSAGES_PER_USER = 5


def timed_exchange(live: LiveBot, chat: Any, user: Any, text: str) -> tuple[float, int, Any]:
    started = time.perf_counter()
    sent, [reply] = live.exchange(chat, user, text, timeout=120)
    elapsed = time.perf_counter() - started
    assert reply["reply_to_message"]["message_id"] == sent["message_id"]
    return elapsed, sent["message_id"], reply


def conversation(live: LiveBot, index: int) -> list[tuple[float, int, Any, str]]:
    """One user's messages, alternating translation and chat; (latency, id, chat, task)."""
    user, chat = live.person(f"User{index}")
    results = []
    for turn in range(MESSAGES_PER_USER):
        if turn % 2 == 0:
            # "Open the file" keeps a real model's output Chinese (it writes "zero" as "0")
            text, task = "/translate Open the file " + " ".join(
                EN[int(d)] for d in f"{index}{turn}"), "translate-en-zh"
        else:
            text, task = f"hello number {index}", "chat"
        elapsed, message_id, reply = timed_exchange(live, chat, user, text)
        if task == "translate-en-zh":
            assert re.search(r"[\u3400-\u9fff]", reply["text"]), reply["text"]
        results.append((elapsed, message_id, chat, task))
    return results


@pytest.mark.parametrize("flood_limit", [30, 1000])
def test_twenty_concurrent_users_get_their_own_answers(
    botapi: Any, bot_models: Path, tmp_path: Path, flood_limit: int
) -> None:
    """With Telegram's flood limit (30 messages/s) and without it (the bot's own latency)."""
    live = start_live_bot(botapi, bot_models, tmp_path, f"rnn_load{flood_limit}_bot",
                          7000 + flood_limit, inference_threads=1,
                          telegram_max_messages_per_s=flood_limit,
                          preload_tasks="intent,chat,qa,translate-en-zh")
    warm_user, warm_chat = live.person("Warm")
    timed_exchange(live, warm_chat, warm_user, "hello")  # the first request warms up
    single = [r[0] for r in conversation(live, 99) + conversation(live, 98)]
    with ThreadPoolExecutor(USERS) as pool:
        runs = list(pool.map(lambda i: conversation(live, i), range(USERS)))
    concurrent = [r[0] for run in runs for r in run]
    for run in runs:  # every reply stored against the right message with the right model
        for _, message_id, chat, task in run:
            assert live.stored_reply(chat.id, message_id)[0] == task
    rows = live.process.rows("SELECT batch_size, latency_ms, model_ms FROM messages "
                             "WHERE direction='out' AND batch_size IS NOT NULL")
    in_bot = [r[1] for r in rows]
    assert live.process.stop() == 0
    [stats_line] = [line for line in live.process.log().splitlines()
                    if "inference stats:" in line]
    stats = eval(stats_line.split("inference stats: ", 1)[1], {})  # a dict literal we logged
    figures = {
        "telegram_max_messages_per_s": flood_limit,
        "single_user": {"n": len(single), "p50_ms": percentile(single, 50) * 1000,
                        "p95_ms": percentile(single, 95) * 1000},
        "concurrent_users": USERS,
        "concurrent": {"n": len(concurrent), "p50_ms": percentile(concurrent, 50) * 1000,
                       "p95_ms": percentile(concurrent, 95) * 1000},
        "in_bot_ms": {"p50": percentile(in_bot, 50), "p95": percentile(in_bot, 95)},
        "model_ms": {"p50": percentile([r[2] for r in rows], 50),
                     "p95": percentile([r[2] for r in rows], 95)},
        "replies_from_shared_batches": sum(1 for r in rows if r[0] > 1) / len(rows),
        "model_calls": stats["calls"],
        "share_of_model_calls_batched": stats["share_calls_batched"],
        "share_of_requests_batched": stats["share_requests_batched"],
        "mean_batch": stats["mean_batch"],
        "largest_batch": stats["largest_batch"],
    }
    (tmp_path / "bot-latency.json").write_text(json.dumps(figures, indent=2))
    print("\nbot latency:", json.dumps(figures, indent=2))
    assert len(concurrent) == USERS * MESSAGES_PER_USER
    assert stats["batched_calls"] > 0  # concurrent chats shared forward passes
