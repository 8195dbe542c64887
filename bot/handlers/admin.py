"""The admin gate: ``@admin_command("action")`` on every admin command and admin button.

Admins are the users in ``ADMIN_USER_IDS`` (a group's own administrators are not: they run
the group, not the bot). Anyone else gets a refusal in their language and nothing runs. Every
call, allowed or refused, is written to the audit log with its arguments and outcome.

A wrapped handler may return a short outcome for the log (``"promoted qa v3"``); ``None``
logs ``"ok"``. An exception logs ``"error: ..."`` and goes on to the error handler.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from bot.context import BotContext
from bot.handlers.outgoing import respond
from bot.services.conversation import Reply
from bot.texts import pick_language, say

log = logging.getLogger(__name__)

AdminHandler = Callable[[Update, BotContext], Coroutine[Any, Any, str | None]]
Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def admin_command(action: str) -> Callable[[AdminHandler], Handler]:
    """Run the handler only for ``ADMIN_USER_IDS``; audit every call (see the module doc)."""

    def decorate(handler: AdminHandler) -> Handler:
        @functools.wraps(handler)
        async def guarded(update: Update, context: BotContext) -> None:
            services = context.services
            user, chat = update.effective_user, update.effective_chat
            user_id, chat_id = (user.id if user else None), (chat.id if chat else None)
            arguments = call_arguments(update, context)
            if not services.settings.is_admin(user_id):
                await services.audit.record(user_id, chat_id, action, arguments, False,
                                            "refused: not an admin")
                await refuse(update, context)
                return
            try:
                outcome = await handler(update, context)
            except Exception as exc:
                await services.audit.record(user_id, chat_id, action, arguments, True,
                                            f"error: {type(exc).__name__}")
                raise
            await services.audit.record(user_id, chat_id, action, arguments, True,
                                        outcome or "ok")

        return guarded

    return decorate


def call_arguments(update: Update, context: BotContext) -> dict[str, Any]:
    """What the admin asked for: a command's arguments, or a button's callback data."""
    if update.callback_query is not None:
        return {"callback": update.callback_query.data}
    message = update.effective_message
    text = (message.text or "") if message else ""
    if not text.startswith("/"):
        return {"text": text}
    _, _, rest = text.partition(" ")
    return {"args": list(context.args or []), "text": rest.strip()}


async def refuse(update: Update, context: BotContext) -> None:
    """A clear refusal: as a reply to a command, as an alert for a button."""
    query = update.callback_query
    if query is not None:
        user = update.effective_user
        lang = pick_language(None, user.language_code if user else None,
                             context.services.settings.default_language)
        await query.answer(say(lang, "admins_only"), show_alert=True)
        return
    if context.turn is not None:
        await respond(update, context, Reply(say(context.turn.lang, "admins_only")))
    elif update.effective_message is not None:
        await update.effective_message.reply_text(
            say(context.services.settings.default_language, "admins_only"))
