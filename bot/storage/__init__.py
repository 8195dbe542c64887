"""Storage: tables, the database and its units of work, repositories returning dataclasses."""

from bot.storage.db import Database
from bot.storage.repositories import UnitOfWork

__all__ = ["Database", "UnitOfWork"]
