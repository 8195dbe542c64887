"""The bookkeeping of a turn: store an incoming message once, then record the replies to it.

``begin`` stores the message (unique per chat and message id) and returns a ``Turn`` only when
this process must answer it: a second delivery of the same message finds the row and gets
``None``. A message accepted by a process that died before answering (its row is still
``received`` with another process's ``instance``) is taken over, once, by whoever sees it
next; ``interrupted`` lists such messages at start-up so they are answered even when Telegram
does not deliver them again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import Database
from bot.storage.models import utcnow
from bot.storage.records import (
    ChatLine,
    ChatRecord,
    IncomingMessage,
    OutgoingMessage,
    StoredMessage,
    UserRecord,
)
from bot.storage.repositories import (
    ANSWERED,
    FAILED,
    IGNORED,
    RECEIVED,
    MessageRepository,
    UnitOfWork,
)
from bot.texts import pick_language

log = logging.getLogger(__name__)

COMMAND_WORD_MAX = 66  # "/" + a 32-character command + "@" + a 32-character bot username


def cap_input(text: str, limit: int) -> tuple[str, bool]:
    """The text the bot reads of a message: at most ``limit`` characters after its command word
    (``/translate@my_bot``, kept whole), and whether anything was cut.

    Applied once, when a message is admitted, before any parsing: whatever a user sends, the
    routing rules, the command parsers and the models see at most this much of it.
    """
    if len(text) <= limit:
        return text, False
    command = 0
    if text.startswith("/"):
        command = next((i + 1 for i, char in enumerate(text[: COMMAND_WORD_MAX + 1])
                        if char.isspace()), 0)
    if len(text) - command <= limit:
        return text, False
    return text[: command + limit], True


@dataclass(frozen=True)
class Turn:
    """An incoming message this process answers, with the preferences that shape the answer."""

    row_id: int
    chat_id: int
    chat_type: str
    message_id: int
    user_id: int
    text: str | None
    lang: str
    mode: str
    received_at: float = 0.0  # time.monotonic() when the message reached the bot
    truncated: bool = False  # text is the first max_input_chars of a longer message

    @property
    def is_group(self) -> bool:
        return self.chat_type in ("group", "supergroup")


class _Recent:
    """The users and chats stored most recently, as stored: a message from someone whose
    Telegram profile has not changed needs no upsert (half the writes of a turn)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.users: OrderedDict[int, UserRecord] = OrderedDict()
        self.chats: OrderedDict[int, ChatRecord] = OrderedDict()

    def user(self, m: IncomingMessage) -> UserRecord | None:
        known = self.users.get(m.user_id)
        same = known and (known.username, known.first_name, known.language_code) == (
            m.username, m.first_name, m.language_code)
        return known if same else None

    def chat(self, m: IncomingMessage) -> ChatRecord | None:
        known = self.chats.get(m.chat_id)
        return known if known and (known.type, known.title) == (m.chat_type, m.chat_title) else None

    def remember(self, user: UserRecord, chat: ChatRecord) -> None:
        self.users[user.id] = user
        self.chats[chat.id] = chat
        self.users.move_to_end(user.id)
        self.chats.move_to_end(chat.id)
        while len(self.users) > self.size:
            self.users.popitem(last=False)
        while len(self.chats) > self.size:
            self.chats.popitem(last=False)

    def forget(self, user_id: int | None = None, chat_id: int | None = None) -> None:
        """Call after changing or deleting a user or chat row (e.g. /lang, /mode, /forgetme)."""
        if user_id is not None:
            self.users.pop(user_id, None)
        if chat_id is not None:
            self.chats.pop(chat_id, None)


