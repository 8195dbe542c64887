"""👍 / 👎 under every model answer, and the correction a 👎 invites.

After a 👎 the bot asks "what should I have said?" (a ForceReply). The user's reply to that
prompt, or their next plain message in that chat within ``WAIT_S``, becomes a correction
pending review; it is not sent to the models. An admin's "Edit" in /review waits for the
admin's text the same way. The waits are kept in memory (message filters are synchronous) and
written through to ``pending_prompts``, so after a restart a reply to a prompt of the last two
days is still taken as the correction or edit.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from telegram import ForceReply, Message, ReplyParameters, Update
from telegram.ext import filters

from bot.context import BotContext
from bot.handlers.incoming import strip_mention
from bot.handlers.keyboards import parse_rating
from bot.handlers.outgoing import respond
from bot.services.conversation import Reply
from bot.texts import pick_language, say

if TYPE_CHECKING:
    from bot.services.learning_loop import Learning

log = logging.getLogger(__name__)

WAIT_S = 600.0  # how long a prompt waits for its answer

Kind = Literal["correction", "edit"]
# ``on_edit(update, context, correction_id, text)``: an admin sent the wording for an edit
EditHandler = Callable[[Update, BotContext, int, str], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Awaited:
    """What a user's next text in a chat is: a correction of an answer, or an admin's edit of
    a correction under review."""

    kind: Kind
    target_id: int  # the answer's row id, or the correction's id
    prompt_message_id: int | None
    deadline: float  # wall-clock (time.time()), so that it means the same after a restart


class _Awaiting(filters.MessageFilter):
    """Matches a message that answers a prompt (see ``Prompts``)."""

    def __init__(self, prompts: Prompts) -> None:
        super().__init__(name="awaiting_prompt")
        self.prompts = prompts

    def filter(self, message: Message) -> bool:
        user = message.from_user
        return user is not None and self.prompts.peek(message.chat_id, user.id,
                                                      _replied_id(message)) is not None


def _replied_id(message: Message) -> int | None:
    return message.reply_to_message.message_id if message.reply_to_message else None


class Prompts:
    """The prompts waiting for a user's text, by chat and user; owned by the handler set."""

    def __init__(self, on_edit: EditHandler) -> None:
        self._waiting: dict[tuple[int, int], Awaited] = {}
        self.filter = _Awaiting(self)
        self.on_edit = on_edit

    async def restore(self, learning: Learning) -> int:
        """Load the prompts still open from the database (at start-up); returns how many."""
        for row in await learning.open_prompts():
            kind: Kind = "edit" if row.kind == "edit" else "correction"
            self._waiting[(row.chat_id, row.user_id)] = Awaited(
                kind, row.target_id, row.prompt_message_id, row.deadline.timestamp())
        return len(self._waiting)

    async def expect(self, learning: Learning, chat_id: int, user_id: int, kind: Kind,
                     target_id: int, prompt_message_id: int | None) -> None:
        deadline = time.time() + WAIT_S
        self._waiting[(chat_id, user_id)] = Awaited(kind, target_id, prompt_message_id, deadline)
        await learning.save_prompt(chat_id, user_id, kind, target_id, prompt_message_id,
                                   datetime.fromtimestamp(deadline, UTC))

    def peek(self, chat_id: int, user_id: int, replied_id: int | None) -> Awaited | None:
        awaited = self._waiting.get((chat_id, user_id))
        if awaited is None:
            return None
        if time.time() > awaited.deadline and replied_id != awaited.prompt_message_id:
            return None  # kept: a reply to the prompt itself still counts later
        return awaited

    async def take(self, learning: Learning, chat_id: int, user_id: int) -> Awaited | None:
        awaited = self._waiting.pop((chat_id, user_id), None)
        if awaited is not None:
            await learning.drop_prompt(chat_id, user_id)
        return awaited

    def forget_user(self, user_id: int) -> None:
        for key in [k for k in self._waiting if k[1] == user_id]:
            del self._waiting[key]

    # -- handlers ---------------------------------------------------------------------------
    async def rate(self, update: Update, context: BotContext) -> None:
        """A 👍 or 👎: store it (a second press replaces the first); a 👎 asks for the answer,
        unless the prompt of an earlier 👎 on the same answer still waits."""
        query, user = update.callback_query, update.effective_user
        assert query is not None and user is not None
        rating = parse_rating(query.data)
        message = query.message
        lang = pick_language(None, user.language_code, context.services.settings.default_language)
        answer = None
        if rating is not None and message is not None:
            answer = await context.services.learning.rate(
                message.chat.id, message.message_id, user.id, user.username, user.first_name,
                user.language_code, rating)
        if answer is None or message is None:
            await query.answer(say(lang, "feedback_gone"))
            return
        await query.answer(say(lang, "feedback_thanks"))
        if rating is not None and rating < 0:
            chat = message.chat
            awaited = self.peek(chat.id, user.id, None)
            if awaited is not None and (awaited.kind, awaited.target_id) == ("correction",
                                                                             answer.row_id):
                return  # the prompt of an earlier 👎 on this answer still waits: no second one
            text = html.escape(say(lang, "correction_prompt"))
            if chat.type != "private":  # selective: the prompt opens for this user only
                mention = f'<a href="tg://user?id={user.id}">{html.escape(user.first_name)}</a>'
                text = f"{mention}: {text}"
            prompt = await context.bot.send_message(
                chat.id, text, parse_mode="HTML",
                reply_parameters=ReplyParameters(message.message_id,
                                                 allow_sending_without_reply=True),
                reply_markup=ForceReply(selective=True))
            await self.expect(context.services.learning, chat.id, user.id, "correction",
                              answer.row_id, prompt.message_id)

    async def receive(self, update: Update, context: BotContext) -> None:
        """The text a prompt waited for: a correction to store, or an admin's edit."""
        turn = context.current_turn
        awaited = await self.take(context.services.learning, turn.chat_id, turn.user_id)
        text = strip_mention(turn.text or "", context.bot.username)
        if awaited is not None and awaited.kind == "edit":
            await self.on_edit(update, context, awaited.target_id, text)
            return
        if awaited is None:  # a concurrent update took it: say nothing twice
            await respond(update, context, Reply(say(turn.lang, "feedback_gone")))
            return
        await context.services.learning.add_correction(awaited.target_id, turn.user_id, text)
        await respond(update, context, Reply(say(turn.lang, "correction_saved")))
