"""Group commit (``Database.write``): concurrent writes share one transaction; a write's caller
hears back only after its transaction committed; one failing write fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.storage import Database
from bot.storage.repositories import UnitOfWork


async def test_concurrent_writes_commit_together_and_return_after_the_commit(
        tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    commits: list[int] = []
    event.listen(db.engine.sync_engine, "commit", lambda conn: commits.append(1))

    def add(user_id: int) -> Callable[[UnitOfWork], Awaitable[int]]:
        async def work(uow: UnitOfWork) -> int:
            record = await uow.users.upsert(user_id, f"u{user_id}", "U", "en")
            return record.id

        return work

    async def write_and_look(user_id: int) -> tuple[int, int]:
        result = await db.write(add(user_id))
        # committed: another connection (another process) sees the row already
        with sqlite3.connect(path) as other:
            [(seen,)] = other.execute("SELECT count(*) FROM users WHERE id=?", (user_id,))
        return result, seen

    try:
        results = await asyncio.gather(*(write_and_look(i) for i in range(1, 21)))
        assert results == [(i, 1) for i in range(1, 21)]
        assert 1 <= len(commits) < 20  # the first alone, the rest in a few groups
    finally:
        await db.close()


async def test_a_failing_write_fails_alone_and_the_rest_of_its_group_commits(
        tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.migrate()

    def good(user_id: int) -> Callable[[UnitOfWork], Awaitable[int]]:
        async def work(uow: UnitOfWork) -> int:
            return (await uow.users.upsert(user_id, None, "U", None)).id

        return work

    async def bad(uow: UnitOfWork) -> int:
        await uow.users.upsert(99, None, "Half", None)  # rolled back with its transaction
        raise ValueError("broken")

    try:
        outcomes = await asyncio.gather(
            *(db.write(good(i)) for i in range(1, 4)),
            db.write(bad), *(db.write(good(i)) for i in range(4, 7)),
            return_exceptions=True)
        assert outcomes[:3] == [1, 2, 3] and outcomes[4:] == [4, 5, 6]
        assert isinstance(outcomes[3], ValueError)
        async with db.unit_of_work(write=False) as uow:
            assert await uow.users.get(99) is None
            assert [u.id for u in [await uow.users.get(i) for i in range(1, 7)] if u] == [
                1, 2, 3, 4, 5, 6]
        with pytest.raises(ValueError):
            await db.write(bad)
    finally:
        await db.close()
