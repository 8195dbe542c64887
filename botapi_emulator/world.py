"""One bot's world: its identity, chats, messages, update queue, webhook and recorded calls.

Each registered token gets its own :class:`BotWorld`, so tests that register their own bot are
isolated from each other on one running server. Everything here runs on the server's event
loop; the test-side client reaches it through :mod:`.harness`.

Methods named ``api_<Method>`` implement Bot API methods (looked up case-insensitively, as the
real server does); the other public coroutines are the *user side*: what people do in Telegram.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import random
import re
import struct
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiohttp

from .errors import ApiError
from .models import (
    FAULT_KINDS,
    CallRecord,
    Chat,
    Fault,
    MemberStatus,
    QueuedUpdate,
    StoredFile,
    UploadedFile,
    User,
    WebhookDelivery,
)
from .params import Params
from .text import (
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    Entity,
    entity_text,
    format_text,
    utf16_offset,
)

JSON = dict[str, Any]
ChatRef = Chat | int
UserRef = User | int
MessageRef = JSON | int

#: Update types delivered when ``allowed_updates`` is not set (or set to an empty list).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
COMMAND_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_PHOTO_SIDES = (90, 320, 800, 1280)

ScopeKey = tuple[str, int | None, int | None, str]


def _now() -> int:
    return int(time.time())


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG/JPEG/GIF/WebP image, or 512x512 when unknown."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            width, height = struct.unpack(">II", data[16:24])
            return int(width), int(height)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return int(width), int(height)
        if data[:2] == b"\xff\xd8":
            index = 2
            while index + 9 < len(data):
                if data[index] != 0xFF:
                    index += 1
                    continue
                marker = data[index + 1]
                length = struct.unpack(">H", data[index + 2 : index + 4])[0]
                if marker in (0xC0, 0xC1, 0xC2):
                    height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                    return int(width), int(height)
                index += 2 + length
    except struct.error:
        pass
    return 512, 512


def _user_text(text: str, entities: list[Entity] | None) -> tuple[str, list[Entity]]:
    """What the server makes of a text a user sends (cleaned, trimmed, entities added)."""
    try:
        clean, found = format_text(text, None, entities)
    except ApiError:
        raise ValueError("Telegram does not deliver empty (whitespace-only) messages") from None
    if len(clean) > MAX_TEXT_LENGTH:
        raise ValueError(
            f"Telegram clients split texts over {MAX_TEXT_LENGTH} characters; send several"
        )
    return clean, found


class BotWorld:
    """State of one bot token, with the Bot API methods and the user-side actions."""

    def __init__(
        self,
        token: str,
        *,
        username: str,
        first_name: str,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = True,
        supports_inline_queries: bool = False,
        session: Callable[[], Awaitable[aiohttp.ClientSession]] | None = None,
        webhook_attempts: int = 5,
        webhook_backoff: float = 0.2,
        webhook_timeout: float = 10.0,
    ):
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = User(self.bot_id, first_name, username=username, is_bot=True)
        self.can_join_groups = can_join_groups
        self.can_read_all_group_messages = can_read_all_group_messages
        self.supports_inline_queries = supports_inline_queries
        self._session = session
        self.webhook_attempts = max(1, webhook_attempts)
        self.webhook_backoff = webhook_backoff
        self.webhook_timeout = webhook_timeout
        self._rng = random.Random(token)

        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.members: dict[int, dict[int, MemberStatus]] = {}
        self.blocked_by: set[int] = set()
        self.kicked_from: set[int] = set()

        self._next_message_id: dict[int, int] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self.deleted: set[tuple[int, int]] = set()
        self.outbox: dict[int, list[int]] = {}
        self._cursor: dict[int, int] = {}
        self.edit_log: list[tuple[float, int, int, str]] = []
        self.actions: list[tuple[float, int, str]] = []
        self.reply_keyboards: dict[int, JSON] = {}
        self.callback_queries: dict[str, JSON] = {}
        self.callback_answers: dict[str, JSON] = {}

        self._next_update_id = 100_000_000 + self._rng.randrange(1_000_000)
        self.pending: list[QueuedUpdate] = []
        self.history: dict[int, QueuedUpdate] = {}
        self.allowed_updates: list[str] | None = None
        self._poll_seq = 0
        self.last_poll: float | None = None

        self.webhook: JSON | None = None
        self.webhook_error: tuple[int, str] | None = None
        self.deliveries: list[WebhookDelivery] = []
        self._webhook_task: asyncio.Task[None] | None = None

        self.commands: dict[ScopeKey, list[JSON]] = {}
        self.profile: dict[str, str] = {"name": first_name}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.files: dict[str, StoredFile] = {}
        self._file_seq = 0

        self.faults: list[Fault] = []
        self.calls: list[CallRecord] = []
        self.closing = False
        self._changed = asyncio.Event()

    # ----------------------------------------------------------------------------------------
    # plumbing
    # ----------------------------------------------------------------------------------------

    @property
    def username(self) -> str:
        """The bot's username (without ``@``)."""
        return self.bot_user.username or ""

    def notify(self) -> None:
        """Wake everything waiting for a change (long polls, webhook loop, test waits)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, event: asyncio.Event, timeout: float | None) -> None:
        """Wait until ``event`` (captured before checking a condition) fires, or time out."""
        if timeout is not None and timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def wait_until(self, check: Callable[[], Any], timeout: float) -> Any:
        """Wait until ``check()`` returns something truthy (re-checked on every change)."""
        deadline = time.monotonic() + timeout
        while True:
            event = self._changed
            value = check()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closing:
                return value
            await self._wait(event, remaining)

    def take_fault(self, method: str) -> Fault | None:
        """Consume one pending fault for ``method`` (``"*"`` matches any method)."""
        lowered = method.lower()
        for fault in self.faults:
            if fault.method in (lowered, "*") and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def add_fault(
        self, method: str, kind: str, times: int = 1, retry_after: int = 1, hold: float = 30.0
    ) -> Fault:
        """Queue a fault for the next ``times`` calls of ``method``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        fault = Fault(method.lower(), kind, times, retry_after, hold)
        self.faults.append(fault)
        return fault

    def record(self, call: CallRecord) -> None:
        """Append a call record and wake waiters."""
        self.calls.append(call)
        self.notify()

    def _new_file_id(self, prefix: str) -> tuple[str, str]:
        self._file_seq += 1
        raw = self._rng.randbytes(30) + self._file_seq.to_bytes(4, "big")
        unique = self._rng.randbytes(9)
        return (
            prefix + base64.urlsafe_b64encode(raw).decode().rstrip("="),
            "AQAD" + base64.urlsafe_b64encode(unique).decode().rstrip("="),
        )

    def _store_file(
        self,
        prefix: str,
        folder: str,
        extension: str,
        data: bytes | None,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        url: str | None = None,
    ) -> StoredFile:
        file_id, unique = self._new_file_id(prefix)
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique,
            file_path=f"{folder}/file_{self._file_seq}.{extension}",
            data=data,
            mime_type=mime_type,
            file_name=file_name,
            url=url,
        )
        self.files[file_id] = stored
        return stored

    # ----------------------------------------------------------------------------------------
    # chats, users, messages
    # ----------------------------------------------------------------------------------------

    def resolve_chat(self, chat: ChatRef) -> Chat:
        """The registered chat for a :class:`Chat` or an id."""
        chat_id = chat.id if isinstance(chat, Chat) else int(chat)
        found = self.chats.get(chat_id)
        if found is None:
            if isinstance(chat, Chat):
                self.chats[chat.id] = chat
                return chat
            raise KeyError(f"unknown chat {chat_id}; create it with private_chat() or group()")
        return found

    def resolve_user(self, user: UserRef) -> User:
        """The registered user for a :class:`User` or an id."""
        if isinstance(user, User):
            self.users.setdefault(user.id, user)
            return self.users[user.id]
        found = self.users.get(int(user))
        if found is None:
            raise KeyError(f"unknown user {user}; create it with user()")
        return found

    def _message_id(self, chat: ChatRef, message: MessageRef) -> tuple[int, int]:
        chat_id = chat.id if isinstance(chat, Chat) else int(chat)
        if isinstance(message, dict):
            return int(message["chat"]["id"]), int(message["message_id"])
        return chat_id, int(message)

    def _take_message_id(self, chat_id: int) -> int:
        next_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = next_id + 1
        return next_id

    def _base_message(self, chat: Chat, sender: User) -> JSON:
        return {
            "message_id": self._take_message_id(chat.id),
            "from": sender.to_api(),
            "chat": chat.to_api(),
            "date": _now(),
        }

    def _embedded(self, chat_id: int, message_id: int) -> JSON | None:
        """A stored message as embedded in ``reply_to_message`` (one level deep)."""
        key = (chat_id, message_id)
        stored = self.messages.get(key)
        if stored is None or key in self.deleted:
            return None
        embedded = copy.deepcopy(stored)
        embedded.pop("reply_to_message", None)
        embedded.pop("quote", None)
        return embedded

    def get_message(self, chat: ChatRef, message: MessageRef) -> JSON | None:
        """The current state of a message (after edits), or None if unknown/deleted."""
        key = self._message_id(chat, message)
        if key in self.deleted or key not in self.messages:
            return None
        return copy.deepcopy(self.messages[key])

    def _member_status(self, chat_id: int, user_id: int) -> MemberStatus:
        chat = self.chats.get(chat_id)
        if chat is not None and chat.type == "private":
            return "member" if user_id in (chat_id, self.bot_id) else "left"
        if user_id == self.bot_id and chat_id in self.kicked_from:
            return "kicked"
        return self.members.get(chat_id, {}).get(user_id, "left")

    # ----------------------------------------------------------------------------------------
    # the update queue
    # ----------------------------------------------------------------------------------------

    def _allowed(self, kind: str) -> bool:
        allowed = self.allowed_updates
        if not allowed:
            return kind in DEFAULT_UPDATE_TYPES
        return kind in allowed

    def enqueue(self, kind: str, obj: JSON, *, force: bool = False) -> JSON | None:
        """Create an update of ``kind`` carrying ``obj``; None if ``allowed_updates`` drops it."""
        if not force and not self._allowed(kind):
            return None
        update_id = self._next_update_id
        self._next_update_id += 1
        payload = {"update_id": update_id, kind: copy.deepcopy(obj)}
        queued = QueuedUpdate(update_id, payload, kind)
        self.pending.append(queued)
        self.history[update_id] = queued
        self.notify()
        return copy.deepcopy(payload)

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset < 0:
            keep = -offset
            self.pending = self.pending[-keep:] if keep < len(self.pending) else self.pending
            return
        self.pending = [
            q for q in self.pending if q.update_id >= offset or (q.forced and not q.returned)
        ]

    def _batch(self, offset: int | None, limit: int) -> list[QueuedUpdate]:
        chosen = [
            q
            for q in self.pending
            if offset is None or offset <= 0 or q.update_id >= offset or q.forced
        ]
        chosen.sort(key=lambda q: q.update_id)
        return chosen[:limit]

    def _addressed_to_bot(self, message: JSON) -> bool:
        """Would a bot in privacy mode receive this group message?"""
        text = message.get("text") or message.get("caption") or ""
        entities = message.get("entities") or message.get("caption_entities") or []
        me = self.username.lower()
        for entity in entities:
            part = entity_text(text, entity)
            if entity["type"] == "bot_command":
                if "@" not in part or part.split("@", 1)[1].lower() == me:
                    return True
            elif entity["type"] == "mention" and part[1:].lower() == me:
                return True
        reply = message.get("reply_to_message") or {}
        return bool(reply.get("from", {}).get("id") == self.bot_id)

    def _delivers(self, chat: Chat, message: JSON) -> bool:
        if chat.type == "private":
            return True
        if chat.id in self.kicked_from:
            return False
        if self.can_read_all_group_messages:
            return True
        if self._member_status(chat.id, self.bot_id) in ("administrator", "creator"):
            return True
        return self._addressed_to_bot(message)

    # ----------------------------------------------------------------------------------------
    # user side (what people do in Telegram)
    # ----------------------------------------------------------------------------------------

    async def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> User:
        """Register (or replace) a user."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = User(user_id, first_name, username, last_name, language_code)
        self.users[user_id] = user
        return user

    async def private_chat(self, user: UserRef) -> Chat:
        """The private chat between ``user`` and the bot (the user has pressed Start)."""
        person = self.resolve_user(user)
        chat = Chat(
            person.id,
            "private",
            username=person.username,
            first_name=person.first_name,
            last_name=person.last_name,
        )
        self.chats[chat.id] = chat
        self.blocked_by.discard(person.id)
        return chat

    async def group(
        self,
        title: str,
        *,
        supergroup: bool = True,
        chat_id: int | None = None,
        members: Iterable[UserRef] = (),
        admins: Iterable[UserRef] = (),
        bot_status: MemberStatus = "member",
    ) -> Chat:
        """A group or supergroup (negative id) that the bot is a member of."""
        if chat_id is None:
            seq = len([c for c in self.chats.values() if c.is_group]) + 1
            chat_id = -(1_000_000_000_000 + seq) if supergroup else -(4_000_000_000 + seq)
        if chat_id >= 0:
            raise ValueError("group ids are negative")
        chat = Chat(chat_id, "supergroup" if supergroup else "group", title=title)
        self.chats[chat_id] = chat
        statuses = self.members.setdefault(chat_id, {})
        statuses[self.bot_id] = bot_status
        for member in members:
            statuses[self.resolve_user(member).id] = "member"
        for admin in admins:
            statuses[self.resolve_user(admin).id] = "administrator"
        return chat

    async def set_member_status(self, chat: ChatRef, user: UserRef | None, status: str) -> None:
        """Set a member's status in a group (``user=None`` means the bot itself)."""
        if status not in ("creator", "administrator", "member", "left", "kicked"):
            raise ValueError(f"unsupported status {status!r}")
        target = self.resolve_chat(chat)
        user_id = self.bot_id if user is None else self.resolve_user(user).id
        self.members.setdefault(target.id, {})[user_id] = status  # type: ignore[assignment]
        if user_id == self.bot_id:
            if status in ("left", "kicked"):
                self.kicked_from.add(target.id)
            else:
                self.kicked_from.discard(target.id)

    async def block_bot(self, user: UserRef, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: sends to them fail with 403."""
        user_id = self.resolve_user(user).id
        if blocked:
            self.blocked_by.add(user_id)
        else:
            self.blocked_by.discard(user_id)

    def _user_message(self, chat: ChatRef, user: UserRef, reply_to: MessageRef | None) -> JSON:
        target = self.resolve_chat(chat)
        person = self.resolve_user(user)
        if target.is_group:
            statuses = self.members.setdefault(target.id, {})
            if statuses.get(person.id) in (None, "left"):
                statuses[person.id] = "member"
        message = self._base_message(target, person)
        if reply_to is not None:
            chat_id, message_id = self._message_id(target, reply_to)
            embedded = self._embedded(chat_id, message_id)
            if embedded is None:
                raise KeyError(f"no message {message_id} in chat {chat_id} to reply to")
            message["reply_to_message"] = embedded
        return message

    def _publish(self, kind: str, message: JSON) -> JSON:
        """Store a user's message and deliver it as an update when the bot would see it."""
        key = (message["chat"]["id"], message["message_id"])
        self.messages[key] = message
        chat = self.chats[message["chat"]["id"]]
        if self._delivers(chat, message):
            self.enqueue(kind, message)
        self.notify()
        return copy.deepcopy(message)

    async def send_text(
        self,
        chat: ChatRef,
        user: UserRef,
        text: str,
        reply_to: MessageRef | None = None,
        entities: list[Entity] | None = None,
    ) -> JSON:
        """``user`` writes ``text`` in ``chat``; commands and mentions become entities."""
        clean, found = _user_text(text, entities)
        message = self._user_message(chat, user, reply_to)
        message["text"] = clean
        if found:
            message["entities"] = found
        return self._publish("message", message)

    async def send_fields(
        self, chat: ChatRef, user: UserRef, fields: JSON, reply_to: MessageRef | None = None
    ) -> JSON:
        """``user`` sends a message with arbitrary extra fields (location, contact, ...)."""
        message = self._user_message(chat, user, reply_to)
        message.update(copy.deepcopy(fields))
        return self._publish("message", message)

    def _photo_sizes(self, data: bytes, width: int, height: int) -> list[JSON]:
        sizes: list[JSON] = []
        longest = max(width, height, 1)
        sides = [s for s in _PHOTO_SIDES if s < longest] + [min(longest, 2560)]
        for side in sides:
            scale = side / longest
            stored = self._store_file(
                "AgACAgIAAxkBAA", "photos", "jpg", data, mime_type="image/jpeg"
            )
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": max(1, int(len(data) * scale * scale)),
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
            )
        for size in sizes:
            self.files[size["file_id"]].media = sizes
        return sizes

    def _caption(self, message: JSON, caption: str | None) -> None:
        if caption:
            clean, found = format_text(caption, None, None, allow_empty=True)
            if clean:
                message["caption"] = clean
            if found:
                message["caption_entities"] = found

    async def send_photo(
        self,
        chat: ChatRef,
        user: UserRef,
        data: bytes | None = None,
        caption: str | None = None,
        reply_to: MessageRef | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> JSON:
        """``user`` sends a photo (Telegram delivers several sizes, largest last)."""
        message = self._user_message(chat, user, reply_to)
        message["photo"] = self._photo_sizes(data or b"\xff\xd8fake-jpeg", width, height)
        self._caption(message, caption)
        return self._publish("message", message)

    async def send_sticker(
        self,
        chat: ChatRef,
        user: UserRef,
        emoji: str = "👍",
        set_name: str | None = "TestStickers",
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` sends a (static, regular) sticker."""
        message = self._user_message(chat, user, reply_to)
        data = b"RIFF\x00\x00\x00\x00WEBPfake-sticker"
        stored = self._store_file(
            "CAACAgIAAxkBAA", "stickers", "webp", data, mime_type="image/webp"
        )
        thumb = self._store_file("AAMCAgADGQEAA", "thumbnails", "jpg", data)
        sticker: JSON = {
            "width": 512,
            "height": 512,
            "emoji": emoji,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            "thumbnail": {
                "file_id": thumb.file_id,
                "file_unique_id": thumb.file_unique_id,
                "file_size": thumb.size,
                "width": 128,
                "height": 128,
            },
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if set_name:
            sticker["set_name"] = set_name
        stored.media = sticker
        message["sticker"] = sticker
        return self._publish("message", message)

    async def send_voice(
        self,
        chat: ChatRef,
        user: UserRef,
        duration: int = 2,
        data: bytes | None = None,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` sends a voice note."""
        message = self._user_message(chat, user, reply_to)
        stored = self._store_file(
            "AwACAgIAAxkBAA", "voice", "oga", data or b"OggSfake-voice", mime_type="audio/ogg"
        )
        voice = {
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        stored.media = voice
        message["voice"] = voice
        return self._publish("message", message)

    async def send_document(
        self,
        chat: ChatRef,
        user: UserRef,
        data: bytes,
        file_name: str = "file.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` sends a file as a document."""
        message = self._user_message(chat, user, reply_to)
        extension = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        stored = self._store_file(
            "BQACAgIAAxkBAA", "documents", extension, data, mime_type=mime_type, file_name=file_name
        )
        document = {
            "file_name": file_name,
            "mime_type": mime_type,
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        stored.media = document
        message["document"] = document
        self._caption(message, caption)
        return self._publish("message", message)

    async def edit_text(self, chat: ChatRef, user: UserRef, message: MessageRef, text: str) -> JSON:
        """``user`` edits their own text message: an ``edited_message`` update."""
        target = self.resolve_chat(chat)
        person = self.resolve_user(user)
        key = self._message_id(target, message)
        stored = self.messages.get(key)
        if stored is None or key in self.deleted:
            raise KeyError(f"no message {key[1]} in chat {key[0]}")
        if stored.get("from", {}).get("id") != person.id:
            raise ValueError("users can only edit their own messages")
        clean, found = _user_text(text, None)
        stored["text"] = clean
        if found:
            stored["entities"] = found
        else:
            stored.pop("entities", None)
        stored["edit_date"] = _now()
        if self._delivers(target, stored):
            self.enqueue("edited_message", stored)
        self.notify()
        return copy.deepcopy(stored)

    def _chat_instance(self, chat_id: int) -> str:
        digest = hashlib.sha256(f"{self.bot_id}:{chat_id}".encode()).digest()
        return str(int.from_bytes(digest[:8], "big", signed=True))

    async def press_button(
        self,
        chat: ChatRef,
        user: UserRef,
        message: MessageRef,
        callback_data: str,
        strict: bool = True,
    ) -> JSON:
        """``user`` presses an inline button with ``callback_data`` under ``message``.

        With ``strict`` the message's *current* inline keyboard must contain such a button,
        as only existing buttons can be pressed in a real client.
        """
        target = self.resolve_chat(chat)
        person = self.resolve_user(user)
        key = self._message_id(target, message)
        stored = self.messages.get(key)
        if stored is None or key in self.deleted:
            raise KeyError(f"no message {key[1]} in chat {key[0]}")
        if strict:
            rows = (stored.get("reply_markup") or {}).get("inline_keyboard") or []
            datas = [b.get("callback_data") for row in rows for b in row]
            if callback_data not in datas:
                raise ValueError(
                    f"message {key[1]} has no button with callback_data {callback_data!r}; "
                    f"it has {datas}"
                )
        query_id = str(self._rng.getrandbits(62))
        query = {
            "id": query_id,
            "from": person.to_api(),
            "message": copy.deepcopy(stored),
            "chat_instance": self._chat_instance(target.id),
            "data": callback_data,
        }
        self.callback_queries[query_id] = query
        self.enqueue("callback_query", query)
        return copy.deepcopy(query)

    async def push_update(self, kind: str, obj: JSON) -> JSON | None:
        """Queue an arbitrary update (e.g. ``my_chat_member``) as the server would."""
        return self.enqueue(kind, obj)

    async def deliver_again(self, update: int | JSON, same_id: bool = False) -> int:
        """Deliver an earlier update again, as happens when delivery is not confirmed.

        ``update`` is an update id, an update dict, or a message dict (the latest update that
        carried that message). By default the copy gets a new ``update_id`` (the same message
        arriving twice); with ``same_id`` the very same update is returned once more even if
        the bot had confirmed it. Returns the update id used.
        """
        original = self._find_update(update)
        payload = copy.deepcopy(original.payload)
        if same_id:
            queued = QueuedUpdate(original.update_id, payload, original.kind, forced=True)
            self.pending.append(queued)
            self.notify()
            return original.update_id
        queued_payload = self.enqueue(original.kind, payload[original.kind], force=True)
        assert queued_payload is not None
        return int(queued_payload["update_id"])

    def _find_update(self, update: int | JSON) -> QueuedUpdate:
        if isinstance(update, int):
            return self.history[update]
        if "update_id" in update:
            return self.history[int(update["update_id"])]
        key = (int(update["chat"]["id"]), int(update["message_id"]))
        for queued in reversed(list(self.history.values())):
            obj = queued.payload.get(queued.kind)
            if (
                isinstance(obj, dict)
                and "message_id" in obj
                and "chat" in obj
                and (int(obj["chat"]["id"]), int(obj["message_id"])) == key
            ):
                return queued
        raise KeyError(f"no update carried message {key[1]} of chat {key[0]}")

    # ----------------------------------------------------------------------------------------
    # observing what the bot did
    # ----------------------------------------------------------------------------------------

    def bot_messages(self, chat: ChatRef, include_deleted: bool = False) -> list[JSON]:
        """Every message the bot sent to ``chat`` (current state), oldest first."""
        chat_id = chat.id if isinstance(chat, Chat) else int(chat)
        found: list[JSON] = []
        for message_id in self.outbox.get(chat_id, []):
            key = (chat_id, message_id)
            if key in self.deleted and not include_deleted:
                continue
            found.append(copy.deepcopy(self.messages[key]))
        return found

    def _new_outbox(self, chat_id: int) -> list[int]:
        sent = self.outbox.get(chat_id, [])
        return sent[self._cursor.get(chat_id, 0) :]

    async def wait_bot_messages(
        self, chat: ChatRef, n: int = 1, timeout: float = 15.0
    ) -> list[JSON]:
        """Wait for ``n`` messages the bot sends to ``chat`` after the previous wait."""
        chat_id = chat.id if isinstance(chat, Chat) else int(chat)
        ready = await self.wait_until(lambda: len(self._new_outbox(chat_id)) >= n, timeout)
        new = self._new_outbox(chat_id)
        if not ready:
            raise TimeoutError(self._diagnose(chat_id, n, len(new), timeout))
        taken = new[:n]
        self._cursor[chat_id] = self._cursor.get(chat_id, 0) + n
        return [copy.deepcopy(self.messages[(chat_id, mid)]) for mid in taken]

    async def collect_bot_messages(
        self, chat: ChatRef, quiet: float = 0.5, timeout: float = 15.0
    ) -> list[JSON]:
        """All new bot messages in ``chat`` once none arrived for ``quiet`` seconds."""
        chat_id = chat.id if isinstance(chat, Chat) else int(chat)
        deadline = time.monotonic() + timeout
        seen = -1
        while True:
            count = len(self._new_outbox(chat_id))
            if count == seen or time.monotonic() >= deadline:
                break
            seen = count

            def changed(before: int = count) -> bool:
                return len(self._new_outbox(chat_id)) != before

            await self.wait_until(changed, quiet)
        new = self._new_outbox(chat_id)
        self._cursor[chat_id] = self._cursor.get(chat_id, 0) + len(new)
        return [copy.deepcopy(self.messages[(chat_id, mid)]) for mid in new]

    def _diagnose(self, chat_id: int, wanted: int, got: int, timeout: float) -> str:
        texts = [
            (self.messages[(chat_id, m)].get("text") or "<media>")[:80]
            for m in self._new_outbox(chat_id)
        ]
        errors = [
            f"{c.method} -> {c.status} {(c.response or {}).get('description', c.fault or '')}"
            for c in self.calls[-200:]
            if not c.ok
        ][-5:]
        polled = (
            f"{time.time() - self.last_poll:.1f}s ago" if self.last_poll is not None else "never"
        )
        return (
            f"bot @{self.username} sent {got} of {wanted} expected message(s) to chat {chat_id} "
            f"within {timeout}s (new: {texts}); last getUpdates {polled}; "
            f"pending updates {len(self.pending)}; webhook {bool(self.webhook)}; "
            f"recent failed calls: {errors or 'none'}"
        )

    async def wait_message(
        self,
        chat: ChatRef,
        message: MessageRef,
        predicate: Callable[[JSON], bool],
        timeout: float = 15.0,
    ) -> JSON:
        """Wait until a message's current state satisfies ``predicate`` (e.g. after an edit)."""

        def check() -> JSON | None:
            current = self.get_message(chat, message)
            return current if current is not None and predicate(current) else None

        found: JSON | None = await self.wait_until(check, timeout)
        if not found:
            raise TimeoutError(
                f"message {self._message_id(chat, message)} did not reach the expected state "
                f"within {timeout}s; it is {self.get_message(chat, message)}"
            )
        return found

    async def wait_calls(
        self,
        method: str,
        n: int = 1,
        timeout: float = 15.0,
        predicate: Callable[[CallRecord], bool] | None = None,
    ) -> list[CallRecord]:
        """Wait until at least ``n`` calls of ``method`` (matching ``predicate``) were made."""

        def matching() -> list[CallRecord]:
            return [
                c
                for c in self.calls
                if c.method.lower() == method.lower() and (predicate is None or predicate(c))
            ]

        found = await self.wait_until(lambda: len(matching()) >= n, timeout)
        if not found:
            raise TimeoutError(f"saw {len(matching())} of {n} {method} call(s) within {timeout}s")
        return matching()

    async def wait_callback_answer(self, query: JSON | str, timeout: float = 15.0) -> JSON:
        """Wait until the bot answers the callback query ``query``; return the answer."""
        query_id = query if isinstance(query, str) else str(query["id"])
        answer = await self.wait_until(lambda: self.callback_answers.get(query_id), timeout)
        if not answer:
            raise TimeoutError(f"callback query {query_id} not answered within {timeout}s")
        return dict(answer)

    def visible_commands(self, chat: ChatRef, user: UserRef | None = None) -> list[JSON]:
        """The command menu ``user`` sees in ``chat``, by the Bot API's documented fallback."""
        target = self.resolve_chat(chat)
        person = self.resolve_user(user) if user is not None else None
        language = (person.language_code or "") if person else ""
        if target.type == "private":
            scopes: list[tuple[str, int | None, int | None]] = [
                ("chat", target.id, None),
                ("all_private_chats", None, None),
                ("default", None, None),
            ]
        else:
            is_admin = person is not None and self._member_status(target.id, person.id) in (
                "administrator",
                "creator",
            )
            uid = person.id if person else None
            scopes = [("chat_member", target.id, uid)]
            if is_admin:
                scopes.append(("chat_administrators", target.id, None))
            scopes.append(("chat", target.id, None))
            if is_admin:
                scopes.append(("all_chat_administrators", None, None))
            scopes += [("all_group_chats", None, None), ("default", None, None)]
        for kind, chat_id, user_id in scopes:
            for lang in (language, ""):
                found = self.commands.get((kind, chat_id, user_id, lang))
                if found:
                    return copy.deepcopy(found)
        return []

    # ----------------------------------------------------------------------------------------
    # webhook delivery
    # ----------------------------------------------------------------------------------------

    def _start_webhook_loop(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())

    async def stop(self) -> None:
        """Release long polls and stop webhook delivery (the server is shutting down)."""
        self.closing = True
        self.notify()
        task = self._webhook_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _webhook_loop(self) -> None:
        while self.webhook is not None and not self.closing:
            event = self._changed
            queue = sorted(self.pending, key=lambda q: q.update_id)
            if not queue:
                await self._wait(event, None)
                continue
            entry = queue[0]
            delivered = False
            while not delivered and entry.attempts < self.webhook_attempts:
                hook = self.webhook
                if hook is None or self.closing:
                    return
                entry.attempts += 1
                delivered = await self._post_update(entry, hook)
                if not delivered and entry.attempts < self.webhook_attempts:
                    await asyncio.sleep(min(self.webhook_backoff * 2 ** (entry.attempts - 1), 5.0))
            if entry in self.pending:
                self.pending.remove(entry)
            self.notify()

    async def _post_update(self, entry: QueuedUpdate, hook: JSON) -> bool:
        status, error = await self.post_to_webhook(
            entry.payload, secret=hook.get("secret_token"), url=hook["url"]
        )
        self.deliveries.append(
            WebhookDelivery(
                update_id=entry.update_id,
                attempt=entry.attempts,
                url=hook["url"],
                secret_sent=bool(hook.get("secret_token")),
                status=status,
                error=error,
                time=time.time(),
            )
        )
        ok = status is not None and 200 <= status < 300
        if not ok:
            self.webhook_error = (_now(), error or f"Wrong response from the webhook: {status}")
        self.notify()
        return ok

    async def post_to_webhook(
        self, payload: JSON, secret: str | None, url: str | None = None
    ) -> tuple[int | None, str | None]:
        """POST ``payload`` to the webhook URL with ``secret`` in the secret-token header.

        Returns ``(status, error)``; status is None when no HTTP answer came back.
        """
        target = url or (self.webhook or {}).get("url")
        if not target:
            raise RuntimeError("no webhook is set")
        if self._session is None:
            raise RuntimeError("this world has no HTTP client session")
        session = await self._session()
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        try:
            async with session.post(
                target,
                json=payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return response.status, None
                return (
                    response.status,
                    f"Wrong response from the webhook: {response.status} {response.reason}",
                )
        except TimeoutError:
            return None, "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return None, "Connection refused"
        except aiohttp.ClientError as exc:
            return None, f"Connection error: {exc.__class__.__name__}"

    # ----------------------------------------------------------------------------------------
    # Bot API methods: helpers
    # ----------------------------------------------------------------------------------------

    def _target_chat(self, p: Params) -> Chat:
        chat_id = p.chat_id()
        chat: Chat | None = None
        if isinstance(chat_id, str):
            wanted = chat_id[1:].lower()
            chat = next(
                (c for c in self.chats.values() if (c.username or "").lower() == wanted), None
            )
        else:
            chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError.bad_request("chat not found")
        if chat.type == "private" and chat.id in self.blocked_by:
            raise ApiError.forbidden("bot was blocked by the user")
        if chat.is_group and chat.id in self.kicked_from:
            kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
            raise ApiError.forbidden(f"bot was kicked from the {kind}")
        return chat

    def _formatted(
        self, p: Params, text_name: str, entities_name: str, *, caption: bool
    ) -> tuple[str, list[Entity]]:
        raw = p.get_str(text_name) or ""
        entities = p.get_json(entities_name, error="can't parse entities JSON object")
        if entities is not None and not isinstance(entities, list):
            raise ApiError.bad_request("can't parse entities JSON object")
        if caption and not raw:
            return "", []
        text, found = format_text(raw, p.get_str("parse_mode"), entities, allow_empty=caption)
        limit = MAX_CAPTION_LENGTH if caption else MAX_TEXT_LENGTH
        if len(text) > limit:
            raise ApiError.bad_request(
                "message caption is too long" if caption else "message is too long"
            )
        return text, found

    def _inline_markup(self, p: Params, chat_id: int) -> JSON | None:
        markup = p.get_json("reply_markup", error="can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
                self.reply_keyboards[chat_id] = markup
                return None
            raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError.bad_request('field "inline_keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise ApiError.bad_request("BUTTON_TEXT_INVALID")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise ApiError.bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"^(https?|tg)://", str(url)):
                    raise ApiError.bad_request("BUTTON_URL_INVALID")
        if not any(rows):
            return None
        return {"inline_keyboard": [[dict(b) for b in row] for row in rows if row]}

    def _reply(self, chat: Chat, p: Params, message: JSON) -> None:
        params = p.get_json("reply_parameters", error="can't parse reply parameters JSON object")
        if params is None and p.has("reply_to_message_id"):
            params = {
                "message_id": p.get_int("reply_to_message_id"),
                "allow_sending_without_reply": p.get_bool("allow_sending_without_reply"),
            }
        if params is None:
            return
        if not isinstance(params, dict) or "message_id" not in params:
            raise ApiError.bad_request("can't parse reply parameters JSON object")
        reply_chat = params.get("chat_id", chat.id)
        try:
            reply_chat_id = int(reply_chat)
        except (TypeError, ValueError):
            raise ApiError.bad_request("chat not found") from None
        embedded = self._embedded(reply_chat_id, int(params["message_id"]))
        if embedded is None:
            if params.get("allow_sending_without_reply"):
                return
            raise ApiError.bad_request("message to be replied not found")
        if reply_chat_id != chat.id:
            raise ApiError.bad_request("replies to other chats are not emulated")
        message["reply_to_message"] = embedded
        quote = params.get("quote")
        if quote:
            original = embedded.get("text") or embedded.get("caption") or ""
            index = original.find(str(quote))
            if index < 0:
                raise ApiError.bad_request("QUOTE_TEXT_INVALID")
            message["quote"] = {
                "text": quote,
                "position": utf16_offset(original, index),
                "is_manual": True,
            }

    def _bot_send(self, chat: Chat, p: Params, content: JSON) -> JSON:
        message = self._base_message(chat, self.bot_user)
        self._reply(chat, p, message)
        message.update(content)
        markup = self._inline_markup(p, chat.id)
        if markup:
            message["reply_markup"] = markup
        if p.get_bool("protect_content"):
            message["has_protected_content"] = True
        key = (chat.id, message["message_id"])
        self.messages[key] = message
        self.outbox.setdefault(chat.id, []).append(message["message_id"])
        self.notify()
        return copy.deepcopy(message)

    def _editable(self, p: Params) -> tuple[Chat, JSON]:
        if p.has("inline_message_id"):
            raise ApiError.bad_request("inline messages are not emulated")
        if not p.has("chat_id"):
            raise ApiError.bad_request("chat_id is empty")
        chat = self._target_chat(p)
        message_id = p.get_int("message_id")
        if message_id is None:
            raise ApiError.bad_request("message identifier is not specified")
        key = (chat.id, message_id)
        stored = self.messages.get(key)
        if stored is None or key in self.deleted:
            raise ApiError.bad_request("message to edit not found")
        if stored.get("from", {}).get("id") != self.bot_id:
            raise ApiError.bad_request("message can't be edited")
        return chat, stored

    def _file_param(self, p: Params, name: str, folder: str, prefix: str) -> StoredFile:
        value = p.file(name)
        if value is None:
            raise ApiError.bad_request(f"there is no {name} in the request")
        if isinstance(value, UploadedFile):
            extension = value.filename.rsplit(".", 1)[-1] if "." in value.filename else "bin"
            return self._store_file(
                prefix,
                folder,
                extension,
                value.data,
                mime_type=value.content_type or None,
                file_name=value.filename,
            )
        if value in self.files:
            return self.files[value]
        if re.match(r"^https?://", value):
            return self._store_file(
                prefix, folder, "bin", None, url=value, file_name=value.rsplit("/", 1)[-1] or "file"
            )
        raise ApiError.bad_request("wrong file identifier/HTTP URL specified")

    # ----------------------------------------------------------------------------------------
    # Bot API methods
    # ----------------------------------------------------------------------------------------

    async def api_getMe(self, p: Params) -> JSON:
        """getMe: the bot's ``User`` with the bot-only capability fields."""
        me = self.bot_user.to_api()
        me.update(
            {
                "can_join_groups": self.can_join_groups,
                "can_read_all_group_messages": self.can_read_all_group_messages,
                "supports_inline_queries": self.supports_inline_queries,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )
        return me

    async def api_logOut(self, p: Params) -> bool:
        """logOut: accepted, no effect."""
        return True

    async def api_close(self, p: Params) -> bool:
        """close: accepted, no effect."""
        return True

    async def api_getUpdates(self, p: Params) -> list[JSON]:
        """getUpdates with offset confirmation, limit, real long polling and allowed_updates."""
        if self.webhook is not None:
            raise ApiError.conflict(
                "can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first"
            )
        offset = p.get_int("offset")
        limit = min(max(p.get_int("limit", default=100) or 100, 1), 100)
        timeout = max(p.get_int("timeout", default=0) or 0, 0)
        allowed = p.get_json("allowed_updates")
        if allowed is not None:
            self.allowed_updates = [str(a) for a in allowed] if allowed else None
        self._poll_seq += 1
        mine = self._poll_seq
        self._confirm(offset)
        self.last_poll = time.time()
        self.notify()  # a poll that was waiting is now terminated
        deadline = time.monotonic() + timeout
        while True:
            event = self._changed
            if mine != self._poll_seq:
                raise ApiError.conflict(
                    "terminated by other getUpdates request; "
                    "make sure that only one bot instance is running"
                )
            if self.webhook is not None:
                raise ApiError.conflict(
                    "can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first"
                )
            batch = self._batch(offset, limit)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self.closing:
                for queued in batch:
                    queued.returned = True
                self.last_poll = time.time()
                return [copy.deepcopy(q.payload) for q in batch]
            await self._wait(event, remaining)

    async def api_setWebhook(self, p: Params) -> bool:
        """setWebhook (any http(s) URL and port, like a local Bot API server)."""
        url = p.get_str("url") or ""
        if p.get_bool("drop_pending_updates"):
            self.pending.clear()
        if not url:
            self.webhook = None
            self.notify()
            return True
        if not re.match(r"^https?://", url):
            raise ApiError.bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = p.get_str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError.bad_request("secret token contains unallowed characters")
        allowed = p.get_json("allowed_updates")
        if allowed is not None:
            self.allowed_updates = [str(a) for a in allowed] if allowed else None
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": p.get_int("max_connections", default=40),
            "ip_address": p.get_str("ip_address") or "127.0.0.1",
        }
        self.webhook_error = None
        self._start_webhook_loop()
        self.notify()
        return True

    async def api_deleteWebhook(self, p: Params) -> bool:
        """deleteWebhook, optionally dropping pending updates."""
        self.webhook = None
        if p.get_bool("drop_pending_updates"):
            self.pending.clear()
        self.notify()
        return True

    async def api_getWebhookInfo(self, p: Params) -> JSON:
        """getWebhookInfo: url ("" when polling), pending_update_count, last error."""
        info: JSON = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        if self.webhook:
            info["ip_address"] = self.webhook["ip_address"]
            info["max_connections"] = self.webhook["max_connections"]
            if self.allowed_updates:
                info["allowed_updates"] = list(self.allowed_updates)
            if self.webhook_error:
                info["last_error_date"], info["last_error_message"] = self.webhook_error
        return info

    async def api_sendMessage(self, p: Params) -> JSON:
        """sendMessage with parse modes, entities, replies (both styles) and keyboards."""
        chat = self._target_chat(p)
        text, entities = self._formatted(p, "text", "entities", caption=False)
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        preview = p.get_json("link_preview_options")
        if isinstance(preview, dict) and preview:
            content["link_preview_options"] = preview
        return self._bot_send(chat, p, content)

    async def api_sendPhoto(self, p: Params) -> JSON:
        """sendPhoto: an upload (multipart), a known file_id, or a URL."""
        chat = self._target_chat(p)
        caption, entities = self._formatted(p, "caption", "caption_entities", caption=True)
        stored = self._file_param(p, "photo", "photos", "AgACAgIAAxkBAA")
        if isinstance(stored.media, list):
            sizes = copy.deepcopy(stored.media)
        else:
            width, height = _image_size(stored.data or b"")
            sizes = self._photo_sizes(stored.data or b"", width, height)
        content: JSON = {"photo": sizes}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return self._bot_send(chat, p, content)

    async def api_sendDocument(self, p: Params) -> JSON:
        """sendDocument: an upload (multipart), a known file_id, or a URL."""
        chat = self._target_chat(p)
        caption, entities = self._formatted(p, "caption", "caption_entities", caption=True)
        stored = self._file_param(p, "document", "documents", "BQACAgIAAxkBAA")
        if isinstance(stored.media, dict) and "file_name" in stored.media:
            document = copy.deepcopy(stored.media)
        else:
            document = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.size,
            }
            if stored.file_name:
                document["file_name"] = stored.file_name
            if stored.mime_type:
                document["mime_type"] = stored.mime_type
            stored.media = document
        content: JSON = {"document": document}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return self._bot_send(chat, p, content)

    async def api_editMessageText(self, p: Params) -> JSON:
        """editMessageText; an omitted reply_markup removes the inline keyboard, as in Telegram."""
        chat, stored = self._editable(p)
        if "text" not in stored:
            raise ApiError.bad_request("there is no text in the message to edit")
        text, entities = self._formatted(p, "text", "entities", caption=False)
        markup = self._inline_markup(p, chat.id)
        if (
            text == stored.get("text")
            and entities == stored.get("entities", [])
            and markup == stored.get("reply_markup")
        ):
            raise ApiError.bad_request(_NOT_MODIFIED)
        stored["text"] = text
        if entities:
            stored["entities"] = entities
        else:
            stored.pop("entities", None)
        if markup:
            stored["reply_markup"] = markup
        else:
            stored.pop("reply_markup", None)
        stored["edit_date"] = _now()
        self.edit_log.append((time.time(), chat.id, stored["message_id"], "text"))
        self.notify()
        return copy.deepcopy(stored)

    async def api_editMessageCaption(self, p: Params) -> JSON:
        """editMessageCaption of a media message the bot sent."""
        chat, stored = self._editable(p)
        if "text" in stored:
            raise ApiError.bad_request("there is no caption in the message to edit")
        caption, entities = self._formatted(p, "caption", "caption_entities", caption=True)
        markup = self._inline_markup(p, chat.id)
        if (
            caption == stored.get("caption", "")
            and entities == stored.get("caption_entities", [])
            and markup == stored.get("reply_markup")
        ):
            raise ApiError.bad_request(_NOT_MODIFIED)
        for name, value in (
            ("caption", caption),
            ("caption_entities", entities),
            ("reply_markup", markup),
        ):
            if value:
                stored[name] = value
            else:
                stored.pop(name, None)
        stored["edit_date"] = _now()
        self.edit_log.append((time.time(), chat.id, stored["message_id"], "caption"))
        self.notify()
        return copy.deepcopy(stored)

    async def api_editMessageReplyMarkup(self, p: Params) -> JSON:
        """editMessageReplyMarkup; no reply_markup removes the keyboard."""
        chat, stored = self._editable(p)
        markup = self._inline_markup(p, chat.id)
        if markup == stored.get("reply_markup"):
            raise ApiError.bad_request(_NOT_MODIFIED)
        if markup:
            stored["reply_markup"] = markup
        else:
            stored.pop("reply_markup", None)
        stored["edit_date"] = _now()
        self.edit_log.append((time.time(), chat.id, stored["message_id"], "reply_markup"))
        self.notify()
        return copy.deepcopy(stored)

    async def api_deleteMessage(self, p: Params) -> bool:
        """deleteMessage (the bot's own messages, and others' in any chat here)."""
        chat = self._target_chat(p)
        message_id = p.get_int("message_id", required=True)
        assert message_id is not None
        key = (chat.id, message_id)
        if key not in self.messages or key in self.deleted:
            raise ApiError.bad_request("message to delete not found")
        self.deleted.add(key)
        self.notify()
        return True

    async def api_deleteMessages(self, p: Params) -> bool:
        """deleteMessages: deletes the ones that exist, skips the others."""
        chat = self._target_chat(p)
        ids = p.get_json("message_ids")
        if not isinstance(ids, list) or not ids:
            raise ApiError.bad_request("message_ids is empty")
        for message_id in ids:
            key = (chat.id, int(message_id))
            if key in self.messages:
                self.deleted.add(key)
        self.notify()
        return True

    async def api_answerCallbackQuery(self, p: Params) -> bool:
        """answerCallbackQuery: each query can be answered once."""
        query_id = p.get_str("callback_query_id", required=True)
        assert query_id is not None
        if query_id not in self.callback_queries or query_id in self.callback_answers:
            raise ApiError.bad_request(_QUERY_INVALID)
        text = p.get_str("text") or ""
        if len(text) > 200:
            raise ApiError.bad_request("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = {
            "callback_query_id": query_id,
            "text": text,
            "show_alert": p.get_bool("show_alert"),
            "url": p.get_str("url"),
            "cache_time": p.get_int("cache_time", default=0),
        }
        self.notify()
        return True

    async def api_sendChatAction(self, p: Params) -> bool:
        """sendChatAction with the documented action names."""
        chat = self._target_chat(p)
        action = p.get_str("action") or ""
        if action not in CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        self.actions.append((time.time(), chat.id, action))
        self.notify()
        return True

    def _scope_key(self, p: Params) -> ScopeKey:
        scope = p.get_json("scope", error="can't parse BotCommandScope JSON object") or {
            "type": "default"
        }
        language = p.get_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError.bad_request("invalid language code specified")
        if not isinstance(scope, dict) or scope.get("type") not in COMMAND_SCOPES:
            raise ApiError.bad_request("can't parse BotCommandScope JSON object")
        kind = str(scope["type"])
        chat_id: int | None = None
        user_id: int | None = None
        if kind in ("chat", "chat_administrators", "chat_member"):
            if "chat_id" not in scope:
                raise ApiError.bad_request("chat_id is empty")
            chat_id = Params({"chat_id": scope["chat_id"]}).chat_id()  # type: ignore[assignment]
            if chat_id not in self.chats:
                raise ApiError.bad_request("chat not found")
        if kind == "chat_member":
            try:
                user_id = int(scope["user_id"])
            except (KeyError, TypeError, ValueError):
                raise ApiError.bad_request("user not found") from None
        return kind, chat_id, user_id, language

    async def api_setMyCommands(self, p: Params) -> bool:
        """setMyCommands: stored per scope and language code, validated like Telegram."""
        commands = p.get_json("commands", error="can't parse commands JSON object")
        if not isinstance(commands, list):
            raise ApiError.bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError.bad_request("too many commands specified")
        cleaned: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError.bad_request("can't parse BotCommand JSON object")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _COMMAND_RE.fullmatch(name):
                raise ApiError.bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError.bad_request("command description is empty or too long")
            cleaned.append({"command": name, "description": description})
        key = self._scope_key(p)
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        self.notify()
        return True

    async def api_getMyCommands(self, p: Params) -> list[JSON]:
        """getMyCommands: the list for exactly that scope and language (no fallback)."""
        return copy.deepcopy(self.commands.get(self._scope_key(p), []))

    async def api_deleteMyCommands(self, p: Params) -> bool:
        """deleteMyCommands for one scope and language."""
        self.commands.pop(self._scope_key(p), None)
        self.notify()
        return True

    def _profile_setter(self, p: Params, field: str, limit: int) -> bool:
        value = p.get_str(field) or ""
        if len(value) > limit:
            raise ApiError.bad_request(f"{field} is too long")
        language = p.get_str("language_code") or ""
        self.profile[f"{field}:{language}" if language else field] = value
        return True

    def _profile_getter(self, p: Params, field: str) -> JSON:
        language = p.get_str("language_code") or ""
        value = self.profile.get(f"{field}:{language}") if language else None
        return {field: value if value is not None else self.profile.get(field, "")}

    async def api_setMyDescription(self, p: Params) -> bool:
        """setMyDescription (stored per language)."""
        return self._profile_setter(p, "description", 512)

    async def api_getMyDescription(self, p: Params) -> JSON:
        """getMyDescription."""
        return self._profile_getter(p, "description")

    async def api_setMyShortDescription(self, p: Params) -> bool:
        """setMyShortDescription (stored per language)."""
        return self._profile_setter(p, "short_description", 120)

    async def api_getMyShortDescription(self, p: Params) -> JSON:
        """getMyShortDescription."""
        return self._profile_getter(p, "short_description")

    async def api_setMyName(self, p: Params) -> bool:
        """setMyName (stored per language)."""
        return self._profile_setter(p, "name", 64)

    async def api_getMyName(self, p: Params) -> JSON:
        """getMyName."""
        return self._profile_getter(p, "name")

    async def api_setChatMenuButton(self, p: Params) -> bool:
        """setChatMenuButton (per chat, or the default)."""
        chat_id = p.get_int("chat_id")
        button = p.get_json("menu_button") or {"type": "default"}
        self.menu_buttons[chat_id] = button
        return True

    async def api_getChatMenuButton(self, p: Params) -> JSON:
        """getChatMenuButton."""
        chat_id = p.get_int("chat_id")
        found = self.menu_buttons.get(chat_id) or self.menu_buttons.get(None)
        return copy.deepcopy(found) if found else {"type": "commands"}

    async def api_getChat(self, p: Params) -> JSON:
        """getChat: a ``ChatFullInfo`` with the fields Bot API 9 requires."""
        chat = self._target_chat(p)
        info = chat.to_api()
        info.update(
            {
                "accent_color_id": abs(chat.id) % 7,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": True,
                    "limited_gifts": True,
                    "unique_gifts": True,
                    "premium_subscription": True,
                    "gifts_from_channels": True,
                },
            }
        )
        if chat.type == "private":
            user = self.users.get(chat.id)
            if user is not None and user.last_name:
                info["last_name"] = user.last_name
        else:
            info["permissions"] = {
                "can_send_messages": True,
                "can_send_audios": True,
                "can_send_documents": True,
                "can_send_photos": True,
                "can_send_videos": True,
                "can_send_video_notes": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_change_info": False,
                "can_invite_users": True,
                "can_pin_messages": False,
                "can_manage_topics": False,
            }
        return info

    def _chat_member(self, chat_id: int, user: User) -> JSON:
        status = self._member_status(chat_id, user.id)
        member: JSON = {"status": status, "user": user.to_api()}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_pin_messages": True,
                    "can_manage_topics": False,
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    async def api_getChatMember(self, p: Params) -> JSON:
        """getChatMember: creator/administrator/member/left/kicked."""
        chat = self._target_chat(p)
        user_id = p.get_int("user_id", required=True)
        user = self.bot_user if user_id == self.bot_id else self.users.get(int(user_id or 0))
        if user is None:
            raise ApiError.bad_request("user not found")
        return self._chat_member(chat.id, user)

    async def api_getChatAdministrators(self, p: Params) -> list[JSON]:
        """getChatAdministrators of a group."""
        chat = self._target_chat(p)
        result = []
        for user_id, status in self.members.get(chat.id, {}).items():
            if status in ("creator", "administrator"):
                user = self.bot_user if user_id == self.bot_id else self.users[user_id]
                result.append(self._chat_member(chat.id, user))
        return result

    async def api_getChatMemberCount(self, p: Params) -> int:
        """getChatMemberCount."""
        chat = self._target_chat(p)
        if chat.type == "private":
            return 2
        statuses = self.members.get(chat.id, {}).values()
        return sum(1 for s in statuses if s in ("creator", "administrator", "member"))

    async def api_getFile(self, p: Params) -> JSON:
        """getFile: file_path to download from ``/file/bot<token>/<file_path>``."""
        file_id = p.get_str("file_id", required=True)
        stored = self.files.get(file_id or "")
        if stored is None:
            raise ApiError.bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }
