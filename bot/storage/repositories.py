"""Repositories: SQL only, one session shared by a unit of work, plain dataclasses out."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import insert_on_conflict
from bot.storage.learning import (
    AuditRepository,
    CorrectionRepository,
    FeedbackRepository,
    InsightRepository,
    PrivacyRepository,
    PromptRepository,
    TaughtPairRepository,
)
from bot.storage.models import Chat, Message, User, utcnow
from bot.storage.records import (
    ChatLine,
    ChatRecord,
    IncomingMessage,
    OutgoingMessage,
    StoredMessage,
    UserRecord,
)

# Incoming statuses. "received" is the only one that still owes the user a reply.
RECEIVED, ANSWERED, IGNORED, FAILED, SENT = "received", "answered", "ignored", "failed", "sent"


def _user(row: User) -> UserRecord:
    return UserRecord(row.id, row.username, row.first_name, row.language_code, row.ui_language)


def _chat(row: Chat) -> ChatRecord:
    return ChatRecord(row.id, row.type, row.title, row.mode)


def _message(row: Message) -> StoredMessage:
    return StoredMessage(
        id=row.id, chat_id=row.chat_id, message_id=row.message_id, direction=row.direction,
        user_id=row.user_id, text=row.text, content_type=row.content_type, command=row.command,
        status=row.status, task=row.task, model_version=row.model_version,
        instance=row.instance, created_at=row.created_at, raw_update=row.raw_update,
    )


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self, user_id: int, username: str | None, first_name: str | None,
        language_code: str | None,
    ) -> UserRecord:
        """Create the user or refresh what Telegram says about them; keeps their /lang choice."""
        values = {"username": username, "first_name": first_name,
                  "language_code": language_code, "updated_at": utcnow()}
        statement = (
            insert_on_conflict(self.session, User)
            .values(id=user_id, created_at=utcnow(), **values)
            .on_conflict_do_update(index_elements=[User.id], set_=values)
            .returning(User)
        )
        row = (await self.session.scalars(statement)).one()
        return _user(row)

    async def get(self, user_id: int) -> UserRecord | None:
        row = await self.session.get(User, user_id)
        return _user(row) if row else None

    async def set_language(self, user_id: int, language: str) -> None:
        await self.session.execute(
            sa.update(User).where(User.id == user_id).values(ui_language=language,
                                                              updated_at=utcnow())
        )


class ChatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, chat_id: int, chat_type: str, title: str | None) -> ChatRecord:
        values = {"type": chat_type, "title": title, "updated_at": utcnow()}
        statement = (
            insert_on_conflict(self.session, Chat)
            .values(id=chat_id, created_at=utcnow(), **values)
            .on_conflict_do_update(index_elements=[Chat.id], set_=values)
            .returning(Chat)
        )
        row = (await self.session.scalars(statement)).one()
        return _chat(row)

    async def get(self, chat_id: int) -> ChatRecord | None:
        row = await self.session.get(Chat, chat_id)
        return _chat(row) if row else None

    async def set_mode(self, chat_id: int, mode: str) -> None:
        await self.session.execute(
            sa.update(Chat).where(Chat.id == chat_id).values(mode=mode, updated_at=utcnow())
        )


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_incoming(
        self, message: IncomingMessage, status: str, instance: str | None
    ) -> int | None:
        """Store an incoming message; ``None`` when ``(chat_id, message_id)`` is already stored."""
        statement = (
            insert_on_conflict(self.session, Message)
            .values(
                chat_id=message.chat_id, message_id=message.message_id, direction="in",
                user_id=message.user_id, text=message.text, content_type=message.content_type,
                command=message.command, addressed=message.addressed, status=status,
                reply_to_message_id=message.reply_to_message_id, instance=instance,
                raw_update=message.raw_update if status == RECEIVED else None,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[Message.chat_id, Message.message_id])
            .returning(Message.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, chat_id: int, message_id: int) -> StoredMessage | None:
        row = (await self.session.scalars(
            sa.select(Message).where(Message.chat_id == chat_id, Message.message_id == message_id)
        )).one_or_none()
        return _message(row) if row else None

    async def claim(self, row_id: int, previous: str | None, instance: str) -> bool:
        """Take over an unanswered message from a process that died; only one taker wins."""
        result = await self.session.execute(
            sa.update(Message)
            .where(Message.id == row_id, Message.status == RECEIVED,
                   Message.instance.is_(None) if previous is None
                   else Message.instance == previous)
            .values(instance=instance)
        )
        return bool(getattr(result, "rowcount", 0))

    async def set_status(self, row_id: int, status: str) -> None:
        values: dict[str, object] = {"status": status}
        if status != RECEIVED:
            values["raw_update"] = None  # only needed to answer again after a crash
        await self.session.execute(sa.update(Message).where(Message.id == row_id).values(values))

    async def add_outgoing(self, reply: OutgoingMessage, in_reply_to_id: int | None) -> int:
        statement = sa.insert(Message).values(
            chat_id=reply.chat_id, message_id=reply.message_id, direction="out", user_id=None,
            text=reply.text, content_type="text", addressed=True, status=SENT, task=reply.task,
            model_version=reply.model_version, confidence=reply.confidence,
            latency_ms=reply.latency_ms, model_ms=reply.model_ms, batch_size=reply.batch_size,
            reply_to_message_id=reply.reply_to_message_id, in_reply_to_id=in_reply_to_id,
            created_at=utcnow(),
        ).returning(Message.id)
        return int((await self.session.execute(statement)).scalar_one())

    async def update_text(self, chat_id: int, message_id: int, new_text: str | None) -> bool:
        """Record an edit of a stored incoming message; False when it was never stored."""
        result = await self.session.execute(
            sa.update(Message)
            .where(Message.chat_id == chat_id, Message.message_id == message_id,
                   Message.direction == "in")
            .values(text=new_text, edited_at=utcnow())
        )
        return bool(getattr(result, "rowcount", 0))

    async def recent_lines(self, chat_id: int, limit: int, before: int | None = None
                           ) -> list[ChatLine]:
        """The last ``limit`` stored text messages of users (not commands), oldest first."""
        statement = (
            sa.select(Message.message_id, Message.text, User.first_name, User.username,
                      Message.user_id)
            .join(User, User.id == Message.user_id)
            .where(Message.chat_id == chat_id, Message.direction == "in",
                   Message.content_type == "text", Message.command.is_(None),
                   Message.text.is_not(None), Message.text != "")
            .order_by(Message.message_id.desc())
            .limit(limit)
        )
        if before is not None:
            statement = statement.where(Message.message_id < before)
        rows = (await self.session.execute(statement)).all()
        return [
            ChatLine(row.message_id, row.first_name or row.username or f"user {row.user_id}",
                     row.text)
            for row in reversed(rows)
        ]

    async def interrupted(self, since: datetime, instance: str) -> list[StoredMessage]:
        """Messages another process accepted but never answered (it died), newest last."""
        rows = await self.session.scalars(
            sa.select(Message)
            .where(Message.direction == "in", Message.status == RECEIVED,
                   Message.created_at >= since, Message.raw_update.is_not(None),
                   sa.or_(Message.instance.is_(None), Message.instance != instance))
            .order_by(Message.id)
        )
        return [_message(row) for row in rows]

    async def max_message_id(self, chat_id: int) -> int:
        value = await self.session.scalar(
            sa.select(sa.func.max(Message.message_id)).where(Message.chat_id == chat_id)
        )
        return int(value or 0)

    async def replies_to(self, row_id: int) -> list[StoredMessage]:
        rows = await self.session.scalars(
            sa.select(Message).where(Message.in_reply_to_id == row_id).order_by(Message.id)
        )
        return [_message(row) for row in rows]


class UnitOfWork:
    """The repositories of one session; see ``Database.unit_of_work``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.chats = ChatRepository(session)
        self.messages = MessageRepository(session)
        self.audit = AuditRepository(session)
        self.feedback = FeedbackRepository(session)
        self.corrections = CorrectionRepository(session)
        self.taught = TaughtPairRepository(session)
        self.privacy = PrivacyRepository(session)
        self.insights = InsightRepository(session)
        self.prompts = PromptRepository(session)
