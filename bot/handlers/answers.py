"""The model-backed answers: /ask, /translate, /summarize, and plain text."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.handlers.incoming import replied_text, strip_mention
from bot.handlers.outgoing import respond, typing
from bot.services.commands import command_argument, parse_translate
from bot.services.conversation import Reply
from bot.texts import say


def _argument(context: BotContext) -> str:
    """The command's argument, of the text admitted (at most MAX_INPUT_CHARS of it)."""
    return command_argument(context.current_turn.text or "")


def _replied(update: Update) -> str:
    message = update.effective_message
    return replied_text(message) if message else ""


async def ask(update: Update, context: BotContext) -> None:
    """/ask QUESTION: question answering."""
    turn = context.current_turn
    question = _argument(context)
    if not question:
        await respond(update, context, Reply(say(turn.lang, "usage_ask")))
        return
    async with typing(context, turn.chat_id):
        reply = await context.services.conversation.ask(question, turn.lang)
    await respond(update, context, reply)


async def translate(update: Update, context: BotContext) -> None:
    """/translate [en|zh] TEXT, or as a reply to a message: translate it."""
    turn = context.current_turn
    target, text = parse_translate(_argument(context))
    text = text or _replied(update)
    if not text:
        await respond(update, context, Reply(say(turn.lang, "usage_translate")))
        return
    async with typing(context, turn.chat_id):
        reply = await context.services.conversation.translate(text, target, turn.lang)
    await respond(update, context, reply)


async def summarize(update: Update, context: BotContext) -> None:
    """/summarize TEXT, or as a reply to a message: a one-line summary."""
    turn = context.current_turn
    text = _argument(context) or _replied(update)
    if not text:
        await respond(update, context, Reply(say(turn.lang, "usage_summarize")))
        return
    async with typing(context, turn.chat_id):
        reply = await context.services.conversation.summarize(text, turn.lang)
    await respond(update, context, reply)


async def free_text(update: Update, context: BotContext) -> None:
    """Plain text (in groups: addressed to the bot) goes by the chat's mode or the router."""
    turn = context.current_turn
    text = turn.text or ""
    if turn.is_group:
        text = strip_mention(text, context.bot.username)
    if not text.strip():
        await respond(update, context, Reply(say(turn.lang, "help")))
        return
    async with typing(context, turn.chat_id):
        reply = await context.services.conversation.free_text(text, turn.mode, turn.lang,
                                                              in_group=turn.is_group)
    await respond(update, context, reply)
