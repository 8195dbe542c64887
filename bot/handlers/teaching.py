"""Admin /teach and /review: what the bot learns, and only with an admin's consent."""

from __future__ import annotations

from telegram import ForceReply, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.error import BadRequest

from bot.context import BotContext
from bot.handlers.admin import admin_command
from bot.handlers.feedback import Prompts
from bot.handlers.keyboards import parse_review, review_keyboard
from bot.handlers.outgoing import respond
from bot.services.commands import command_argument
from bot.services.conversation import Reply
from bot.services.learning_loop import QA, Taught, model_input, parse_teach
from bot.storage.records import CorrectionRecord
from bot.texts import pick_language, say


@admin_command("teach")
async def teach(update: Update, context: BotContext) -> str:
    """/teach QUESTION | ANSWER: into the answer bank at once, and into the training data."""
    turn = context.current_turn
    message = update.effective_message
    pair = parse_teach(command_argument(message.text or "") if message else "")
    if pair is None:
        await respond(update, context, Reply(say(turn.lang, "usage_teach")))
        return "usage"
    question, answer = pair
    taught = await context.services.learning.teach(question, answer, turn.user_id)
    key = "taught" if taught.in_bank else "taught_later"
    await respond(update, context, Reply(say(turn.lang, key, question=question, answer=answer)))
    return f"pair {taught.pair_id}, in bank: {taught.in_bank}"


@admin_command("review")
async def review(update: Update, context: BotContext) -> str:
    """/review: the first pending correction, with Approve / Edit / Reject / Next buttons.
    Private chats only: a page shows a user's question, the bot's answer and their correction."""
    turn = context.current_turn
    if turn.is_group:
        await respond(update, context, Reply(say(turn.lang, "review_private_only")))
        return "refused: group chat"
    text, markup = await _page(context, turn.lang, 0)
    await respond(update, context, Reply(text), markup)
    return "shown"


async def _page(context: BotContext, lang: str, position: int
                ) -> tuple[str, InlineKeyboardMarkup | None]:
    record, total = await context.services.learning.pending(position)
    if record is None:
        return say(lang, "review_empty"), None
    position = position % total
    return _describe(record, lang, position, total), review_keyboard(lang, record.id, position)


def _describe(record: CorrectionRecord, lang: str, position: int, total: int) -> str:
    return say(lang, "review_item", position=position + 1, total=total, id=record.id,
               question=model_input(record.question, record.question_command) or "-",
               task=record.task or "-", answer=record.answer or "-", text=record.text)


def _outcome(lang: str, correction_id: int, taught: Taught, task: str | None) -> str:
    if task in (None, QA) and taught.in_bank:
        return say(lang, "review_approved", id=correction_id)
    return say(lang, "review_approved_training", id=correction_id, task=task or QA)


class ReviewButtons:
    """The Approve / Edit / Reject / Next buttons of /review (admins only, audited)."""

    def __init__(self, prompts: Prompts) -> None:
        self.prompts = prompts
        self.press = admin_command("review_button")(self._press)

    async def _press(self, update: Update, context: BotContext) -> str:
        query, user = update.callback_query, update.effective_user
        assert query is not None and user is not None
        lang = pick_language(None, user.language_code, context.services.settings.default_language)
        parsed = parse_review(query.data)
        if parsed is None or query.message is None:
            await query.answer()
            return "malformed"
        if query.message.chat.type != "private":  # a page an older version showed in a group
            await query.answer(say(lang, "review_private_only"), show_alert=True)
            return "refused: group chat"
        action, correction_id, position = parsed
        learning = context.services.learning
        if correction_id is not None and await learning.get(correction_id) is None:
            await query.answer(say(lang, "review_missing", id=correction_id), show_alert=True)
            return f"no correction #{correction_id}"
        if action == "e" and correction_id is not None:
            await query.answer()
            chat = query.message.chat
            prompt = await context.bot.send_message(
                chat.id, say(lang, "review_edit_prompt", id=correction_id),
                reply_parameters=ReplyParameters(query.message.message_id,
                                                 allow_sending_without_reply=True),
                reply_markup=ForceReply(selective=True))
            await self.prompts.expect(learning, chat.id, user.id, "edit", correction_id,
                                      prompt.message_id)
            return f"edit #{correction_id} asked"
        status, outcome = "", f"page {position}"
        if action == "a" and correction_id is not None:
            record = await learning.get(correction_id)
            done = await learning.approve(correction_id, user.id,
                                          bot_username=context.bot.username)
            status = (_outcome(lang, correction_id, done[1], record.task if record else None)
                      if done else say(lang, "review_decided", id=correction_id))
            outcome = f"approved #{correction_id}" if done else "already reviewed"
        elif action == "r" and correction_id is not None:
            done_reject = await learning.reject(correction_id, user.id)
            status = say(lang, "review_rejected" if done_reject else "review_decided",
                         id=correction_id)
            outcome = f"rejected #{correction_id}" if done_reject else "already reviewed"
        await query.answer(status or None)
        text, markup = await _page(context, lang, position)
        try:
            await query.edit_message_text(f"{status}\n\n{text}" if status else text,
                                          reply_markup=markup)
        except BadRequest as exc:  # "Next" on the only pending correction changes nothing
            if "not modified" not in str(exc).lower():
                raise
        return outcome


async def apply_edit(update: Update, context: BotContext, correction_id: int,
                     text: str) -> None:
    """The admin's wording for a correction: approve it with that text (admins only)."""

    @admin_command("review_edit")
    async def edit(update: Update, context: BotContext) -> str:
        turn = context.current_turn
        learning = context.services.learning
        record = await learning.get(correction_id)
        done = await learning.approve(correction_id, turn.user_id, final_text=text,
                                      bot_username=context.bot.username)
        status = (_outcome(turn.lang, correction_id, done[1], record.task if record else None)
                  if done else say(turn.lang, "review_decided", id=correction_id))
        page, markup = await _page(context, turn.lang, 0)
        await respond(update, context, Reply(f"{status}\n\n{page}"), markup)
        return f"approved #{correction_id} edited" if done else "already reviewed"

    await edit(update, context)
