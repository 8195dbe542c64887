"""Photos, stickers, voice and other non-text messages."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.handlers.outgoing import close_silently, respond
from bot.services.conversation import Reply
from bot.texts import say


async def not_text(update: Update, context: BotContext) -> None:
    """Private chats: say the bot only reads text. Groups: ignore."""
    turn = context.current_turn
    if turn.is_group:
        await close_silently(context)
        return
    await respond(update, context, Reply(say(turn.lang, "only_text")))
