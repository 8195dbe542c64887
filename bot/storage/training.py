"""Repositories of retraining: what a training snapshot may contain, and the retrain runs.

SQL only. Nothing of a user in ``forgotten_users`` leaves these queries: not pairs they
authored, not pairs made from their corrections, not their ratings, not answers to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.storage.models import (
    Correction,
    Feedback,
    ForgottenUser,
    Message,
    RetrainRun,
    TaughtPair,
    utcnow,
)

QUEUED, RUNNING, FAILED, REJECTED, PROMOTED, INTERRUPTED = (
    "queued", "running", "failed", "rejected", "promoted", "interrupted")


@dataclass(frozen=True)
class TrainingPair:
    """A question (source) and the answer (target) it should get, and where it came from."""

    source: str
    target: str
    origin: str  # teach | correction | feedback


@dataclass(frozen=True)
class RunRow:
    id: int
    task: str
    trigger: str
    requested_by: int | None
    status: str
    base_version: str | None
    candidate_version: str | None
    progress: float | None
    metrics: dict[str, Any] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


def _run(row: RetrainRun) -> RunRow:
    return RunRow(row.id, row.task, row.trigger, row.requested_by, row.status, row.base_version,
                  row.candidate_version, row.progress, row.metrics, row.error, row.started_at,
                  row.finished_at)


class TrainingDataRepository:
    """The pairs a snapshot adds to a task's corpus (read inside one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def taught(self, task: str) -> list[TrainingPair]:
        """Active taught pairs and approved corrections of ``task``, none of forgotten users
        (nor a correction of an answer to one: its question is theirs)."""
        forgotten = sa.select(ForgottenUser.user_id)
        question = aliased(Message)
        answers_to_forgotten = (  # the question of such a correction is a forgotten user's
            sa.select(Message.id).join(question, question.id == Message.in_reply_to_id)
            .where(question.user_id.in_(forgotten)))
        corrected_by_forgotten = sa.select(Correction.id).where(
            sa.or_(Correction.user_id.in_(forgotten),
                   Correction.message_id.in_(answers_to_forgotten)))
        rows = await self.session.execute(
            sa.select(TaughtPair.source, TaughtPair.target, TaughtPair.origin)
            .where(TaughtPair.task == task, TaughtPair.active,
                   sa.or_(TaughtPair.author_id.is_(None),
                          TaughtPair.author_id.not_in(forgotten)),
                   sa.or_(TaughtPair.correction_id.is_(None),
                          TaughtPair.correction_id.not_in(corrected_by_forgotten)))
            .order_by(TaughtPair.id))
        return [TrainingPair(str(s), str(t), str(o)) for s, t, o in rows]

    async def liked_answers(self, task: str) -> list[TrainingPair]:
        """The bot's own answers of ``task`` that someone rated 👍 (question -> that answer);
        neither the rater nor the asker may be a forgotten user."""
        forgotten = sa.select(ForgottenUser.user_id)
        question = aliased(Message)
        rows = await self.session.execute(
            sa.select(question.text, Message.text)
            .join(Feedback, Feedback.message_id == Message.id)
            .join(question, question.id == Message.in_reply_to_id)
            .where(Message.direction == "out", Message.task == task, Feedback.rating > 0,
                   Feedback.user_id.not_in(forgotten),
                   sa.or_(question.user_id.is_(None), question.user_id.not_in(forgotten)),
                   question.text.is_not(None), Message.text.is_not(None))
            .group_by(Message.id, question.id)  # one question per answer (PostgreSQL wants both)
            .order_by(Message.id))
        return [TrainingPair(str(q), str(a), "feedback") for q, a in rows]


class RetrainRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, task: str, trigger: str, requested_by: int | None, status: str,
                  base_version: str | None = None, started_at: datetime | None = None,
                  metrics: dict[str, Any] | None = None) -> int:
        statement = sa.insert(RetrainRun).values(
            task=task, trigger=trigger, requested_by=requested_by, status=status,
            base_version=base_version, started_at=started_at or utcnow(), metrics=metrics,
        ).returning(RetrainRun.id)
        return int((await self.session.execute(statement)).scalar_one())

    async def update(self, run_id: int, **values: Any) -> None:
        await self.session.execute(
            sa.update(RetrainRun).where(RetrainRun.id == run_id).values(**values))

    async def get(self, run_id: int) -> RunRow | None:
        row = await self.session.get(RetrainRun, run_id)
        return _run(row) if row else None

    async def queued(self, task: str) -> RunRow | None:
        """The scheduled run of ``task`` that is waiting for its due time (``started_at``)."""
        row = await self.session.scalar(
            sa.select(RetrainRun)
            .where(RetrainRun.task == task, RetrainRun.status == QUEUED)
            .order_by(RetrainRun.started_at).limit(1))
        return _run(row) if row else None

    async def drop_queued(self, task: str) -> None:
        await self.session.execute(
            sa.delete(RetrainRun).where(RetrainRun.task == task, RetrainRun.status == QUEUED))

    async def interrupt_running(self, error: str) -> list[RunRow]:
        """Mark runs left ``running`` by a previous process as interrupted; returns them."""
        rows = list(await self.session.scalars(
            sa.select(RetrainRun).where(RetrainRun.status == RUNNING)))
        if rows:
            await self.session.execute(
                sa.update(RetrainRun).where(RetrainRun.id.in_([r.id for r in rows]))
                .values(status=INTERRUPTED, error=error, finished_at=utcnow()))
        return [_run(r) for r in rows]

    async def recent(self, task: str | None = None, limit: int = 10) -> list[RunRow]:
        statement = sa.select(RetrainRun).where(RetrainRun.status != QUEUED)
        if task is not None:
            statement = statement.where(RetrainRun.task == task)
        rows = await self.session.scalars(
            statement.order_by(RetrainRun.started_at.desc(), RetrainRun.id.desc()).limit(limit))
        return [_run(r) for r in rows]
