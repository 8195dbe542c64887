"""/forgetme and /exportme: a user's data, all of it or none of it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from bot.services.learning_loop import Learning
from bot.services.turns import Turns
from bot.storage.db import Database
from bot.storage.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Forgotten:
    messages: int
    feedback: int
    corrections: int
    taught_pairs: int


class Privacy:
    def __init__(self, db: Database, turns: Turns, learning: Learning) -> None:
        self.db = db
        self.turns = turns
        self.learning = learning

    async def export(self, user_id: int) -> bytes:
        """Everything stored about the user, as a JSON document."""
        async with self.db.unit_of_work(write=False) as uow:
            data = await uow.privacy.export(user_id)
        document = {"exported_at": utcnow().isoformat(), "user_id": user_id, **data}
        return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")

    async def forget(self, user_id: int) -> Forgotten:
        """Delete the user's rows, take pairs made from their words out of the answer bank, and
        record them so no training snapshot includes them again."""
        async with self.db.unit_of_work() as uow:
            counts, pairs = await uow.privacy.forget(user_id)
        self.turns.recent.forget(user_id, chat_id=user_id)
        for task, question, answer in pairs:
            if task == "qa":
                await self.learning.remove_from_bank(question, answer)
        log.info("user %s forgotten: %s", user_id, counts)
        return Forgotten(counts.get("messages", 0), counts.get("feedback", 0),
                         counts.get("corrections", 0), counts.get("taught_pairs", 0))
