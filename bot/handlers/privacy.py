"""/forgetme and /exportme: a user's own data."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.handlers.feedback import Prompts
from bot.handlers.keyboards import forget_keyboard, parse_forget
from bot.handlers.outgoing import respond
from bot.services.conversation import Reply
from bot.services.privacy import Forgotten
from bot.texts import pick_language, say


async def forget_me(update: Update, context: BotContext) -> None:
    """/forgetme: ask for confirmation with a button (only the asker's press counts)."""
    turn = context.current_turn
    await respond(update, context, Reply(say(turn.lang, "forget_confirm")),
                  forget_keyboard(turn.lang, turn.user_id))


async def export_me(update: Update, context: BotContext) -> None:
    """/exportme: everything stored about the user, as a JSON document (private chats only)."""
    turn = context.current_turn
    message = update.effective_message
    assert message is not None
    if turn.is_group:
        await respond(update, context, Reply(say(turn.lang, "export_private_only")))
        return
    document = await context.services.privacy.export(turn.user_id)
    await message.reply_document(document, filename=f"my-data-{turn.user_id}.json",
                                 caption=say(turn.lang, "export_caption"))
    await context.services.turns.finish(turn, [])


class ForgetButtons:
    """The confirmation of /forgetme; also drops any prompt waiting for the user's text."""

    def __init__(self, prompts: Prompts) -> None:
        self.prompts = prompts

    async def press(self, update: Update, context: BotContext) -> None:
        query, user = update.callback_query, update.effective_user
        assert query is not None and user is not None
        lang = pick_language(None, user.language_code, context.services.settings.default_language)
        parsed = parse_forget(query.data)
        if parsed is None or parsed[1] != user.id:
            await query.answer(say(lang, "forget_not_yours"), show_alert=True)
            return
        if not parsed[0]:
            await query.answer()
            await query.edit_message_text(say(lang, "forget_cancelled"))
            return
        forgotten = await context.services.privacy.forget(user.id)
        self.prompts.forget_user(user.id)
        await query.answer()
        await query.edit_message_text(receipt(lang, forgotten))


def receipt(lang: str, forgotten: Forgotten) -> str:
    """What was deleted, and which model versions are the first trained without the user."""
    lines = [say(lang, "forgotten", messages=forgotten.messages, feedback=forgotten.feedback,
                 corrections=forgotten.corrections, pairs=forgotten.pairs)]
    if forgotten.trained_without:
        versions = ", ".join(f"{task} {version}"
                             for task, version in sorted(forgotten.trained_without.items()))
        lines.append(say(lang, "forget_receipt", versions=versions))
    else:
        lines.append(say(lang, "forget_receipt_pending"))
    return "\n".join(lines)
