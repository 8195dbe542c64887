"""Before any answer: allow-lists, edits, storing each message once, the per-user rate limit.

These run in handler groups -2 and -1; ``ApplicationHandlerStop`` ends an update's processing
there, so the answering handlers (group 0) only see messages this process must answer.
"""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.handlers.incoming import incoming_message, known_commands
from bot.texts import pick_language, say

log = logging.getLogger(__name__)


async def enforce_allow_lists(update: Update, context: BotContext) -> None:
    """Users and chats outside the allow-lists get nothing, and nothing of theirs is stored."""
    settings = context.services.settings
    user, chat = update.effective_user, update.effective_chat
    if settings.allows(user.id if user else None, chat.id if chat else None):
        return
    message = update.message
    private = message is not None and chat is not None and chat.type == "private"
    if private and user is not None and (await context.services.refusals.check(user.id)).allowed:
        assert message is not None
        lang = pick_language(None, user.language_code, settings.default_language)
        await message.reply_text(say(lang, "not_allowed"))
    raise ApplicationHandlerStop


async def record_edit(update: Update, context: BotContext) -> None:
    """An edit updates the stored text and is not answered again (see the README)."""
    message = update.edited_message
    if message is not None:
        text = message.text if message.text is not None else message.caption
        await context.services.turns.record_edit(message.chat_id, message.message_id, text)
    raise ApplicationHandlerStop


async def admit(update: Update, context: BotContext) -> None:
    """Store the message once; go on only if it is addressed to us, new, and within limits."""
    incoming = incoming_message(update, context.bot.username, context.bot.id,
                                known_commands(context.application))
    if incoming is None:
        raise ApplicationHandlerStop
    services = context.services
    turn = await services.turns.begin(incoming)
    if context.bot_data.inbox is not None:  # stored: Telegram may now forget the update
        context.bot_data.inbox.done(update.update_id)
    if turn is None:
        raise ApplicationHandlerStop
    decision = await services.limiter.check(turn.user_id)
    if not decision.allowed:
        if decision.warn and update.message:
            await update.message.reply_text(
                say(turn.lang, "rate_limited", seconds=decision.retry_after_s))
        await services.turns.close(turn)
        raise ApplicationHandlerStop
    context.turn = turn
    log.debug("chat %s message %s admitted after %.0f ms", turn.chat_id, turn.message_id,
              (time.monotonic() - turn.received_at) * 1000)
