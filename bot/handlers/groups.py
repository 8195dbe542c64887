"""/digest [N]: summarize a group's recent stored messages."""

from __future__ import annotations

from dataclasses import replace

from telegram import Update

from bot.context import BotContext
from bot.handlers.incoming import strip_mention
from bot.handlers.outgoing import respond, typing
from bot.services.commands import command_argument, parse_count
from bot.services.conversation import Reply
from bot.texts import say


async def digest(update: Update, context: BotContext) -> None:
    """Summarize the last N text messages of this group, naming who said what."""
    turn = context.current_turn
    settings = context.services.settings
    if not turn.is_group:
        await respond(update, context, Reply(say(turn.lang, "digest_groups_only")))
        return
    message = update.effective_message
    count = parse_count(command_argument(message.text or "") if message else "",
                        settings.digest_default_messages, settings.digest_max_messages)
    if count is None:
        await respond(update, context,
                      Reply(say(turn.lang, "usage_digest", max=settings.digest_max_messages)))
        return
    lines = [replace(line, text=strip_mention(line.text, context.bot.username))
             for line in await context.services.turns.recent_lines(turn.chat_id, count,
                                                                   turn.message_id)]
    async with typing(context, turn.chat_id):
        reply = await context.services.conversation.digest(lines, turn.lang)
    if not settings.store_group_messages:
        reply = replace(reply, text=f"{reply.text}\n{say(turn.lang, 'digest_privacy')}")
    await respond(update, context, reply)
