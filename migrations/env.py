"""Alembic environment: async SQLAlchemy, batch mode for SQLite (not PostgreSQL), the bot's
naming convention.

Used two ways: by the bot at start-up (``Database.migrate`` passes its connection in
``config.attributes["connection"]``) and by the ``alembic`` command line, which reads the
database URL from ``DATABASE_URL`` / ``.env`` through the bot's settings.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import async_engine_from_config

from bot.storage.models import Base, UTCDateTime

config = context.config
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.config import Settings

    return Settings().database_url


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write the UTC timestamp type as a plain ``sa.DateTime()`` into migration scripts."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def configure(sqlite: bool, **kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=sqlite,  # SQLite alters tables by copying them; PostgreSQL alters them
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    url = database_url()
    configure(make_url(url).get_backend_name() == "sqlite", url=url, literal_binds=True,
              dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    configure(connection.dialect.name == "sqlite", connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = database_url()
    engine = async_engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
