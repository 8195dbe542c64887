"""/forgetme and /exportme: a user's data, all of it or none of it.

Where a user's words can go, and what /forgetme does there (``WHERE_WORDS_GO``; a test checks
that every table is named here, so a new one cannot be missed):

* tables: their rows in ``users``, ``chats`` (the private chat), ``messages`` (theirs and the
  bot's replies to them), ``feedback``, ``corrections`` (theirs, and anyone's on a reply to
  them), ``pending_prompts`` are deleted; ``taught_pairs`` made from their words are deleted
  (from their corrections, from anyone's correction of an answer to them: the question is
  theirs); ``audit_log`` keeps the act without the person; ``forgotten_users`` records them and
  ``forgotten_pairs`` the one-way fingerprints of the pairs (never the words).
* answer banks: a qa version ships the pairs of the snapshot it was trained from (taught and
  approved pairs, answers rated 👍), the run-time overlay holds taught ones. Every forgotten
  pair is removed from the serving bank at once, and from every version before it serves (a
  first load, a promotion, a rollback; ``InferenceService.prepare``), for good: a version
  trained from a snapshot taken before the forget does not serve them either.
* snapshots under ``BOT_DATA_DIR/retrain`` (a retrain in progress): their lines go.
* model weights under ``MODEL_DIR`` trained on their words cannot be edited: the receipt names,
  per task, the first version a retrain made from a snapshot taken after the forget.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.services.inference import InferenceService
from bot.services.snapshot import corpus_of, liked_source
from bot.services.turns import Turns
from bot.storage.db import Database
from bot.storage.models import utcnow
from model.api import QAModel, TextModel, forget_in_versions, pair_fingerprint

log = logging.getLogger(__name__)

WHERE_WORDS_GO = {  # table -> what /forgetme does with the user's rows
    "users": "deleted",
    "chats": "deleted (their private chat)",
    "messages": "deleted, with the bot's replies to them",
    "feedback": "deleted, theirs and that on replies to them",
    "corrections": "deleted, theirs and those on replies to them",
    "taught_pairs": "deleted when made from their words; /teach pairs lose the author",
    "pending_prompts": "deleted",
    "audit_log": "the person and the arguments are blanked",
    "forgotten_users": "records the user (no words)",
    "forgotten_pairs": "fingerprints of the pairs made from their words (no words)",
    "retrain_runs": "holds no user's words",
    "replicas": "holds no user's words (bot processes and their heartbeats)",
    "retrain_requests": "holds no words (an admin's id and tasks); their requests are deleted",
    "flood_budget": "holds no user's words (message counts per window)",
}


@dataclass(frozen=True)
class Forgotten:
    messages: int
    feedback: int
    corrections: int
    taught_pairs: int
    pairs: int = 0  # pairs taken out of the answer banks and training data
    trained_without: dict[str, str] = field(default_factory=dict)  # task -> first version


class ForgottenPairs:
    """The fingerprints of forgotten pairs, applied to a model before it serves and to the files
    of the versions. Built before the inference service, which awaits ``prepare`` with every
    model it loads."""

    def __init__(self, db: Database, model_dir: Path | None = None) -> None:
        self.db = db
        self.model_dir = model_dir  # the versions, whose shipped qa banks are rewritten

    async def prepare(self, task: str, model: TextModel) -> None:
        """Remove the forgotten pairs from a model that has loaded, before it serves, and from
        the files of the task's versions (a new one may come from an older snapshot)."""
        if not isinstance(model, QAModel):
            return
        fingerprints = await self.of_task(task)
        if fingerprints:
            removed = await asyncio.to_thread(model.forget, fingerprints)
            log.info("%s version %s: %d forgotten pair(s) removed before serving", task,
                     model.version, removed)
            await self.scrub_versions(task, fingerprints)

    async def of_task(self, task: str) -> list[str]:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.privacy.forgotten_pairs(task)

    async def scrub_versions(self, task: str, fingerprints: list[str]) -> None:
        if self.model_dir is not None and fingerprints:
            removed = await asyncio.to_thread(forget_in_versions, self.model_dir, task,
                                              fingerprints)
            if removed:
                log.info("%s: %d forgotten pair(s) removed from the versions' banks", task,
                         removed)


