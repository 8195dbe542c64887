"""The database: one async engine, migrations at start-up, one session per unit of work.

SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout and foreign keys
on. A unit of work's transaction starts with ``BEGIN IMMEDIATE`` (issued by the sqlite3 driver
together with the first write, which saves a round trip to the database thread), so two
writers queue on the busy timeout instead of failing when a read lock cannot be upgraded.
Within the process, writers also take turns on an asyncio lock: SQLite's busy handler polls
with sleeps of up to 100 ms, which under many concurrent chats would show as latency, while
waiting on the lock costs nothing. Readers take no lock and see committed data (WAL).

``synchronous=FULL``: with WAL, SQLite's ``NORMAL`` skips the fsync at each commit (only
checkpoints sync), so a power loss could take back transactions that already committed, while
the bot has already confirmed those updates to Telegram (``bot/inbox.py``). ``FULL`` syncs the
WAL at every commit; ``python -m bench.durability`` measures what that costs (README).

Group commit (``write``): the writes of a message's turn (storing it, recording its reply)
queue up while a transaction is in flight and the next transaction commits all of them at once:
one ``BEGIN``/``COMMIT`` and one fsync for every turn that wrote meanwhile, instead of one each.
A caller's ``write`` returns only after the transaction holding its work has committed (so a
message is on disk before Telegram is told it was received). If one work of a group fails, the
group is rolled back and each of its works runs again alone in its own transaction, so a
failure stays with its caller and the others commit.

Migrations use their own connection with explicit ``BEGIN`` (DDL inside the transaction) and
foreign keys off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from bot.storage.repositories import UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[UnitOfWork], Awaitable[Any]]

MAX_GROUP = 64  # works committed together at most
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
BUSY_TIMEOUT_MS = 10_000
SYNCHRONOUS = "FULL"  # module docstring; bench/durability.py compares it with NORMAL


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for this project, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _prepare_sqlite(engine: AsyncEngine, for_migrations: bool = False,
                    synchronous: str = SYNCHRONOUS) -> None:
    """Pragmas on every new connection, and who begins transactions (module docstring)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Migrations: no implicit BEGIN (we issue it, so DDL is transactional). Otherwise the
        # driver begins an IMMEDIATE transaction before the first write statement.
        dbapi_connection.isolation_level = None if for_migrations else "IMMEDIATE"
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA foreign_keys={'OFF' if for_migrations else 'ON'}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    if for_migrations:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")


def _ensure_parent_dir(url: str) -> None:
    database = make_url(url).database
    if _is_sqlite(url) and database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


class Database:
    """Engine, migrations and units of work for one database URL."""

    def __init__(self, url: str, echo: bool = False, synchronous: str = SYNCHRONOUS) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unsupported synchronous mode {synchronous!r}")
        self.url = url
        _ensure_parent_dir(url)
        # hide_parameters: errors and logs show the SQL, never the user text bound into it
        self.engine = create_async_engine(url, echo=echo, hide_parameters=True)
        if _is_sqlite(url):
            _prepare_sqlite(self.engine, synchronous=synchronous.upper())
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_turn = asyncio.Lock()
        self._queued: list[tuple[Work, asyncio.Future[Any]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (foreign keys off while tables are rebuilt)."""
        engine = create_async_engine(self.url, poolclass=NullPool)
        if _is_sqlite(self.url):
            _prepare_sqlite(engine, for_migrations=True)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_upgrade, alembic_config(self.url))
                await connection.commit()
                if _is_sqlite(self.url):
                    problems = (await connection.exec_driver_sql("PRAGMA foreign_key_check"))
                    if rows := problems.fetchall():
                        raise RuntimeError(f"foreign key violations after migrating: {rows[:5]}")
        finally:
            await engine.dispose()

    @asynccontextmanager
    async def unit_of_work(self, write: bool = True) -> AsyncIterator[UnitOfWork]:
        """One session and transaction: committed on success, rolled back on any error."""
        if not write:
            async with self._sessions() as session, session.begin():
                yield UnitOfWork(session)
            return
        async with self._write_turn, self._sessions() as session, session.begin():
            yield UnitOfWork(session)

    async def write(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """``await work(uow)`` in a write transaction shared with the works queued meanwhile
        (group commit, module docstring); returns its result once that transaction committed.

        ``work`` may run twice (alone, after its group failed): it must do nothing but SQL."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)  # a caller cancelled meanwhile does not read it
        self._queued.append((work, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued(), name="group-commit")
        return await asyncio.shield(future)

    async def _commit_queued(self) -> None:
        while self._queued:
            group, self._queued = self._queued[:MAX_GROUP], self._queued[MAX_GROUP:]
            try:
                if len(group) == 1:
                    await self._run_alone(*group[0])
                    continue
                try:
                    async with self.unit_of_work() as uow:
                        results = [await work(uow) for work, _ in group]
                except Exception:  # one of them failed: each alone, its error its own
                    for work, future in group:
                        await self._run_alone(work, future)
                    continue
                for (_, future), result in zip(group, results, strict=True):
                    if not future.done():
                        future.set_result(result)
            except BaseException as exc:  # cancelled (shut down): nobody waits forever
                for _, future in (*group, *self._queued):
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception)
                                             else RuntimeError("database closed"))
                self._queued = []
                raise

    async def _run_alone(self, work: Work, future: asyncio.Future[Any]) -> None:
        try:
            async with self.unit_of_work() as uow:
                result = await work(uow)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)

    async def pragma(self, name: str) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(f"PRAGMA {name}"))).scalar()

    async def close(self) -> None:
        if self._committer is not None:  # the writes queued so far commit first
            await asyncio.gather(self._committer, return_exceptions=True)
        await self.engine.dispose()


MIGRATION_LOCK = 0x626F7431  # PostgreSQL advisory lock key: replicas starting together migrate
                             # one after the other (the others then find the schema at head)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _upgrade(connection: Connection, config: Config) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    log.info("database schema at migration head")
