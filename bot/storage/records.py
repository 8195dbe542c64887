"""Plain, frozen dataclasses: what leaves the repositories (never a live ORM object)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str | None
    first_name: str | None
    language_code: str | None
    ui_language: str | None


@dataclass(frozen=True)
class ChatRecord:
    id: int
    type: str
    title: str | None
    mode: str


@dataclass(frozen=True)
class IncomingMessage:
    """An incoming message as the front end saw it, before it is stored."""

    chat_id: int
    chat_type: str
    chat_title: str | None
    message_id: int
    user_id: int
    username: str | None
    first_name: str | None
    language_code: str | None
    text: str | None
    content_type: str = "text"
    command: str | None = None
    addressed: bool = True
    reply_to_message_id: int | None = None
    raw_update: dict[str, Any] | None = None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    chat_id: int
    message_id: int
    direction: str
    user_id: int | None
    text: str | None
    content_type: str
    command: str | None
    status: str
    task: str | None
    model_version: str | None
    instance: str | None
    created_at: datetime
    raw_update: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class OutgoingMessage:
    """A reply the bot sent, with the model version that produced it."""

    chat_id: int
    message_id: int
    text: str
    reply_to_message_id: int | None
    task: str | None = None
    model_version: str | None = None
    confidence: float | None = None
    model_ms: float | None = None  # the model's time: queue wait + decode
    batch_size: int | None = None
    latency_ms: float | None = None  # from the message's arrival to the reply accepted


@dataclass(frozen=True)
class ChatLine:
    """A stored text message of a group, with its author's name (for /digest)."""

    message_id: int
    author: str
    text: str


# -- learning loop (issue #5) ----------------------------------------------------------------
@dataclass(frozen=True)
class AuditRecord:
    id: int
    user_id: int | None
    chat_id: int | None
    action: str
    arguments: dict[str, Any] | None
    allowed: bool
    outcome: str | None
    created_at: datetime


@dataclass(frozen=True)
class CorrectionRecord:
    """A correction with what it corrects: the user's ``question`` and the bot's ``answer``."""

    id: int
    message_id: int  # row id of the bot's answer
    user_id: int
    text: str
    status: str
    final_text: str | None
    reviewed_by: int | None
    created_at: datetime
    question: str | None  # the user's message, as sent (command and mention included)
    question_command: str | None
    answer: str | None
    task: str | None  # the model that gave the answer


@dataclass(frozen=True)
class TaughtPairRecord:
    id: int
    task: str
    source: str
    target: str
    origin: str
    author_id: int | None
    correction_id: int | None
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class RetrainRunRecord:
    id: int
    task: str
    trigger: str
    status: str
    base_version: str | None
    candidate_version: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class RatedAnswer:
    """One of the bot's answers, as the feedback buttons see it."""

    row_id: int
    text: str | None
    task: str | None
    model_version: str | None
    reply_to_message_id: int | None  # the user's message it answered
