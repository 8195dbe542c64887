"""Repositories of the learning loop (issue #5): audit log, feedback, corrections, taught pairs,
privacy (forget / export) and the figures behind /status and /stats. SQL only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import POSTGRESQL, day, dialect_name, insert_on_conflict, position
from bot.storage.models import (
    AuditEntry,
    Chat,
    Correction,
    Feedback,
    ForgottenPair,
    ForgottenUser,
    Message,
    PendingPrompt,
    RetrainRequest,
    RetrainRun,
    TaughtPair,
    User,
    utcnow,
)
from bot.storage.records import (
    AuditRecord,
    CorrectionRecord,
    RatedAnswer,
    RetrainRunRecord,
    TaughtPairRecord,
)

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
QUOTE_MIN_CHARS = 8


def _without_command(text: str) -> str:
    """``/ask@bot what is x`` -> ``what is x``; other text as it is."""
    if not text.startswith("/"):
        return text
    parts = text.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def _correction(row: Correction, question: str | None, command: str | None,
                answer: str | None, task: str | None) -> CorrectionRecord:
    return CorrectionRecord(
        id=row.id, message_id=row.message_id, user_id=row.user_id, text=row.text,
        status=row.status, final_text=row.final_text, reviewed_by=row.reviewed_by,
        created_at=row.created_at, question=question, question_command=command, answer=answer,
        task=task,
    )


def _pair(row: TaughtPair) -> TaughtPairRecord:
    return TaughtPairRecord(row.id, row.task, row.source, row.target, row.origin, row.author_id,
                            row.correction_id, row.active, row.created_at)


def _run(row: RetrainRun) -> RetrainRunRecord:
    return RetrainRunRecord(row.id, row.task, row.trigger, row.status, row.base_version,
                            row.candidate_version, row.error, row.started_at, row.finished_at)


def _jsonable(row: Any, columns: list[str]) -> dict[str, Any]:
    values = {}
    for name in columns:
        value = getattr(row, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user_id: int | None, chat_id: int | None, action: str,
                  arguments: dict[str, Any] | None, allowed: bool, outcome: str | None) -> int:
        statement = sa.insert(AuditEntry).values(
            user_id=user_id, chat_id=chat_id, action=action, arguments=arguments,
            allowed=allowed, outcome=outcome, created_at=utcnow(),
        ).returning(AuditEntry.id)
        return int((await self.session.execute(statement)).scalar_one())

    async def recent(self, limit: int = 50) -> list[AuditRecord]:
        rows = await self.session.scalars(
            sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        return [AuditRecord(r.id, r.user_id, r.chat_id, r.action, r.arguments, r.allowed,
                            r.outcome, r.created_at) for r in rows]


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rate(self, message_row_id: int, user_id: int, rating: int) -> None:
        """One rating per user and answer: pressing again replaces it."""
        statement = (
            insert_on_conflict(self.session, Feedback)
            .values(message_id=message_row_id, user_id=user_id, rating=rating,
                    created_at=utcnow())
            .on_conflict_do_update(index_elements=[Feedback.message_id, Feedback.user_id],
                                   set_={"rating": rating, "created_at": utcnow()})
        )
        await self.session.execute(statement)

    async def answer(self, chat_id: int, message_id: int) -> RatedAnswer | None:
        """One of the bot's model answers, by its Telegram ids; None if it is not one."""
        row = (await self.session.scalars(
            sa.select(Message).where(Message.chat_id == chat_id, Message.message_id == message_id,
                                     Message.direction == "out"))).one_or_none()
        if row is None or row.task is None:
            return None
        return RatedAnswer(row.id, row.text, row.task, row.model_version,
                           row.reply_to_message_id)


class CorrectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, message_row_id: int, user_id: int, text: str) -> int:
        statement = sa.insert(Correction).values(
            message_id=message_row_id, user_id=user_id, text=text, status=PENDING,
            created_at=utcnow(),
        ).returning(Correction.id)
        return int((await self.session.execute(statement)).scalar_one())

    def _with_context(self) -> Any:
        """Corrections with the question (the user's message) and the bot's answer."""
        answer = sa.orm.aliased(Message)
        question = sa.orm.aliased(Message)
        return (
            sa.select(Correction, question.text, question.command, answer.text, answer.task)
            .join(answer, answer.id == Correction.message_id)
            .outerjoin(question, question.id == answer.in_reply_to_id)
        )

    async def get(self, correction_id: int) -> CorrectionRecord | None:
        row = (await self.session.execute(
            self._with_context().where(Correction.id == correction_id))).one_or_none()
        return _correction(*row) if row else None

    async def pending(self, offset: int = 0) -> tuple[CorrectionRecord | None, int]:
        """The ``offset``-th pending correction (oldest first) and how many are pending."""
        total = await self.session.scalar(
            sa.select(sa.func.count()).select_from(Correction)
            .where(Correction.status == PENDING))
        row = (await self.session.execute(
            self._with_context().where(Correction.status == PENDING)
            .order_by(Correction.id).offset(offset).limit(1))).one_or_none()
        return (_correction(*row) if row else None), int(total or 0)

    async def review(self, correction_id: int, status: str, reviewer: int,
                     final_text: str | None) -> bool:
        """Decide a pending correction; False when it was already decided (or is gone)."""
        result = await self.session.execute(
            sa.update(Correction)
            .where(Correction.id == correction_id, Correction.status == PENDING)
            .values(status=status, reviewed_by=reviewer, reviewed_at=utcnow(),
                    final_text=final_text)
        )
        return bool(getattr(result, "rowcount", 0))


class TaughtPairRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, task: str, source: str, target: str, origin: str,
                  author_id: int | None, correction_id: int | None = None) -> int:
        statement = sa.insert(TaughtPair).values(
            task=task, source=source, target=target, origin=origin, author_id=author_id,
            correction_id=correction_id, active=True, created_at=utcnow(),
        ).returning(TaughtPair.id)
        return int((await self.session.execute(statement)).scalar_one())

    async def active(self, task: str) -> list[TaughtPairRecord]:
        rows = await self.session.scalars(
            sa.select(TaughtPair).where(TaughtPair.task == task, TaughtPair.active)
            .order_by(TaughtPair.id))
        return [_pair(row) for row in rows]


