"""Reading a Telegram message: its content type, command, and whether it is meant for the bot."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler

from bot.services.commands import split_command
from bot.storage.records import IncomingMessage

_CONTENT_TYPES = (
    "photo", "sticker", "voice", "video", "video_note", "audio", "animation", "document",
    "location", "venue", "contact", "poll", "dice", "game", "story",
)


def content_type(message: Message) -> str:
    if message.text is not None:
        return "text"
    for name in _CONTENT_TYPES:
        if getattr(message, name, None):
            return name
    return "other"


def is_group(message: Message) -> bool:
    return message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def command_of(message: Message) -> tuple[str, str | None] | None:
    """``(name, @bot or None)`` when the message starts with a bot command."""
    text = message.text or ""
    entities = message.entities or ()
    starts_with_command = any(e.type == MessageEntity.BOT_COMMAND and e.offset == 0
                              for e in entities) or (not entities and text.startswith("/"))
    parts = split_command(text) if starts_with_command else None
    return (parts[0], parts[1]) if parts else None


def mentions_bot(message: Message, username: str, bot_id: int) -> bool:
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or ()
    for entity in entities:
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            return True
    return bool(username) and re.search(rf"@{re.escape(username)}\b", text, re.I) is not None


def replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def known_commands(application: Application[Any, Any, Any, Any, Any, Any]) -> frozenset[str]:
    """The commands the application has handlers for."""
    return frozenset(name for group in application.handlers.values() for handler in group
                     if isinstance(handler, CommandHandler) for name in handler.commands)


def is_addressed(message: Message, username: str, bot_id: int,
                 commands: Collection[str] | None = None) -> bool:
    """Private chats: always. Groups: a mention, a reply to the bot, ``/cmd@thisbot``, or a
    bare ``/cmd`` that is one of ``commands`` (the bot's; None: any)."""
    if not is_group(message):
        return True
    command = command_of(message)
    if command is not None:
        if command[1] is not None:
            return command[1].lower() == username.lower()
        # A bare command the bot does not have may be another bot's: not ours to store.
        return commands is None or command[0] in commands
    return mentions_bot(message, username, bot_id) or replies_to_bot(message, bot_id)


def strip_mention(text: str, username: str) -> str:
    """``"@my_bot, how are you?"`` -> ``"how are you?"``."""
    if not username:
        return text.strip()
    cleaned = re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.I)
    return cleaned.strip().lstrip(",:;，：").strip()


def replied_text(message: Message) -> str:
    """The text (or caption) of the message this one replies to."""
    replied = message.reply_to_message
    if replied is None:
        return ""
    return (replied.text or replied.caption or "").strip()


# what a stored update keeps of the message it replies to when that text may not be stored
_REPLIED_IDS = ("message_id", "date", "chat", "from", "sender_chat")


def storable_update(update: Update, bot_id: int, store_unaddressed: bool) -> dict[str, Any]:
    """The update as stored for answering it after a crash (``raw_update``).

    In a group whose unaddressed messages are not stored (``STORE_GROUP_MESSAGES=false``), the
    message replied to is such a message unless it is the bot's own: only its ids are kept, and
    no quote of it or of a message in another chat. A reply-based command answered after a crash
    then finds no text to work on."""
    raw: dict[str, Any] = update.to_dict()
    message = update.message
    if store_unaddressed or message is None or not is_group(message):
        return raw
    body = raw.get("message") or {}
    if message.reply_to_message is not None and not replies_to_bot(message, bot_id):
        replied = body["reply_to_message"]
        body["reply_to_message"] = {k: replied[k] for k in _REPLIED_IDS if k in replied}
        body.pop("quote", None)
    body.pop("external_reply", None)
    return raw


def incoming_message(update: Update, username: str, bot_id: int,
                     commands: Collection[str] | None = None, *,
                     store_unaddressed: bool = False) -> IncomingMessage | None:
    """What storage needs of an update's message; None for updates without a user message.
    ``store_unaddressed`` is ``STORE_GROUP_MESSAGES`` (see ``storable_update``)."""
    message = update.message
    if message is None or message.from_user is None:
        return None
    user, chat = message.from_user, message.chat
    command = command_of(message)
    raw = storable_update(update, bot_id, store_unaddressed)
    return IncomingMessage(
        chat_id=chat.id, chat_type=str(chat.type), chat_title=chat.title,
        message_id=message.message_id, user_id=user.id, username=user.username,
        first_name=user.first_name, language_code=user.language_code,
        text=message.text if message.text is not None else message.caption,
        content_type=content_type(message), command=command[0] if command else None,
        addressed=is_addressed(message, username, bot_id, commands),
        reply_to_message_id=(message.reply_to_message.message_id
                             if message.reply_to_message else None),
        raw_update=raw,
    )