class Turns:
    def __init__(self, db: Database, store_unaddressed: bool, default_language: str,
                 max_input_chars: int = 1000) -> None:
        self.db = db
        self.max_input_chars = max_input_chars
        self.store_unaddressed = store_unaddressed
        self.default_language = default_language
        self.instance = uuid.uuid4().hex  # this process; tells its messages from a dead one's
        self.recent = _Recent()
        # several replicas (bot/services/replicas.py): whether the process that accepted a
        # message still runs, and so answers it; None: one process, any other one is dead
        self.owner_alive: Callable[[AsyncSession, str | None], Awaitable[bool]] | None = None
        # and per-chat order across them: waits until the chat's earlier messages are answered
        # (the admission handler calls it once the update is stored and confirmed to Telegram)
        self.before_answer: Callable[[int, int], Awaitable[None]] | None = None

    async def begin(self, message: IncomingMessage) -> Turn | None:
        """Store the message; a Turn if this process should answer it now, else None.

        The message is stored as sent; the turn's text is cut by ``cap_input``."""
        received_at = time.monotonic()
        if not message.addressed and not self.store_unaddressed:
            return None  # privacy: nothing of an unaddressed group message is kept
        try:
            stored = await self._store(message, self.recent.user(message),
                                       self.recent.chat(message))
        except IntegrityError:  # a remembered user or chat was deleted meanwhile
            self.recent.forget(message.user_id, message.chat_id)
            stored = await self._store(message, None, None)
        if stored is None:
            return None
        row_id, user, chat = stored
        text, truncated = (cap_input(message.text, self.max_input_chars)
                           if message.text is not None else (None, False))
        return Turn(
            row_id=row_id, chat_id=chat.id, chat_type=chat.type, message_id=message.message_id,
            user_id=user.id, text=text, mode=chat.mode,
            lang=pick_language(user.ui_language, user.language_code, self.default_language),
            received_at=received_at, truncated=truncated,
        )

    async def _store(self, message: IncomingMessage, user: UserRecord | None,
                     chat: ChatRecord | None) -> tuple[int, UserRecord, ChatRecord] | None:
        async def store(uow: UnitOfWork) -> tuple[int | None, UserRecord, ChatRecord]:
            stored_user = user or await uow.users.upsert(
                message.user_id, message.username, message.first_name, message.language_code)
            stored_chat = chat or await uow.chats.upsert(
                message.chat_id, message.chat_type, message.chat_title)
            status = RECEIVED if message.addressed else IGNORED
            row_id = await uow.messages.add_incoming(message, status, self.instance)
            if row_id is None:
                row_id = await self._take_over(uow.messages, message)
            return row_id, stored_user, stored_chat

        # group commit: stored (and on disk) when this returns, with other turns' writes
        row_id, user_row, chat_row = await self.db.write(store)
        self.recent.remember(user_row, chat_row)
        if row_id is None or not message.addressed:
            return None
        return row_id, user_row, chat_row

    async def _take_over(self, messages: MessageRepository, message: IncomingMessage
                         ) -> int | None:
        existing = await messages.get(message.chat_id, message.message_id)
        if existing is None or existing.status != RECEIVED or existing.instance == self.instance:
            log.info("duplicate delivery of message %s in chat %s ignored",
                     message.message_id, message.chat_id)
            return None
        if self.owner_alive is not None and await self.owner_alive(messages.session,
                                                                    existing.instance):
            log.info("message %s in chat %s is being answered by replica %s",
                     message.message_id, message.chat_id, existing.instance)
            return None
        if not await messages.claim(existing.id, existing.instance, self.instance):
            return None
        log.info("answering message %s in chat %s left unanswered by a previous run",
                 message.message_id, message.chat_id)
        return existing.id

    async def finish(self, turn: Turn, sent: list[OutgoingMessage]) -> None:
        """Record the replies and mark the message answered, in one transaction (shared with
        other turns' writes: group commit)."""
        async def record(uow: UnitOfWork) -> None:
            for reply in sent:
                await uow.messages.add_outgoing(reply, turn.row_id)
            await uow.messages.set_status(turn.row_id, ANSWERED)

        await self.db.write(record)

    async def unrecorded(self, turn: Turn) -> None:
        """The reply went out but recording it failed: the message is marked failed (on its
        own, a status only), so that it is not answered again."""
        await self.close(turn, FAILED)

    async def close(self, turn: Turn, status: str = IGNORED) -> None:
        """Mark a message that gets no (further) reply: ignored, or failed."""
        assert status in (IGNORED, FAILED)
        async with self.db.unit_of_work() as uow:
            await uow.messages.set_status(turn.row_id, status)

    async def mark_failed(self, chat_id: int, message_id: int, user_id: int | None) -> str:
        """After an error: the message will not be answered; returns the user's language."""
        async with self.db.unit_of_work() as uow:
            stored = await uow.messages.get(chat_id, message_id)
            if stored is not None and stored.status == RECEIVED:
                await uow.messages.set_status(stored.id, FAILED)
            user = await uow.users.get(user_id) if user_id is not None else None
        if user is None:
            return self.default_language
        return pick_language(user.ui_language, user.language_code, self.default_language)

    async def record_edit(self, chat_id: int, message_id: int, text: str | None) -> bool:
        async with self.db.unit_of_work() as uow:
            return await uow.messages.update_text(chat_id, message_id, text)

    async def set_mode(self, chat_id: int, mode: str) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.chats.set_mode(chat_id, mode)
        self.recent.forget(chat_id=chat_id)

    async def set_language(self, user_id: int, lang: str) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.users.set_language(user_id, lang)
        self.recent.forget(user_id=user_id)

    async def recent_lines(self, chat_id: int, limit: int, before: int | None = None
                           ) -> list[ChatLine]:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.messages.recent_lines(chat_id, limit, before)

    async def interrupted(self, window_s: float) -> list[StoredMessage]:
        """Messages accepted in the last ``window_s`` by a process that never answered them."""
        since = utcnow() - timedelta(seconds=window_s)
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.messages.interrupted(since, self.instance)

    async def next_message_id(self, chat_id: int) -> int:
        """For front ends without Telegram ids (the terminal chat)."""
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.messages.max_message_id(chat_id) + 1
