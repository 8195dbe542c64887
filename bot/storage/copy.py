"""Copy every row of the bot's database to another database, e.g. from SQLite to PostgreSQL.

    python -m bot.storage.copy --from sqlite:///data/bot/bot.sqlite3 \\
        --to postgresql+asyncpg://bot@127.0.0.1/bot

Stop the bot first (nothing may write to the source meanwhile). The source must be at the
newest migration (start the bot once on it, or ``alembic upgrade head``); the destination is
migrated to the same head here and must hold no rows. Tables are copied parents first, rows in
primary-key order, in one transaction of the destination: a copy that fails leaves it empty.
Afterwards PostgreSQL's id sequences are moved past the copied ids, and the row counts of
every table are compared (exit status 1 when one differs).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bot.storage.db import Database, alembic_config
from bot.storage.models import Base

BATCH = 1000


def async_url(url: str) -> str:
    """``sqlite:///x`` and ``postgresql://...`` with the bot's async drivers."""
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://"):]
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _revision(connection: AsyncConnection) -> str | None:
    return await connection.run_sync(
        lambda sync: MigrationContext.configure(sync).get_current_revision())


async def _counts(connection: AsyncConnection) -> dict[str, int]:
    counts = {}
    for table in Base.metadata.sorted_tables:
        counts[table.name] = int(
            await connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
    return counts


async def _reset_sequences(connection: AsyncConnection) -> None:
    """PostgreSQL: the next generated id comes after the copied ones."""
    for table in Base.metadata.sorted_tables:
        key = list(table.primary_key.columns)
        if len(key) != 1 or table.autoincrement_column is None:
            continue
        column = key[0].name
        await connection.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
            f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {table.name}"))


async def copy_database(source_url: str, destination_url: str) -> dict[str, int]:
    """Copy every row; returns the rows copied per table. Raises ``RuntimeError`` when the
    source is not at the newest migration, the destination is not empty, or the counts differ
    afterwards."""
    source_url, destination_url = async_url(source_url), async_url(destination_url)
    source_file = sa.engine.make_url(source_url)
    if (source_file.get_backend_name() == "sqlite" and source_file.database
            and not Path(source_file.database).is_file()):
        raise RuntimeError(f"no database file at {source_file.database}")
    destination = Database(destination_url)
    try:
        await destination.migrate()
    finally:
        await destination.close()
    source_engine = create_async_engine(source_url)
    destination_engine = create_async_engine(destination_url)
    try:
        async with source_engine.connect() as source, destination_engine.begin() as target:
            head = _head()
            if (revision := await _revision(source)) != head:
                raise RuntimeError(f"the source is at migration {revision}, not {head}: start "
                                   "the bot on it once (or run alembic upgrade head) first")
            if any((await _counts(target)).values()):
                raise RuntimeError("the destination already holds rows; copy into an empty "
                                   "database")
            if target.dialect.name == "sqlite":
                await target.exec_driver_sql("PRAGMA foreign_keys=ON")
            copied: dict[str, int] = {}
            for table in Base.metadata.sorted_tables:
                order = list(table.primary_key.columns)
                result = await source.stream(sa.select(table).order_by(*order))
                copied[table.name] = 0
                async for rows in result.mappings().partitions(BATCH):
                    await target.execute(sa.insert(table), [dict(row) for row in rows])
                    copied[table.name] += len(rows)
            if target.dialect.name == "postgresql":
                await _reset_sequences(target)
            if (found := await _counts(target)) != (expected := await _counts(source)):
                raise RuntimeError(f"row counts differ after the copy: {found} != {expected}")
        return copied
    finally:
        await source_engine.dispose()
        await destination_engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.storage.copy",
        description="Copy the bot's database (every table, every row) into an empty database.")
    parser.add_argument("--from", dest="source", required=True,
                        help="source URL, e.g. sqlite:///data/bot/bot.sqlite3")
    parser.add_argument("--to", dest="destination", required=True,
                        help="destination URL, e.g. postgresql+asyncpg://bot@127.0.0.1/bot")
    args = parser.parse_args(argv)
    try:
        copied = asyncio.run(copy_database(args.source, args.destination))
    except RuntimeError as error:
        print(f"copy failed: {error}", file=sys.stderr)
        return 1
    for table, count in copied.items():
        print(f"{table:<16} {count:>9} rows")
    print("copied; row counts match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
