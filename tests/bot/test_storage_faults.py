"""SQLite locked by another writer, and the disk full while writing: a clear log line, an error
reply to the user, no half-written rows, and normal service once the database is back.

The lock is real (a second connection holds ``BEGIN IMMEDIATE`` on the bot's database file,
with the busy time-out shortened); the full disk is SQLite's own error (``SQLITE_FULL``),
raised by a SQLAlchemy event hook on chosen statements.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.storage import db as db_module
from tests.bot.conftest import BotHarness, HarnessFactory
from tests.bot.fakes import Person

ALICE = Person(301, "Alice")
BOB = Person(302, "Bob")
ERROR_REPLY = "Sorry, something went wrong on my side. Please try again."


@pytest.fixture
async def harness(make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch) -> BotHarness:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)  # a lock shows within 0.2 s
    return await make_harness()


@contextmanager
def locked_by_another_writer(path: Path) -> Iterator[None]:
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # the write lock, held until the block ends
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextmanager
def disk_full_on(harness: BotHarness, matches: Callable[[str], bool]) -> Iterator[list[str]]:
    """Statements for which ``matches(sql)`` fail as SQLite fails on a full disk."""
    engine = harness.services.db.engine.sync_engine
    failed: list[str] = []

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        if matches(statement):
            failed.append(statement)
            raise sqlite3.OperationalError("database or disk is full")

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", before)


def database_file(harness: BotHarness) -> Path:
    url = harness.services.settings.database_url
    return Path(re.sub(r"^sqlite\+aiosqlite:///", "", url))


async def message_rows(harness: BotHarness, chat_id: int) -> list[tuple[object, ...]]:
    return await harness.rows(
        "SELECT direction, status, text FROM messages WHERE chat_id=:c ORDER BY id", c=chat_id)


async def test_a_locked_database_gets_an_error_reply_and_service_resumes(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with locked_by_another_writer(database_file(harness)):
        assert await harness.send(ALICE, "hello while locked") == [ERROR_REPLY]
    assert "the database failed while handling update" in caplog.text
    assert "database is locked" in caplog.text
    assert "hello while locked" not in caplog.text  # user text stays out of the logs
    assert await message_rows(harness, ALICE.id) == []  # nothing half-written
    [(users,)] = await harness.rows("SELECT count(*) FROM users WHERE id=:u", u=ALICE.id)
    assert users == 0  # the user row was in the same (rolled back) transaction
    assert await harness.send(ALICE, "hello again") == ["chat:hello again"]
    assert await message_rows(harness, ALICE.id) == [
        ("in", "answered", "hello again"), ("out", "sent", "chat:hello again")]


async def test_disk_full_when_storing_the_message(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with disk_full_on(harness, lambda sql: sql.startswith("INSERT INTO messages")) as failed:
        assert await harness.send(BOB, "hello on a full disk") == [ERROR_REPLY]
    assert failed
    assert "the database failed while handling update" in caplog.text
    assert "database or disk is full" in caplog.text
    assert "hello on a full disk" not in caplog.text
    assert await message_rows(harness, BOB.id) == []
    assert await harness.send(BOB, "hello again") == ["chat:hello again"]


async def test_disk_full_when_recording_the_answer_leaves_no_half_written_rows(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """The reply went out; recording it fails half way (the reply row is written, the
    status update fails): the transaction is rolled back whole, and the user, who has the
    answer, is not sent an error as well."""
    with disk_full_on(harness, lambda sql: sql.startswith("UPDATE messages SET status")):
        assert await harness.send(ALICE, "one") == ["chat:one"]
    assert "answered message" in caplog.text and "could not record the answer" in caplog.text
    assert await message_rows(harness, ALICE.id) == [("in", "received", "one")]  # no reply row
    assert await harness.send(ALICE, "two") == ["chat:two"]
    assert (await message_rows(harness, ALICE.id))[1:] == [
        ("in", "answered", "two"), ("out", "sent", "chat:two")]


async def test_a_reply_that_cannot_be_recorded_marks_the_message_failed(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """Recording the reply fails once (its transaction is rolled back); the message is then
    marked failed on its own: the user has the answer, and neither a restart nor another
    replica answers it again."""
    chosen: list[str] = []

    def first_insert_of_a_reply(sql: str) -> bool:  # the reply was sent: its record
        if (sql.startswith("INSERT INTO messages") and not chosen
                and harness.api.of("sendMessage")):
            chosen.append(sql)
            return True
        return False

    with disk_full_on(harness, first_insert_of_a_reply) as failures:
        assert await harness.send(ALICE, "one") == ["chat:one"]
    assert len(failures) == 1
    assert "could not record the answer" in caplog.text
    assert await message_rows(harness, ALICE.id) == [("in", "failed", "one")]
    assert await harness.services.turns.interrupted(900) == []  # not answered again

