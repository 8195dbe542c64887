"""The replicas table: heartbeats of the bot processes sharing the database, and the messages
that dead ones accepted and never answered. SQL only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import insert_on_conflict
from bot.storage.models import Message, Replica, RetrainRequest, utcnow
from bot.storage.records import StoredMessage
from bot.storage.repositories import RECEIVED, _message


@dataclass(frozen=True)
class ReplicaRecord:
    instance: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime
    versions: dict[str, str]
    failed_versions: dict[str, str]
    in_flight: int
    handled: int
    leader: bool


def _record(row: Replica) -> ReplicaRecord:
    return ReplicaRecord(row.instance, row.host, row.pid, row.started_at, row.seen_at,
                         dict(row.versions or {}), dict(row.failed_versions or {}),
                         row.in_flight, row.handled, row.leader)


class ReplicaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def beat(self, instance: str, host: str, pid: int, started_at: datetime,
                   **state: Any) -> None:
        """Create or refresh this process's row (``seen_at`` now, and its state)."""
        values = {"seen_at": utcnow(), **state}
        await self.session.execute(
            insert_on_conflict(self.session, Replica)
            .values(instance=instance, host=host[:64], pid=pid, started_at=started_at, **values)
            .on_conflict_do_update(index_elements=[Replica.instance], set_=values))

    async def remove(self, instance: str) -> None:
        await self.session.execute(sa.delete(Replica).where(Replica.instance == instance))

    async def forget_dead(self, older_than: datetime) -> int:
        """Delete rows whose heartbeat stopped before ``older_than``; how many."""
        result = await self.session.execute(
            sa.delete(Replica).where(Replica.seen_at < older_than))
        return int(getattr(result, "rowcount", 0) or 0)

    async def alive(self, since: datetime) -> list[ReplicaRecord]:
        """The replicas seen since ``since``, oldest first."""
        rows = await self.session.scalars(
            sa.select(Replica).where(Replica.seen_at >= since)
            .order_by(Replica.started_at, Replica.instance))
        return [_record(row) for row in rows]

    async def is_alive(self, instance: str | None, since: datetime) -> bool:
        if instance is None:
            return False
        seen = await self.session.scalar(
            sa.select(Replica.seen_at).where(Replica.instance == instance))
        return seen is not None and seen >= since

    async def orphaned(self, received_since: datetime, alive_since: datetime
                       ) -> list[StoredMessage]:
        """Messages accepted after ``received_since`` by a process that is not alive (no row
        seen since ``alive_since``) and never answered, oldest first."""
        alive = sa.select(Replica.instance).where(Replica.seen_at >= alive_since)
        rows = await self.session.scalars(
            sa.select(Message)
            .where(Message.direction == "in", Message.status == RECEIVED,
                   Message.created_at >= received_since, Message.raw_update.is_not(None),
                   sa.or_(Message.instance.is_(None), Message.instance.not_in(alive)))
            .order_by(Message.id))
        return [_message(row) for row in rows]


@dataclass(frozen=True)
class RetrainRequestRow:
    id: int
    tasks: list[str]
    requested_by: int
    chat_id: int
    message_id: int
    lang: str


class RetrainRequestRepository:
    """Admins' /retrain commands taken by replicas that do not lead, for the leader."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, tasks: list[str], requested_by: int, chat_id: int, message_id: int,
                  lang: str) -> int:
        row = RetrainRequest(tasks=list(tasks), requested_by=requested_by, chat_id=chat_id,
                             message_id=message_id, lang=lang[:8], status="pending",
                             created_at=utcnow())
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def take(self, instance: str, since: datetime) -> list[RetrainRequestRow]:
        """Claim every pending request made after ``since`` (one UPDATE: one taker each),
        oldest first; older pending ones expire."""
        await self.session.execute(
            sa.update(RetrainRequest)
            .where(RetrainRequest.status == "pending", RetrainRequest.created_at < since)
            .values(status="expired"))
        rows = (await self.session.execute(
            sa.update(RetrainRequest)
            .where(RetrainRequest.status == "pending")
            .values(status="taken", taken_by=instance, taken_at=utcnow())
            .returning(RetrainRequest.id, RetrainRequest.tasks, RetrainRequest.requested_by,
                       RetrainRequest.chat_id, RetrainRequest.message_id,
                       RetrainRequest.lang))).all()
        return sorted((RetrainRequestRow(r.id, [str(t) for t in r.tasks], r.requested_by,
                                         r.chat_id, r.message_id, r.lang) for r in rows),
                      key=lambda r: r.id)


async def earlier_unanswered(session: AsyncSession, chat_id: int, message_id: int,
                             received_since: datetime, alive_since: datetime) -> bool:
    """Whether an earlier message of the chat is still being answered by a live replica."""
    alive = sa.select(Replica.instance).where(Replica.seen_at >= alive_since)
    found = await session.scalar(
        sa.select(Message.id)
        .where(Message.chat_id == chat_id, Message.direction == "in",
               Message.status == RECEIVED, Message.message_id < message_id,
               Message.created_at >= received_since, Message.instance.in_(alive))
        .limit(1))
    return found is not None


def stale_before(timeout_s: float) -> datetime:
    return utcnow() - timedelta(seconds=timeout_s)
