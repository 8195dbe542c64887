"""Feedback, corrections, teaching and review: how users and admins improve the answers.

Policy: nothing a user says enters the training data (``taught_pairs``) or the answer bank
unless an admin taught it (/teach) or approved it (/review). A 👍 is stored as feedback on the
bot's own answer (the retraining snapshot may use rated answers); a 👎 invites a correction,
which waits in ``corrections`` until an admin approves, edits or rejects it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.commands import command_argument, parse_translate
from bot.services.inference import InferenceService, TaskUnavailable
from bot.storage.db import Database
from bot.storage.learning import APPROVED, REJECTED
from bot.storage.models import PendingPrompt, utcnow
from bot.storage.records import CorrectionRecord, RatedAnswer
from model.api import QAModel, TextModel

log = logging.getLogger(__name__)

QA = "qa"
TEACH, CORRECTION = "teach", "correction"
UP, DOWN = 1, -1
PROMPT_MAX_AGE = timedelta(days=2)  # a prompt past its deadline by more is forgotten at start-up


@dataclass(frozen=True)
class Taught:
    """The outcome of adding a pair: its training-data row, and whether the bank has it now."""

    pair_id: int | None
    in_bank: bool


def parse_teach(argument: str) -> tuple[str, str] | None:
    """``"question | answer"`` -> ``(question, answer)``; None when either side is empty."""
    question, bar, answer = argument.partition("|")
    question, answer = " ".join(question.split()), " ".join(answer.split())
    if not bar or not question or not answer:
        return None
    return question, answer


def model_input(text: str | None, command: str | None, bot_username: str = "") -> str:
    """What the model was asked, from the user's message: ``/ask X`` -> ``X``, mention out."""
    text = text or ""
    if command in ("ask", "summarize"):
        text = command_argument(text)
    elif command == "translate":
        text = parse_translate(command_argument(text))[1]
    if bot_username:
        text = re.sub(rf"@{re.escape(bot_username)}\b", " ", text, flags=re.I)
    return " ".join(text.split()).strip(" ,:;")


def _add_pair(question: str, answer: str) -> Callable[[TextModel], None]:
    def operation(model: TextModel) -> None:
        if not isinstance(model, QAModel):
            raise TaskUnavailable("the qa model has no answer bank")
        model.add_pair(question, answer)

    return operation


class Learning:
    def __init__(self, db: Database, inference: InferenceService) -> None:
        self.db = db
        self.inference = inference

    # -- feedback ---------------------------------------------------------------------------
    async def rate(self, chat_id: int, message_id: int, user_id: int, username: str | None,
                   first_name: str | None, language_code: str | None,
                   rating: int) -> RatedAnswer | None:
        """Store (or change) a user's 👍/👎 on an answer; None when it is no model answer."""
        async with self.db.unit_of_work() as uow:
            answer = await uow.feedback.answer(chat_id, message_id)
            if answer is None:
                return None
            await uow.users.upsert(user_id, username, first_name, language_code)
            await uow.feedback.rate(answer.row_id, user_id, rating)
        return answer

    async def add_correction(self, answer_row_id: int, user_id: int, text: str) -> int:
        async with self.db.unit_of_work() as uow:
            return await uow.corrections.add(answer_row_id, user_id, text)

    # -- prompts waiting for a user's text (bot/handlers/feedback.py) ------------------------
    async def save_prompt(self, chat_id: int, user_id: int, kind: str, target_id: int,
                          prompt_message_id: int | None, deadline: datetime) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.prompts.save(chat_id, user_id, kind, target_id, prompt_message_id,
                                   deadline)

    async def drop_prompt(self, chat_id: int, user_id: int) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.prompts.delete(chat_id, user_id)

    async def open_prompts(self, max_age: timedelta = PROMPT_MAX_AGE) -> list[PendingPrompt]:
        """The prompts still waiting (deadline at most ``max_age`` ago; older ones are
        deleted)."""
        async with self.db.unit_of_work() as uow:
            return await uow.prompts.open_since(utcnow() - max_age)

    # -- teaching ---------------------------------------------------------------------------
    async def teach(self, question: str, answer: str, author_id: int | None) -> Taught:
        """Into the answer bank now (when the qa model is up) and into the training data."""
        in_bank = await self._into_bank(question, answer)
        async with self.db.unit_of_work() as uow:
            pair_id = await uow.taught.add(QA, question, answer, TEACH, author_id)
        return Taught(pair_id, in_bank)

    async def _into_bank(self, question: str, answer: str) -> bool:
        try:
            await self.inference.apply(QA, _add_pair(question, answer))
        except TaskUnavailable as exc:
            log.warning("answer bank unavailable, pair kept for training only: %s", exc)
            return False
        return True

    async def sync_bank(self) -> int:
        """Bring the active taught and approved qa pairs into the serving answer bank (those
        stored while the qa model was not loaded); returns how many were added."""
        async with self.db.unit_of_work(write=False) as uow:
            pairs = [(p.source, p.target) for p in await uow.taught.active(QA)]
        if not pairs:
            return 0

        def operation(model: TextModel) -> int:
            return model.add_missing(pairs) if isinstance(model, QAModel) else 0

        try:
            added = await self.inference.apply(QA, operation)
        except TaskUnavailable as exc:
            log.warning("answer bank unavailable, taught pairs not synced: %s", exc)
            return 0
        if added:
            log.info("answer bank: %d taught pair(s) added that it did not hold", added)
        return added

    # -- review -----------------------------------------------------------------------------
    async def pending(self, offset: int = 0) -> tuple[CorrectionRecord | None, int]:
        """The ``offset``-th pending correction (wrapping around) and how many are pending."""
        async with self.db.unit_of_work(write=False) as uow:
            record, total = await uow.corrections.pending(offset)
            if record is None and total:
                record, total = await uow.corrections.pending(offset % total)
        return record, total

    async def get(self, correction_id: int) -> CorrectionRecord | None:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.corrections.get(correction_id)

    async def approve(self, correction_id: int, reviewer: int, final_text: str | None = None,
                      bot_username: str = "") -> tuple[CorrectionRecord, Taught] | None:
        """Approve (optionally with the admin's wording): the pair joins the training data of
        the answer's task and, for qa, the answer bank. None when already decided."""
        record = await self.get(correction_id)
        if record is None or record.status != "pending":
            return None
        answer = final_text or record.text
        task = record.task or QA
        question = model_input(record.question, record.question_command, bot_username)
        async with self.db.unit_of_work() as uow:
            if not await uow.corrections.review(correction_id, APPROVED, reviewer, final_text):
                return None
            pair_id = (await uow.taught.add(task, question, answer, CORRECTION, record.user_id,
                                            correction_id) if question else None)
        in_bank = bool(question) and task == QA and await self._into_bank(question, answer)
        return record, Taught(pair_id, in_bank)

    async def reject(self, correction_id: int, reviewer: int) -> bool:
        async with self.db.unit_of_work() as uow:
            return await uow.corrections.review(correction_id, REJECTED, reviewer, None)