class Privacy:
    def __init__(self, db: Database, turns: Turns, inference: InferenceService,
                 forgotten: ForgottenPairs, snapshots_dir: Path | None = None,
                 data_dir: Path | None = None) -> None:
        self.db = db
        self.turns = turns
        self.inference = inference
        self.forgotten = forgotten  # the same one the inference service prepares models with
        self.snapshots_dir = snapshots_dir  # the retrain snapshots (BOT_DATA_DIR/retrain)
        self.data_dir = data_dir  # the corpus cache: a corpus pair is nobody's words

    async def export(self, user_id: int) -> bytes:
        """Everything stored about the user, as a JSON document."""
        async with self.db.unit_of_work(write=False) as uow:
            data = await uow.privacy.export(user_id)
        document = {"exported_at": utcnow().isoformat(), "user_id": user_id, **data}
        return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")

    async def forget(self, user_id: int) -> Forgotten:
        """Delete the user's rows and record the fingerprints of the pairs made from their
        words in one transaction, then take those pairs out of the serving answer banks and
        of any snapshot on disk. The receipt names the first versions trained without them."""
        async with self.db.unit_of_work(write=False) as uow:  # the corpus is read outside
            tasks = {p[0] for p in await uow.privacy.pairs_of(user_id)}  # the write lock
        corpus = await asyncio.to_thread(self._corpus_fingerprints, tasks)
        async with self.db.unit_of_work() as uow:
            pairs = await uow.privacy.pairs_of(user_id)
            own = {(task, _fingerprint(question, answer, origin)) for task, question, answer,
                   origin in pairs}
            fingerprints = sorted((t, f) for t, f in own if f not in corpus.get(t, set()))
            counts = await uow.privacy.forget(user_id, fingerprints)
        self.turns.recent.forget(user_id, chat_id=user_id)
        for task in sorted({task for task, _ in fingerprints}):
            await self.apply(task)
            await self.forgotten.scrub_versions(task, [f for t, f in fingerprints if t == task])
        if self.snapshots_dir is not None and fingerprints:
            await asyncio.to_thread(scrub_snapshots, self.snapshots_dir,
                                    {f for _, f in fingerprints})
        log.info("user %s forgotten: %s", user_id, counts)
        return Forgotten(counts.get("messages", 0), counts.get("feedback", 0),
                         counts.get("corrections", 0), counts.get("taught_pairs", 0),
                         len(fingerprints), await self.trained_without(user_id))

    def _corpus_fingerprints(self, tasks: set[str]) -> dict[str, set[str]]:
        """The pairs of each task's training corpus (either direction): a user who asked a
        corpus question and liked the corpus answer does not take it out of the banks."""
        out: dict[str, set[str]] = {}
        if self.data_dir is None:
            return out
        for task in tasks:
            try:
                train = corpus_of(task, self.data_dir).corpus_dir / "train.tsv"
            except Exception:  # a task without a corpus spec
                continue
            if not train.is_file():
                continue
            found = out.setdefault(task, set())
            with train.open(encoding="utf-8") as lines:
                for line in lines:
                    left, _, right = line.rstrip("\n").partition("\t")
                    found.update((pair_fingerprint(left, right), pair_fingerprint(right, left)))
        return out

    async def trained_without(self, user_id: int) -> dict[str, str]:
        """Per task, the first version a retrain made from a snapshot taken after the user's
        (last) forget; empty before such a retrain."""
        async with self.db.unit_of_work(write=False) as uow:
            moment = await uow.privacy.forgotten_at(user_id)
            return {} if moment is None else await uow.privacy.first_versions_after(moment)

    async def apply(self, task: str | None = None) -> None:
        """Remove the forgotten pairs from the serving models and the versions' files (at
        start-up, after a forget); a model not loaded now gets them removed when it loads
        (``ForgottenPairs.prepare``)."""
        if task is None:
            async with self.db.unit_of_work(write=False) as uow:
                tasks = await uow.privacy.forgotten_tasks()
        else:
            tasks = [task]
        for name in tasks:
            fingerprints = await self.forgotten.of_task(name)
            if not fingerprints:
                continue
            if self.inference.state(name) == "ready":
                await self.inference.apply(name, _forget(fingerprints))
            if task is None:
                await self.forgotten.scrub_versions(name, fingerprints)



def _forget(fingerprints: list[str]) -> Callable[[TextModel], int]:
    def operation(model: TextModel) -> int:
        return model.forget(fingerprints) if isinstance(model, QAModel) else 0

    return operation


def _fingerprint(question: str, answer: str, origin: str) -> str:
    """A pair's fingerprint as a snapshot writes it: a liked answer's question without its
    command (``/ask what is x`` -> ``what is x``)."""
    return pair_fingerprint(liked_source(question) if origin == "feedback" else question, answer)


def scrub_snapshots(directory: Path, fingerprints: set[str]) -> int:
    """Drop the lines of every snapshot file under ``directory`` that hold a forgotten pair
    (either direction); returns how many lines went."""
    dropped = 0
    for path in sorted(directory.glob("*/*.tsv")) if directory.is_dir() else []:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = []
        for line in lines:
            left, _, right = line.rstrip("\n").partition("\t")
            if (pair_fingerprint(left, right) in fingerprints
                    or pair_fingerprint(right, left) in fingerprints):
                continue
            kept.append(line)
        if len(kept) != len(lines):
            dropped += len(lines) - len(kept)
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text("".join(kept), encoding="utf-8")
            os.replace(temporary, path)
    return dropped
