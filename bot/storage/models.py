"""The bot's tables. Migrations in ``migrations/versions`` create them; this module describes them.

Core (issue #4): users, chats (with their settings), messages (incoming and outgoing).
Learning loop (issue #5), created now so that feature only adds code: feedback, corrections,
taught_pairs, audit_log, retrain_runs, forgotten_users. pending_prompts (migration 0003): the
"what should I have said?" and /review Edit prompts still waiting for their text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so batch migrations on SQLite can find and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC (SQLite has no time zones) and read back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), int: sa.BigInteger()}


# -- core ------------------------------------------------------------------------------------
class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # Telegram user id
    username: Mapped[str | None] = mapped_column(sa.String(64))
    first_name: Mapped[str | None] = mapped_column(sa.String(128))
    language_code: Mapped[str | None] = mapped_column(sa.String(16))  # from Telegram
    ui_language: Mapped[str | None] = mapped_column(sa.String(8))  # chosen with /lang
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Chat(Base):
    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # Telegram chat id
    type: Mapped[str] = mapped_column(sa.String(16))  # private | group | supergroup | console
    title: Mapped[str | None] = mapped_column(sa.String(256))
    mode: Mapped[str] = mapped_column(sa.String(16), default="auto", server_default="auto")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Message(Base):
    """One Telegram message, incoming (from a user) or outgoing (a reply of the bot).

    ``(chat_id, message_id)`` is unique: an update delivered twice finds its row and is not
    answered again. Incoming ``status``: received -> answered | ignored | failed; ``instance``
    names the process that is answering it, so one that died can be told from one in flight.
    """

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("chat_id", "message_id"),
        sa.CheckConstraint("direction IN ('in', 'out')", name="direction"),
        sa.Index(None, "status"),
        sa.Index(None, "user_id"),
        sa.Index(None, "in_reply_to_id"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(sa.ForeignKey("chats.id", ondelete="CASCADE"))
    message_id: Mapped[int]
    direction: Mapped[str] = mapped_column(sa.String(3))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str | None] = mapped_column(sa.Text)
    content_type: Mapped[str] = mapped_column(sa.String(32), default="text")
    command: Mapped[str | None] = mapped_column(sa.String(32))
    addressed: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    task: Mapped[str | None] = mapped_column(sa.String(32))
    model_version: Mapped[str | None] = mapped_column(sa.String(64))
    confidence: Mapped[float | None]
    latency_ms: Mapped[float | None]  # outgoing: from the message's arrival to this reply
    model_ms: Mapped[float | None]  # outgoing: the model's queue wait + decode
    batch_size: Mapped[int | None] = mapped_column(sa.Integer)
    reply_to_message_id: Mapped[int | None]  # the Telegram message this one replies to
    in_reply_to_id: Mapped[int | None] = mapped_column(
        sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE")
    )
    instance: Mapped[str | None] = mapped_column(sa.String(32))
    raw_update: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]


# -- learning loop (issue #5) ----------------------------------------------------------------
class Feedback(Base):
    """A 👍 (+1) or 👎 (-1) on one of the bot's answers."""

    __tablename__ = "feedback"
    __table_args__ = (sa.UniqueConstraint("message_id", "user_id"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(sa.SmallInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Correction(Base):
    """What a user says the bot should have answered; waits for an admin's review."""

    __tablename__ = "corrections"
    __table_args__ = (sa.Index(None, "status"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # approved | rejected
    final_text: Mapped[str | None] = mapped_column(sa.Text)  # the admin's edit, if any
    reviewed_by: Mapped[int | None]
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaughtPair(Base):
    """A source -> target pair for the answer bank and the training data (/teach, approvals)."""

    __tablename__ = "taught_pairs"
    __table_args__ = (sa.Index(None, "task", "active"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    task: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[str] = mapped_column(sa.Text)
    target: Mapped[str] = mapped_column(sa.Text)
    origin: Mapped[str] = mapped_column(sa.String(16))  # teach | correction | feedback
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    correction_id: Mapped[int | None] = mapped_column(
        sa.Integer, sa.ForeignKey("corrections.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """An admin command, allowed or refused. No foreign keys: the log outlives its subjects."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "created_at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    user_id: Mapped[int | None]
    chat_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(sa.String(64))
    arguments: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    allowed: Mapped[bool]
    outcome: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RetrainRun(Base):
    """One scheduled or requested retraining of a task, from snapshot to promotion decision."""

    __tablename__ = "retrain_runs"
    __table_args__ = (sa.Index(None, "task", "started_at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    task: Mapped[str] = mapped_column(sa.String(32))
    trigger: Mapped[str] = mapped_column(sa.String(16))  # schedule | admin
    requested_by: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(16))  # queued|running|failed|rejected|promoted
    base_version: Mapped[str | None] = mapped_column(sa.String(64))
    candidate_version: Mapped[str | None] = mapped_column(sa.String(64))
    progress: Mapped[float | None]
    metrics: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class ForgottenUser(Base):
    """A user who used /forgetme: nothing of theirs may enter a training snapshot again."""

    __tablename__ = "forgotten_users"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    forgotten_at: Mapped[datetime] = mapped_column(default=utcnow)


class ForgottenPair(Base):
    """A pair made from a forgotten user's words, by its one-way fingerprint only
    (``model.api.pair_fingerprint``): removed from every answer bank before it serves, at
    start-up and after every load, promotion or rollback (a version trained from a snapshot
    taken before the forget, or an older one rolled back to, still ships it)."""

    __tablename__ = "forgotten_pairs"

    task: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    forgotten_at: Mapped[datetime] = mapped_column(default=utcnow)


class PendingPrompt(Base):
    """A prompt waiting for a user's next text in a chat (bot/handlers/feedback.py), kept so
    that a reply to it after a restart is still taken as the correction or edit."""

    __tablename__ = "pending_prompts"

    chat_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(sa.String(16))  # "correction" or "edit"
    target_id: Mapped[int] = mapped_column(sa.Integer)  # the answer's row id / the correction
    prompt_message_id: Mapped[int | None]
    deadline: Mapped[datetime]  # after it, only a reply to the prompt itself counts


# -- replicas (migration 0005) ---------------------------------------------------------------
class Replica(Base):
    """A bot process sharing the database: alive while ``seen_at`` is recent (its heartbeat)."""

    __tablename__ = "replicas"

    instance: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # Turns.instance
    host: Mapped[str] = mapped_column(sa.String(64))
    pid: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    versions: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)  # task -> served version
    failed_versions: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)  # task -> version
    in_flight: Mapped[int] = mapped_column(sa.Integer, default=0)  # updates being handled
    handled: Mapped[int] = mapped_column(default=0)  # updates handled since it started
    leader: Mapped[bool] = mapped_column(default=False)  # runs the retrain schedule


# -- retrain requests and the shared flood budget (migration 0006) ---------------------------
class RetrainRequest(Base):
    """An admin's /retrain taken by a replica that does not lead: the leader runs it and edits
    the acknowledgement (``chat_id``, ``message_id``) with the progress and the outcome."""

    __tablename__ = "retrain_requests"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    tasks: Mapped[list[str]] = mapped_column(sa.JSON)
    requested_by: Mapped[int]
    chat_id: Mapped[int]
    message_id: Mapped[int]
    lang: Mapped[str] = mapped_column(sa.String(8))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # pending | taken
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    taken_by: Mapped[str | None] = mapped_column(sa.String(32))  # the leader's instance
    taken_at: Mapped[datetime | None]


class FloodBudget(Base):
    """One of Telegram's limits shared by the replicas: ``used`` tokens of the current
    ``window`` (an index: Unix time // the limit's period) leased so far."""

    __tablename__ = "flood_budget"

    key: Mapped[str] = mapped_column(sa.String(48), primary_key=True)  # "all", "chat:-100..."
    window: Mapped[int]
    used: Mapped[int] = mapped_column(sa.Integer)

