"""Durability: what a commit, a confirmation to Telegram and a power loss leave behind."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.storage import Database

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


async def test_commits_are_synced_to_disk_before_they_return(tmp_path: Path) -> None:
    """WAL with synchronous=NORMAL may lose committed transactions on power loss; the bot
    confirms updates to Telegram once committed, so every connection must run FULL."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.migrate()
    try:
        assert await db.pragma("journal_mode") == "wal"
        assert await db.pragma("synchronous") == FULL
        async with db.unit_of_work() as uow:  # a writing connection, not only the first one
            value = (await uow.session.connection()).exec_driver_sql("PRAGMA synchronous")
            assert (await value).scalar() == FULL
    finally:
        await db.close()


async def test_webhook_start_up_does_not_wait_on_each_interrupted_message(
        make_harness: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages a dead run left unanswered are already stored: re-queueing them at start-up
    (before the webhook server listens, nothing is handled yet) must not wait for them."""
    from bot.app import answer_interrupted
    from bot.storage.records import StoredMessage
    from tests.bot.fakes import Chatter, Person

    harness = await make_harness(webhook_url="https://bot.example.org/hook")
    chatter, ann = Chatter(), Person(7, "Ann")
    left = [StoredMessage(i, 7, i, "in", 7, f"question {i}", "text", None, "received", None,
                          None, "dead-run", datetime.now(UTC),
                          raw_update=chatter.message(ann, f"question {i}"))
            for i in range(1, 6)]

    async def interrupted(_window_s: float) -> list[StoredMessage]:
        return left

    monkeypatch.setattr(harness.app.bot_data.services.turns, "interrupted", interrupted)
    started = time.monotonic()
    await asyncio.wait_for(answer_interrupted(harness.app, 600), 5)
    assert time.monotonic() - started < 1.0  # not 10 s (the inbox's hold) per message
    assert harness.app.update_queue.qsize() == len(left)
