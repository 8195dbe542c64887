"""Backups restore every row (SQLite's backup API, pg_dump / pg_restore), and
``python -m bot.storage.copy`` moves a SQLite database to PostgreSQL and back, row for row."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import Database
from bot.storage.copy import copy_database, main
from bot.storage.models import Base, FloodBudget, utcnow
from bot.storage.records import IncomingMessage, OutgoingMessage
from bot.storage.replicas import ReplicaRepository, RetrainRequestRepository
from bot.storage.repositories import RECEIVED
from bot.storage.training import RetrainRunRepository
from tests.pg_server import PostgresServer

pytestmark = pytest.mark.both_engines


async def populate(db: Database) -> None:
    """At least one row in every table, with text, JSON, timestamps, booleans and NULLs."""
    async with db.unit_of_work() as uow:
        for user_id, name in ((7, "Ann"), (8, "Ben"), (99, "Gone")):
            await uow.users.upsert(user_id, name.lower(), name, "en")
            await uow.chats.upsert(user_id, "private", None)
        await uow.chats.upsert(-5, "group", "Friends ✨")
        await uow.users.set_language(7, "zh")
        asked = await uow.messages.add_incoming(IncomingMessage(
            7, "private", None, 1, 7, "ann", "Ann", "en", "what is rnn? 你好",
            raw_update={"update_id": 1, "message": {"text": "what is rnn? 你好"}}),
            RECEIVED, "replica-a")
        assert asked is not None
        answer = await uow.messages.add_outgoing(
            OutgoingMessage(7, 2, "A recurrent network.", 1, "qa", "qa-v1", 0.75, 12.5, 3, 40.0),
            asked)
        await uow.messages.add_incoming(IncomingMessage(
            -5, "group", "Friends ✨", 3, 8, "ben", "Ben", None, "hello all", addressed=False),
            "ignored", None)
        await uow.feedback.rate(answer, 8, 1)
        correction = await uow.corrections.add(answer, 8, "A recurrent neural network.")
        await uow.taught.add("qa", "what is rnn", "A recurrent neural network.", "correction",
                             8, correction)
        await uow.taught.add("qa", "what is a cat", "A small animal.", "teach", 7)
        await uow.audit.add(7, 7, "teach", {"task": "qa", "n": 1}, True, "taught")
        await uow.prompts.save(7, 7, "correction", answer, None, utcnow() + timedelta(hours=1))
        await RetrainRunRepository(uow.session).add("qa", "admin", 7, "promoted", "qa-v1",
                                                    metrics={"bleu": 0.5})
        await uow.privacy.forget(99, [("qa", "f" * 64)])
        await ReplicaRepository(uow.session).beat(
            "a" * 32, "host-1", 4242, utcnow(), versions={"qa": "qa-v1"},
            failed_versions={}, in_flight=2, handled=10, leader=True)
        await RetrainRequestRepository(uow.session).add(["qa", "chat"], 7, 7, 12, "zh")
        uow.session.add(FloodBudget(key="chat:-5", window=29_000_000, used=3))


async def every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return {table.name: [tuple(row) for row in await connection.execute(
                sa.select(table).order_by(*table.primary_key.columns))]
                for table in Base.metadata.sorted_tables}
    finally:
        await engine.dispose()


@pytest.fixture
async def populated(database_url: str) -> str:
    db = Database(database_url)
    await db.migrate()
    await populate(db)
    await db.close()
    rows = await every_row(database_url)
    assert all(rows.values()), {name: len(r) for name, r in rows.items()}  # no table left empty
    return database_url


async def test_a_backup_restores_every_row(populated: str, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    before = await every_row(populated)
    if populated.startswith("sqlite"):
        # what the README shows: SQLite's online backup API (the bot may keep running)
        live = sqlite3.connect(sa.engine.make_url(populated).database or "")
        with sqlite3.connect(tmp_path / "backup.sqlite3") as backup:
            live.backup(backup)
        live.close()
        restored = Database(f"sqlite+aiosqlite:///{tmp_path / 'backup.sqlite3'}")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        dump = tmp_path / "bot.dump"
        name = sa.engine.make_url(populated).database or ""
        subprocess.run([server.tool("pg_dump"), "-Fc", "-f", str(dump), server.dsn(name)],
                       check=True, timeout=60)
        server.execute("DROP DATABASE IF EXISTS restored")
        server.execute("CREATE DATABASE restored")
        subprocess.run([server.tool("pg_restore"), "--no-owner", "-d", server.dsn("restored"),
                        str(dump)], check=True, timeout=60)
        restored = Database(server.url("restored"))
    await restored.migrate()  # a restored backup is at head: nothing to do
    await restored.close()
    assert await every_row(restored.url) == before


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_copy_from_sqlite_to_postgresql_and_back_keeps_every_row(
        database_url: str, tmp_path: Path) -> None:
    source = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    db = Database(source)
    await db.migrate()
    await populate(db)
    await db.close()
    before = await every_row(source)

    # the command line of the README (in a thread: it runs its own event loop)
    assert await asyncio.to_thread(
        main, ["--from", f"sqlite:///{tmp_path / 'old.sqlite3'}", "--to", database_url]) == 0
    assert await every_row(database_url) == before
    with pytest.raises(RuntimeError, match="already holds rows"):  # never into a used database
        await copy_database(source, database_url)

    moved = Database(database_url)  # ids continue after the copied ones
    async with moved.unit_of_work() as uow:
        row = await uow.messages.add_incoming(IncomingMessage(
            7, "private", None, 10, 7, "ann", "Ann", "en", "after the move"), RECEIVED, None)
    await moved.close()
    assert row == max(r[0] for r in before["messages"]) + 1

    back = f"sqlite+aiosqlite:///{tmp_path / 'back.sqlite3'}"
    await copy_database(database_url, back)
    after = await every_row(back)
    assert {name: rows for name, rows in after.items() if name != "messages"} == {
        name: rows for name, rows in before.items() if name != "messages"}
    assert after["messages"][:-1] == before["messages"] and len(after["messages"]) == len(
        before["messages"]) + 1


async def test_copy_refuses_a_missing_source(tmp_path: Path) -> None:
    assert await asyncio.to_thread(main, ["--from", f"sqlite:///{tmp_path / 'none.sqlite3'}",
                                          "--to", f"sqlite:///{tmp_path / 'to.sqlite3'}"]) == 1
