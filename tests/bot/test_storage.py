"""Storage on a temporary SQLite file and on PostgreSQL (``both_engines``): migrations, pragmas,
exactly-once storage, repositories."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bot.storage import Database
from bot.storage.db import alembic_config
from bot.storage.models import Base
from bot.storage.records import IncomingMessage, OutgoingMessage, UserRecord
from bot.storage.repositories import ANSWERED, IGNORED, RECEIVED

pytestmark = pytest.mark.both_engines


@pytest.fixture
async def db(tmp_path: Path, database_url: str) -> AsyncIterator[Database]:
    if database_url.startswith("sqlite"):  # the parent directory is created too
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'bot.sqlite3'}"
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.close()


def incoming(message_id: int, text: str = "hi", user_id: int = 7, chat_id: int = 7,
             command: str | None = None) -> IncomingMessage:
    return IncomingMessage(chat_id, "private" if chat_id > 0 else "group", None, message_id,
                           user_id, "ann", "Ann", "en", text, command=command)


async def seed(db: Database, chat_id: int = 7, user_id: int = 7) -> None:
    async with db.unit_of_work() as uow:
        await uow.users.upsert(user_id, "ann", "Ann", "en")
        await uow.chats.upsert(chat_id, "private" if chat_id > 0 else "group", None)


async def test_pragmas_and_schema(db: Database) -> None:
    if db.engine.dialect.name == "sqlite":
        assert await db.pragma("journal_mode") == "wal"
        assert await db.pragma("foreign_keys") == 1
        assert await db.pragma("busy_timeout") == 10_000
    async with db.engine.connect() as connection:
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))
                   ).scalar()
        tables = set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
    assert version == "0006"
    assert {"users", "chats", "messages", "feedback", "corrections", "taught_pairs",
            "audit_log", "retrain_runs", "forgotten_users", "pending_prompts",
            "forgotten_pairs", "replicas", "retrain_requests", "flood_budget"} <= tables


async def test_migrations_match_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    assert diff == []


async def test_alembic_check_is_clean(db: Database) -> None:
    """``alembic check`` (the command line's own code path: env.py with its own engine)."""
    await asyncio.to_thread(command.check, alembic_config(db.url))


async def test_migrate_is_idempotent_and_downgrades_cleanly(db: Database) -> None:
    await db.migrate()  # a second start-up changes nothing

    def down_and_up(connection: object) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        command.upgrade(config, "head")

    async with db.engine.connect() as connection:
        await connection.run_sync(down_and_up)
        await connection.commit()
    await seed(db)


async def test_an_incoming_message_is_stored_exactly_once(db: Database) -> None:
    await seed(db)
    async with db.unit_of_work() as uow:
        first = await uow.messages.add_incoming(incoming(1), RECEIVED, "me")
        again = await uow.messages.add_incoming(incoming(1, "changed"), RECEIVED, "me")
    assert first is not None and again is None
    async with db.unit_of_work(write=False) as uow:
        stored = await uow.messages.get(7, 1)
    assert stored is not None and stored.text == "hi" and stored.status == RECEIVED


async def test_concurrent_writers_wait_instead_of_failing(db: Database) -> None:
    await seed(db)

    async def store(i: int) -> int | None:
        async with db.unit_of_work() as uow:
            return await uow.messages.add_incoming(incoming(i % 25), RECEIVED, "me")

    results = await asyncio.gather(*(store(i) for i in range(100)))
    assert len([r for r in results if r is not None]) == 25


async def test_claim_takes_over_only_once(db: Database) -> None:
    await seed(db)
    async with db.unit_of_work() as uow:
        row = await uow.messages.add_incoming(incoming(1), RECEIVED, "dead")
        assert row is not None
        assert await uow.messages.claim(row, "dead", "new")
        assert not await uow.messages.claim(row, "dead", "other")
        await uow.messages.set_status(row, ANSWERED)
        assert not await uow.messages.claim(row, "new", "other")


async def test_outgoing_rows_carry_the_model_version(db: Database) -> None:
    await seed(db)
    async with db.unit_of_work() as uow:
        row = await uow.messages.add_incoming(incoming(1), RECEIVED, "me")
        assert row is not None
        await uow.messages.add_outgoing(
            OutgoingMessage(7, 2, "你好", 1, "translate-en-zh", "v9", 0.7, 12.5, 3), row)
        replies = await uow.messages.replies_to(row)
    assert [(r.task, r.model_version, r.direction) for r in replies] == [
        ("translate-en-zh", "v9", "out")]


async def test_deleting_a_user_deletes_their_messages_and_the_replies(db: Database) -> None:
    await seed(db)
    async with db.unit_of_work() as uow:
        row = await uow.messages.add_incoming(incoming(1), RECEIVED, "me")
        assert row is not None
        await uow.messages.add_outgoing(OutgoingMessage(7, 2, "hello", 1, "chat", "v1"), row)
        await uow.session.execute(text("DELETE FROM users WHERE id = 7"))
    async with db.engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM messages"))).scalar()
    assert count == 0


async def test_recent_lines_are_user_text_oldest_first(db: Database) -> None:
    await seed(db, chat_id=-5, user_id=7)
    async with db.unit_of_work() as uow:
        await uow.users.upsert(8, None, "Ben", None)
        await uow.messages.add_incoming(incoming(1, "first", 7, -5), IGNORED, None)
        await uow.messages.add_incoming(incoming(2, "/digest", 7, -5, "digest"), RECEIVED, None)
        await uow.messages.add_incoming(incoming(3, "second", 8, -5), IGNORED, None)
        await uow.messages.add_incoming(incoming(4, "third", 7, -5), IGNORED, None)
        lines = await uow.messages.recent_lines(-5, 2)
        earlier = await uow.messages.recent_lines(-5, 10, before=4)
    assert [(line.author, line.text) for line in lines] == [("Ben", "second"), ("Ann", "third")]
    assert [line.text for line in earlier] == ["first", "second"]


async def test_users_keep_their_language_choice_across_upserts(db: Database) -> None:
    await seed(db)
    async with db.unit_of_work() as uow:
        await uow.users.set_language(7, "zh")
        user = await uow.users.upsert(7, "ann2", "Ann", "en")
    assert user == UserRecord(7, "ann2", "Ann", "en", "zh")


async def test_a_failed_unit_of_work_leaves_no_half_written_rows(db: Database) -> None:
    await seed(db)
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            row = await uow.messages.add_incoming(incoming(1), RECEIVED, "me")
            assert row is not None
            await uow.messages.add_outgoing(OutgoingMessage(7, 2, "x", 1, "chat", "v1"), row)
            raise RuntimeError("disk full, say")
    async with db.engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM messages"))).scalar()
    assert count == 0
