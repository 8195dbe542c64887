"""Training snapshots: a task's corpus plus what the bot learned, frozen into files.

The database is read inside one read transaction (taught pairs, approved corrections, and, for
qa and chat, answers rated 👍; nothing of a forgotten user), then the files are written off the
event loop:

    train.tsv    the corpus' training pairs, then the learned pairs (the corpus' direction)
    dev.tsv      the corpus' dev set, unchanged: the gate's fixed dev set
    test.tsv     the corpus' test set, unchanged (when it has one)
    gate-dev.tsv the dev set in the task's direction (for the gate; sequence tasks only)
    taught.tsv   taught and approved pairs in the task's direction (the gate's second set)
"""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.storage.db import Database
from bot.storage.training import TrainingDataRepository, TrainingPair
from model.api import task_data


@dataclass(frozen=True)
class CorpusInfo:
    """Where a task's corpus is and in which direction the task reads it (model.api)."""

    kind: str
    corpus_dir: Path
    swap: bool


@dataclass(frozen=True)
class Snapshot:
    task: str
    directory: Path
    taught: int  # taught pairs and approved corrections
    liked: int  # 👍-rated answers
    dev_file: Path | None  # the fixed dev set in the task's direction (None: the task's own)
    taught_file: Path | None

    @property
    def added(self) -> int:
        return self.taught + self.liked


LIKED_KINDS = ("qa", "chat")
_COMMAND = re.compile(r"^/\w+(@\w+)?\s*")  # "/ask@bot what is x" -> "what is x"


class SnapshotError(Exception):
    """The task has no corpus to retrain from."""


def corpus_of(task: str, data_dir: Path) -> CorpusInfo:
    """``task``'s corpus in the corpus cache ``data_dir``."""
    data = task_data(task, data_dir)
    return CorpusInfo(data.kind, data.corpus_dir, data.swap)


def liked_source(question: str) -> str:
    """The model input of a rated answer's question: ``/ask@bot what is x`` -> ``what is x``."""
    return _COMMAND.sub("", question)


def _clean(text: str) -> str:
    return " ".join(text.split())  # one line, no tabs: a TSV cell


def _rows(pairs: list[TrainingPair], swap: bool) -> str:
    out = []
    for pair in pairs:
        source, target = _clean(pair.source), _clean(pair.target)
        if source and target:
            out.append(f"{target}\t{source}\n" if swap else f"{source}\t{target}\n")
    return "".join(out)


async def take_snapshot(db: Database, task: str, corpus: CorpusInfo, directory: Path
                        ) -> Snapshot:
    """Freeze ``task``'s training data into ``directory`` (see the module docstring)."""
    async with db.unit_of_work(write=False) as uow:  # one read transaction for both queries
        repository = TrainingDataRepository(uow.session)
        taught = await repository.taught(task)
        # A liked answer is a pair only where the user's message was the model's input: qa
        # and chat. Translations and summaries were made from text cut out of the message
        # (after "translate to Chinese:", from a replied-to message...), not from what is stored.
        liked = await repository.liked_answers(task) if corpus.kind in LIKED_KINDS else []
    liked = [TrainingPair(liked_source(p.source), p.target, p.origin) for p in liked]
    return await asyncio.to_thread(_write, task, corpus, directory, taught, liked)


def _write(task: str, corpus: CorpusInfo, directory: Path, taught: list[TrainingPair],
           liked: list[TrainingPair]) -> Snapshot:
    base = corpus.corpus_dir
    if not (base / "train.tsv").is_file():
        raise SnapshotError(f"no training corpus for {task} in {base}; build it with "
                            "`python -m model data build`")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        return _write_files(task, corpus, directory, taught, liked)
    except BaseException:  # a full disk: no half-written snapshot stays behind
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _write_files(task: str, corpus: CorpusInfo, directory: Path, taught: list[TrainingPair],
                 liked: list[TrainingPair]) -> Snapshot:
    base = corpus.corpus_dir
    with (directory / "train.tsv").open("w", encoding="utf-8") as out:
        with (base / "train.tsv").open(encoding="utf-8") as source:
            shutil.copyfileobj(source, out)
        out.write(_rows(taught + liked, corpus.swap))
    for name in ("dev.tsv", "test.tsv"):
        if (base / name).is_file():
            shutil.copyfile(base / name, directory / name)
    dev_file = None
    if corpus.kind not in ("qa", "intent") and (directory / "dev.tsv").is_file():
        dev_file = directory / "gate-dev.tsv"
        lines = (directory / "dev.tsv").read_text(encoding="utf-8").splitlines()
        if corpus.swap:
            lines = ["\t".join(reversed(line.split("\t", 1))) for line in lines if "\t" in line]
        dev_file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    taught_file = None
    if taught:
        taught_file = directory / "taught.tsv"
        taught_file.write_text(_rows(taught, False), encoding="utf-8")
    return Snapshot(task, directory, len(taught), len(liked), dev_file, taught_file)
