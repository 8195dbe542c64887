"""The one error handler: traceback to the log, a plain sentence to the user."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError
from telegram import Update
from telegram.error import NetworkError
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.handlers.incoming import is_addressed, known_commands
from bot.texts import pick_language, say

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log the error with its traceback; tell the user something went wrong, in their language.

    A network error talking to Telegram leaves the message unanswered in storage, so the next
    start answers it (the reply may or may not have reached Telegram; see the README).
    """
    if update is None and isinstance(context.error, NetworkError):  # polling; PTB retries
        log.warning("cannot reach the Bot API, retrying: %s", context.error)
        return
    if isinstance(context.error, DBAPIError):  # say what failed in one line, then the trace
        log.error("the database failed while handling %s: %s", _describe(update),
                  context.error.orig, exc_info=context.error)
    else:
        log.error("error while handling %s", _describe(update), exc_info=context.error)
    if isinstance(update, Update) and update.message is not None:
        await _tell_user(update, context)
    raise ApplicationHandlerStop  # the update's later handler groups must not run after this


async def _tell_user(update: Update, context: BotContext) -> None:
    assert update.message is not None
    message = update.message
    services = context.application.bot_data.services
    if services is None or isinstance(context.error, NetworkError):
        return
    if not is_addressed(message, context.bot.username, context.bot.id,
                        known_commands(context.application)):
        return
    user = message.from_user
    lang = pick_language(None, user.language_code if user else None,
                         services.settings.default_language)
    try:
        lang = await services.turns.mark_failed(message.chat_id, message.message_id,
                                                user.id if user else None)
    except Exception:  # the database may be what failed
        log.exception("could not record the failure of message %s", message.message_id)
    try:
        await message.reply_text(say(lang, "error"))
    except Exception:  # nor Telegram: never loop on errors
        log.exception("could not tell the user about the error")


def _describe(update: object) -> str:
    """Which update failed, without its content (user text stays out of the logs)."""
    if isinstance(update, Update):
        chat = update.effective_chat
        message = update.effective_message
        return (f"update {update.update_id} (chat {chat.id if chat else '-'}, "
                f"message {message.message_id if message else '-'})")
    return type(update).__name__ if update is not None else "no update"