class PrivacyRepository:
    """What a user asks about themselves: everything stored of them, or nothing at all."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def export(self, user_id: int) -> dict[str, Any]:
        """Every row about the user: profile, messages (theirs and the replies to them),
        feedback, corrections, taught pairs they authored."""
        user = await self.session.get(User, user_id)
        mine = sa.select(Message.id).where(Message.user_id == user_id)
        messages = await self.session.scalars(
            sa.select(Message).where(Message.user_id == user_id).order_by(Message.id))
        replies = await self.session.scalars(
            sa.select(Message).where(Message.in_reply_to_id.in_(mine)).order_by(Message.id))
        feedback = await self.session.scalars(
            sa.select(Feedback).where(Feedback.user_id == user_id).order_by(Feedback.id))
        corrections = await self.session.scalars(
            sa.select(Correction).where(Correction.user_id == user_id).order_by(Correction.id))
        pairs = await self.session.scalars(
            sa.select(TaughtPair).where(TaughtPair.author_id == user_id).order_by(TaughtPair.id))
        message_columns = ["id", "chat_id", "message_id", "text", "content_type", "command",
                           "status", "created_at", "edited_at"]
        reply_columns = ["id", "chat_id", "message_id", "in_reply_to_id", "text", "task",
                         "model_version", "created_at"]
        return {
            "user": _jsonable(user, ["id", "username", "first_name", "language_code",
                                     "ui_language", "created_at"]) if user else None,
            "messages": [_jsonable(m, message_columns) for m in messages],
            "replies_to_you": [_jsonable(m, reply_columns) for m in replies],
            "feedback": [_jsonable(f, ["id", "message_id", "rating", "created_at"])
                         for f in feedback],
            "corrections": [_jsonable(c, ["id", "message_id", "text", "status", "final_text",
                                          "created_at"]) for c in corrections],
            "taught_pairs": [_jsonable(p, ["id", "task", "source", "target", "origin",
                                           "active", "created_at"]) for p in pairs],
        }

    def _their_pairs(self, user_id: int) -> Any:
        """The taught pairs made from the user's words: from their corrections, from anyone's
        correction of an answer to their message (the question is theirs), and those they
        authored other than by /teach."""
        mine = sa.select(Message.id).where(Message.user_id == user_id)
        answers_to_them = sa.select(Message.id).where(Message.in_reply_to_id.in_(mine))
        corrections = sa.select(Correction.id).where(sa.or_(
            Correction.user_id == user_id, Correction.message_id.in_(answers_to_them)))
        return sa.or_(TaughtPair.correction_id.in_(corrections),
                      sa.and_(TaughtPair.author_id == user_id, TaughtPair.origin != "teach"))

    async def pairs_of(self, user_id: int) -> list[tuple[str, str, str, str]]:
        """``(task, question, answer, origin)`` of every pair the user's words or ratings put
        into the training data or an answer bank: the taught pairs of ``_their_pairs``
        (origin ``taught``), and the bot's answers rated 👍 that answer the user's message or
        that the user rated 👍 (origin ``feedback``)."""
        taught = await self.session.execute(
            sa.select(TaughtPair.task, TaughtPair.source, TaughtPair.target)
            .where(self._their_pairs(user_id)))
        question = sa.orm.aliased(Message)
        liked = await self.session.execute(
            sa.select(Message.task, question.text, Message.text)
            .join(Feedback, Feedback.message_id == Message.id)
            .join(question, question.id == Message.in_reply_to_id)
            .where(Message.direction == "out", Message.task.is_not(None), Feedback.rating > 0,
                   sa.or_(question.user_id == user_id, Feedback.user_id == user_id),
                   question.text.is_not(None), Message.text.is_not(None))
            .group_by(Message.id, question.id))
        return ([(str(t), str(q), str(a), "taught") for t, q, a in taught]
                + [(str(t), str(q), str(a), "feedback") for t, q, a in liked])

    async def forget(self, user_id: int, fingerprints: list[tuple[str, str]]
                     ) -> dict[str, int]:
        """Delete the user's rows, record the ``(task, fingerprint)`` of the pairs made from
        their words (``forgotten_pairs``: removed from every answer bank, for good) and the
        user as forgotten (no training snapshot includes them again); counts of what went.

        Their messages go with the bot's replies to them (and the feedback and corrections
        left on those replies). Pairs made from their words go too (``_their_pairs``). Pairs
        an admin taught with /teach stay as anonymous, deliberate knowledge: only the
        authorship goes. The full map of where a user's words go is in
        ``bot/services/privacy.py``.
        """
        mine = sa.select(Message.id).where(Message.user_id == user_id)
        written = {str(t) for t in [
            *await self.session.scalars(sa.select(Message.text).where(Message.user_id == user_id)),
            *await self.session.scalars(
                sa.select(Correction.text).where(Correction.user_id == user_id))] if t}
        gone = await self.session.execute(
            sa.delete(TaughtPair).where(self._their_pairs(user_id)))
        counts: dict[str, int] = {"taught_pairs": int(getattr(gone, "rowcount", 0) or 0)}
        for name, statement in (
            ("feedback", sa.delete(Feedback).where(Feedback.user_id == user_id)),
            ("corrections", sa.delete(Correction).where(Correction.user_id == user_id)),
            ("prompts", sa.delete(PendingPrompt).where(PendingPrompt.user_id == user_id)),
            ("replies", sa.delete(Message).where(Message.in_reply_to_id.in_(mine))),
            ("messages", sa.delete(Message).where(Message.user_id == user_id)),
        ):
            result = await self.session.execute(statement)
            counts[name] = int(getattr(result, "rowcount", 0) or 0)
        counts["quoted"] = await self._unquote(written)
        if fingerprints:
            await self.session.execute(
                insert_on_conflict(self.session, ForgottenPair)
                .values([{"task": t, "fingerprint": f, "forgotten_at": utcnow()}
                         for t, f in sorted(set(fingerprints))])
                .on_conflict_do_nothing(index_elements=[ForgottenPair.task,
                                                        ForgottenPair.fingerprint]))
        counts["fingerprints"] = len(set(fingerprints))
        await self.session.execute(
            sa.update(TaughtPair).where(TaughtPair.author_id == user_id).values(author_id=None))
        await self.session.execute(  # an admin's /retrain waiting for the leader: no words
            sa.delete(RetrainRequest).where(RetrainRequest.requested_by == user_id))
        await self.session.execute(  # the log of admin commands keeps the act, not the person
            sa.update(AuditEntry).where(AuditEntry.user_id == user_id)
            .values(user_id=None, arguments=None))
        await self.session.execute(
            sa.update(AuditEntry).where(AuditEntry.chat_id == user_id).values(chat_id=None))
        await self.session.execute(sa.delete(Chat).where(Chat.id == user_id))  # private chat
        await self.session.execute(sa.delete(User).where(User.id == user_id))
        insert = insert_on_conflict(self.session, ForgottenUser).values(
            user_id=user_id, forgotten_at=utcnow())
        if fingerprints:  # the receipt counts from the last forget that took a pair
            await self.session.execute(insert.on_conflict_do_update(
                index_elements=[ForgottenUser.user_id], set_={"forgotten_at": utcnow()}))
        else:
            await self.session.execute(
                insert.on_conflict_do_nothing(index_elements=[ForgottenUser.user_id]))
        return counts

    async def _unquote(self, written: set[str]) -> int:
        """Blank the bot's own messages that quote what the user wrote (a /review page, an
        answer from a pair made of their words); returns how many. A message's text counts
        in full and as the model saw it (a command cut off); short ones (under
        ``QUOTE_MIN_CHARS``) are too common to tell a quote from a coincidence."""
        needles: set[str] = set()
        for text in written:
            needles.update(t.strip() for t in (text, _without_command(text)))
        blanked = 0
        for needle in sorted(n for n in needles if len(n) >= QUOTE_MIN_CHARS):
            result = await self.session.execute(
                sa.update(Message)
                .where(Message.direction == "out", Message.text.is_not(None),
                       position(Message.text, needle) > 0)
                .values(text=None))
            blanked += int(getattr(result, "rowcount", 0) or 0)
        return blanked

    async def forgotten_at(self, user_id: int) -> datetime | None:
        return await self.session.scalar(
            sa.select(ForgottenUser.forgotten_at).where(ForgottenUser.user_id == user_id))

    async def first_versions_after(self, moment: datetime) -> dict[str, str]:
        """Per task, the first version promoted by a retrain that started (and so took its
        snapshot) after ``moment``."""
        rows = await self.session.execute(
            sa.select(RetrainRun.task, RetrainRun.candidate_version)
            .where(RetrainRun.status == "promoted", RetrainRun.started_at > moment,
                   RetrainRun.candidate_version.is_not(None))
            .order_by(RetrainRun.started_at.desc(), RetrainRun.id.desc()))
        return {str(task): str(version) for task, version in rows}  # the earliest wins

    async def forgotten_tasks(self) -> list[str]:
        return list(await self.session.scalars(
            sa.select(ForgottenPair.task).distinct().order_by(ForgottenPair.task)))

    async def forgotten_pairs(self, task: str) -> list[str]:
        return list(await self.session.scalars(
            sa.select(ForgottenPair.fingerprint).where(ForgottenPair.task == task)
            .order_by(ForgottenPair.fingerprint)))


class PromptRepository:
    """Prompts waiting for a user's text (one per chat and user; a new one replaces it)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(self, chat_id: int, user_id: int, kind: str, target_id: int,
                   prompt_message_id: int | None, deadline: datetime) -> None:
        values = {"kind": kind, "target_id": target_id, "prompt_message_id": prompt_message_id,
                  "deadline": deadline}
        await self.session.execute(
            insert_on_conflict(self.session, PendingPrompt)
            .values(chat_id=chat_id, user_id=user_id, **values)
            .on_conflict_do_update(index_elements=[PendingPrompt.chat_id, PendingPrompt.user_id],
                                   set_=values))

    async def delete(self, chat_id: int, user_id: int) -> None:
        await self.session.execute(sa.delete(PendingPrompt).where(
            PendingPrompt.chat_id == chat_id, PendingPrompt.user_id == user_id))

    async def open_since(self, deadline_after: datetime) -> list[PendingPrompt]:
        """The prompts whose deadline is after ``deadline_after``; older ones are deleted."""
        await self.session.execute(
            sa.delete(PendingPrompt).where(PendingPrompt.deadline <= deadline_after))
        return list((await self.session.scalars(sa.select(PendingPrompt))).all())


class InsightRepository:
    """Read-only figures for /status and /stats."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def retrain_runs(self, limit: int = 5) -> list[RetrainRunRecord]:
        rows = await self.session.scalars(
            sa.select(RetrainRun).where(RetrainRun.status != "queued")  # queued: a due time
            .order_by(RetrainRun.started_at.desc()).limit(limit))
        return [_run(row) for row in rows]

    async def messages_per_day(self, since: datetime) -> list[tuple[str, str, int]]:
        """``(day, task, count)`` of the bot's model answers since ``since``; task ``-`` for
        replies without a model (help, usage, refusals)."""
        date = day(Message.created_at)
        rows = await self.session.execute(
            sa.select(date, sa.func.coalesce(Message.task, "-"), sa.func.count())
            .where(Message.direction == "out", Message.created_at >= since)
            .group_by(date, Message.task).order_by(date))
        return [(str(d), str(t), int(n)) for d, t, n in rows]

    async def incoming_per_day(self, since: datetime) -> list[tuple[str, int]]:
        date = day(Message.created_at)
        rows = await self.session.execute(
            sa.select(date, sa.func.count())
            .where(Message.direction == "in", Message.created_at >= since)
            .group_by(date).order_by(date))
        return [(str(d), int(n)) for d, n in rows]

    async def latencies(self, since: datetime) -> list[float]:
        rows = await self.session.scalars(
            sa.select(Message.latency_ms)
            .where(Message.direction == "out", Message.task.is_not(None),
                   Message.latency_ms.is_not(None), Message.created_at >= since))
        return [float(v) for v in rows if v is not None]

    async def ratings(self, since: datetime) -> tuple[int, int]:
        """(👍 count, 👎 count) given since ``since``."""
        rows = await self.session.execute(
            sa.select(Feedback.rating, sa.func.count()).where(Feedback.created_at >= since)
            .group_by(Feedback.rating))
        counts = {int(r): int(n) for r, n in rows}
        return counts.get(1, 0), counts.get(-1, 0)

    async def database_bytes(self) -> int | None:
        """The database's size as the server reports it (PostgreSQL); None for SQLite, whose
        files the caller measures."""
        if dialect_name(self.session) != POSTGRESQL:
            return None
        return int(await self.session.scalar(sa.text("SELECT pg_database_size(current_database())"))
                   or 0)

    async def pending_corrections(self) -> int:
        value = await self.session.scalar(
            sa.select(sa.func.count()).select_from(Correction)
            .where(Correction.status == PENDING))
        return int(value or 0)
