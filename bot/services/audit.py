"""The audit log of admin commands: who asked for what, where, and whether it ran."""

from __future__ import annotations

import logging
from typing import Any

from bot.storage.db import Database
from bot.storage.records import AuditRecord

log = logging.getLogger(__name__)

MAX_ARGUMENT_CHARS = 500


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, user_id: int | None, chat_id: int | None, action: str,
                     arguments: dict[str, Any] | None, allowed: bool,
                     outcome: str | None) -> None:
        """One row per admin command call, allowed or refused."""
        if arguments:
            arguments = {k: _clip(v) for k, v in arguments.items()}
        async with self.db.unit_of_work() as uow:
            await uow.audit.add(user_id, chat_id, action, arguments, allowed, outcome)
        log.info("admin command %s by %s in %s: %s (%s)", action, user_id, chat_id,
                 "allowed" if allowed else "refused", outcome)

    async def recent(self, limit: int = 50) -> list[AuditRecord]:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.audit.recent(limit)


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_ARGUMENT_CHARS:
        return value[:MAX_ARGUMENT_CHARS] + "…"
    if isinstance(value, list):
        return [_clip(v) for v in value]
    return value
