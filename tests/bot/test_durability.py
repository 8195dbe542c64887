"""Durability: what a commit, a confirmation to Telegram and a power loss leave behind."""

from __future__ import annotations

from pathlib import Path

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
