"""/start, /help, /lang, /mode, and commands the bot does not know."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.context import BotContext
from bot.handlers.incoming import command_of
from bot.handlers.outgoing import close_silently, respond
from bot.services.commands import LANGUAGES, MODES, command_argument, parse_choice
from bot.services.conversation import Reply
from bot.texts import say


async def start(update: Update, context: BotContext) -> None:
    """Greet the user and show what the bot can do."""
    turn = context.current_turn
    user = update.effective_user
    name = f", {user.first_name}" if user and user.first_name else ""
    await respond(update, context, Reply(say(turn.lang, "start", name=name)))


async def help_command(update: Update, context: BotContext) -> None:
    """List the commands (and, in groups, how the bot behaves there)."""
    turn = context.current_turn
    text = say(turn.lang, "help")
    settings = context.services.settings
    if turn.is_group:
        text += say(turn.lang, "help_group", n=settings.digest_default_messages)
    if settings.is_admin(turn.user_id):
        text += say(turn.lang, "help_admin")
    await respond(update, context, Reply(text))


async def set_language(update: Update, context: BotContext) -> None:
    """/lang en|zh: the interface language for this user."""
    turn = context.current_turn
    message = update.effective_message
    assert message is not None
    choice = parse_choice(command_argument(message.text or ""), LANGUAGES)
    if choice is None:
        await respond(update, context, Reply(say(turn.lang, "usage_lang", lang=turn.lang)))
        return
    await context.services.turns.set_language(turn.user_id, choice)
    await respond(update, context, Reply(say(choice, "lang_set")))


async def set_mode(update: Update, context: BotContext) -> None:
    """/mode auto|qa|chat|translate|summarize: what plain messages do in this chat."""
    turn = context.current_turn
    message = update.effective_message
    assert message is not None
    choice = parse_choice(command_argument(message.text or ""), MODES)
    if choice is None:
        await respond(update, context, Reply(say(turn.lang, "usage_mode", mode=turn.mode)))
        return
    if turn.is_group and not await _may_configure(context, turn.chat_id, turn.user_id):
        await respond(update, context, Reply(say(turn.lang, "mode_admins_only")))
        return
    await context.services.turns.set_mode(turn.chat_id, choice)
    await respond(update, context, Reply(say(turn.lang, "mode_set", mode=choice)))


async def unknown_command(update: Update, context: BotContext) -> None:
    """Say so in private chats and to /cmd@thisbot; stay quiet about other bots' commands."""
    turn = context.current_turn
    message = update.effective_message
    assert message is not None
    command = command_of(message)
    if turn.is_group and (command is None or command[1] is None):
        await close_silently(context)
        return
    # A private chat always gets an answer, even to a command entity on no valid command name
    # (Telegram's entities are not checked against the text).
    words = (message.text or "").split(maxsplit=1)
    name = f"/{command[0]}" if command else (words[0][:33] if words else "/")
    await respond(update, context, Reply(say(turn.lang, "unknown_command", command=name)))


async def _may_configure(context: BotContext, chat_id: int, user_id: int) -> bool:
    """Bot admins (ADMIN_USER_IDS) and the group's own administrators."""
    if context.services.settings.is_admin(user_id):
        return True
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
