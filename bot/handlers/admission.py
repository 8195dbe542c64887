"""Before any answer: allow-lists, edits, storing each message once, the per-user rate limit.

These run in handler groups -2 and -1; ``ApplicationHandlerStop`` ends an update's processing
there, so the answering handlers (group 0) only see messages this process must answer.
Every update a user causes (a message, an edit, a button press) takes one from their rate
limit; over it, an edit is not recorded and a press is answered without being handled.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from telegram import InlineKeyboardMarkup, Message, Update
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
    """An edit updates the stored text and is not answered again (see the README); an edit
    over the user's rate limit is not recorded (and only a private chat is told)."""
    message, user = update.edited_message, update.effective_user
    if message is None or user is None:
        raise ApplicationHandlerStop
    settings = context.services.settings
    decision = await context.services.limiter.check(user.id)
    if not decision.allowed:
        if decision.warn and message.chat.type == "private":
            lang = pick_language(None, user.language_code, settings.default_language)
            await message.reply_text(say(lang, "rate_limited", seconds=decision.retry_after_s))
        raise ApplicationHandlerStop
    text = message.text if message.text is not None else message.caption
    await context.services.turns.record_edit(message.chat_id, message.message_id, text)
    raise ApplicationHandlerStop


def on_keyboard(message: object, data: str | None) -> bool:
    """Whether ``data`` is one of the buttons of the message it came with (False when the
    message's content is not available: Telegram sends only its ids when it is too old)."""
    if not isinstance(message, Message):  # an InaccessibleMessage
        return False
    markup = message.reply_markup
    if not isinstance(markup, InlineKeyboardMarkup):
        return False
    return any(button.callback_data == data for row in markup.inline_keyboard for button in row)


class PressGate:
    """Every button press, before its handler: one from the user's rate limit; then

    * /forgetme and /review data that is not on the message's keyboard (forged: another
      user's /forgetme, a review button under an answer) is refused with a clear answer, as is
      such a press on a message too old for Telegram to show. 👍/👎 need no such check: rating
      finds the model answer by the message's ids, and any other message is "gone";
    * the same button pressed again on the same message is answered and goes no further (no
      write, no new message): only a press that changes something is handled. Admins, exempt
      from the rate limit too, are told again what their press did ("already reviewed").

    The last press per user and message is remembered in memory, for ``size`` messages."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._last: OrderedDict[tuple[int, int, int], str] = OrderedDict()

    async def admit(self, update: Update, context: BotContext) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            raise ApplicationHandlerStop
        settings = context.services.settings
        lang = pick_language(None, user.language_code, settings.default_language)
        decision = await context.services.limiter.check(user.id)
        if not decision.allowed:
            await query.answer(say(lang, "rate_limited", seconds=decision.retry_after_s)
                               if decision.warn else None)
            raise ApplicationHandlerStop
        message, data = query.message, query.data or ""
        if message is None or (not data.startswith("fb:") and not on_keyboard(message, data)):
            log.info("button %r from user %s is not on its message: refused", data[:64], user.id)
            await query.answer(say(lang, "button_invalid"), show_alert=True)
            raise ApplicationHandlerStop
        key = (user.id, message.chat.id, message.message_id)
        if self._last.get(key) == data and user.id not in context.services.limiter.exempt:
            await query.answer()
            raise ApplicationHandlerStop
        self._last[key] = data
        self._last.move_to_end(key)
        while len(self._last) > self.size:
            self._last.popitem(last=False)


async def admit(update: Update, context: BotContext) -> None:
    """Store the message once; go on only if it is addressed to us, new, and within limits."""
    services = context.services
    incoming = incoming_message(update, context.bot.username, context.bot.id,
                                known_commands(context.application),
                                store_unaddressed=services.settings.store_group_messages)
    if incoming is None:
        raise ApplicationHandlerStop
    turn = await services.turns.begin(incoming)
    if context.bot_data.inbox is not None:  # stored: Telegram may now forget the update
        context.bot_data.inbox.done(update.update_id)
    if turn is None:
        raise ApplicationHandlerStop
    if services.turns.before_answer is not None:  # replicas: the chat's earlier messages first
        await services.turns.before_answer(turn.chat_id, turn.message_id)
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
