"""What differs between the two engines the bot stores on: SQLite (embedded, the default) and
PostgreSQL (several replicas). The repositories write one statement for both; this module turns
the few non-standard pieces into each engine's SQL.

- ``insert_on_conflict(session, Model)``: ``INSERT ... ON CONFLICT`` (both engines have it,
  with the same SQLAlchemy API, but each dialect has its own construct).
- ``position(haystack, needle)``: 1-based position of ``needle`` in ``haystack``, 0 when absent
  (``instr`` on SQLite, ``strpos`` on PostgreSQL); case-sensitive on both, unlike ``LIKE`` on
  SQLite.
- ``day(timestamp)``: the ``YYYY-MM-DD`` text of a timestamp.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import expression
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import Integer, String

SQLITE, POSTGRESQL = "sqlite", "postgresql"


def dialect_name(session: AsyncSession) -> str:
    bind = session.get_bind()
    return str(bind.dialect.name)


def insert_on_conflict(session: AsyncSession, table: Any) -> Any:
    """An ``INSERT`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` for the
    session's engine."""
    if dialect_name(session) == POSTGRESQL:
        return postgresql.insert(table)
    return sqlite.insert(table)


class position(expression.FunctionElement[int]):
    type = Integer()
    inherit_cache = True
    name = "position"


@compiles(position)
def _position_default(element: position, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"instr({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


@compiles(position, POSTGRESQL)
def _position_postgresql(element: position, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"strpos({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


class day(expression.FunctionElement[str]):
    type = String()
    inherit_cache = True
    name = "day"


@compiles(day)
def _day_default(element: day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return f"strftime('%Y-%m-%d', {compiler.process(moment, **kw)})"


@compiles(day, POSTGRESQL)
def _day_postgresql(element: day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return f"to_char({compiler.process(moment, **kw)}, 'YYYY-MM-DD')"
