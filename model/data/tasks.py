"""Assemble per-task train/dev/test files from the per-source TSV files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from model.data.clean import word_count
from model.data.readers import Row, split_pairs, write_tsv


@dataclass(frozen=True)
class SplitPolicy:
    """How a task is split."""

    dev: float = 0.03
    test: float = 0.03
    max_heldout: int = 2000
    all_in_train: bool = False  # QA bank: train keeps everything; dev/test are samples
    short_test_words: tuple[int, int] | None = None  # write test-short.tsv with these bounds


TASK_POLICIES: dict[str, SplitPolicy] = {
    "translate-en-zh": SplitPolicy(short_test_words=(3, 15)),
    # training pairs only, mixed into both translation directions (TaskSpec.extra_corpora);
    # everyday text is measured on the hand-written tests/fixtures/translate/everyday-test.tsv
    "translate-everyday": SplitPolicy(dev=0.0, test=0.0, all_in_train=True),
    "translate-dictionary": SplitPolicy(dev=0.0, test=0.0, all_in_train=True),
    # general-domain sentences (Tatoeba, HSK example sentences) and game dialogue (Wesnoth)
    "translate-tatoeba": SplitPolicy(dev=0.0, test=0.0, all_in_train=True),
    "translate-hsk": SplitPolicy(dev=0.0, test=0.0, all_in_train=True),
    "translate-games": SplitPolicy(dev=0.0, test=0.0, all_in_train=True),
    "chat": SplitPolicy(),
    "summarize": SplitPolicy(),
    "qa": SplitPolicy(max_heldout=100, all_in_train=True),
    # training pairs only: the qa dual encoder is measured on hand-written paraphrase sets
    "qa-paraphrase": SplitPolicy(dev=0.0, test=0.0, all_in_train=True),
}
TASK_ORDER = (
    "translate-en-zh",
    "translate-everyday",
    "translate-dictionary",
    "translate-tatoeba",
    "translate-hsk",
    "translate-games",
    "chat",
    "summarize",
    "qa",
    "qa-paraphrase",
)
# Tasks whose training split loses every pair that matches the held-out everyday sets.
TRANSLATION_TASKS = ("translate-en-zh", "translate-everyday", "translate-dictionary",
                     "translate-tatoeba", "translate-hsk", "translate-games")
SPLITS = ("train", "dev", "test")


def dedupe_pairs(rows: Iterable[Row]) -> list[Row]:
    """Drop exact duplicate (source, target) pairs, keeping the first occurrence."""
    seen: set[tuple[str, str]] = set()
    out: list[Row] = []
    for row in rows:
        if (row[0], row[1]) not in seen:
            seen.add((row[0], row[1]))
            out.append(row)
    return out


def drop_comment_like(rows: Iterable[Row]) -> list[Row]:
    """Drop rows whose source starts with ``#``: :func:`~model.data.readers.read_tsv` would
    take those lines of a task file for comments."""
    return [row for row in rows if not row[0].lstrip().startswith("#")]


def _row_position(row: Row, seed: str) -> float:
    digest = hashlib.sha1(f"{seed}\x1f{row[0]}\x1f{row[1]}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def sample_rows(rows: Sequence[Row], low: float, high: float, cap: int, seed: str) -> list[Row]:
    """Rows whose hash position falls in ``[low, high)``, at most ``cap`` of them."""
    picked = [r for r in rows if low <= _row_position(r, seed) < high]
    return picked[:cap]


def split_task(rows: Sequence[Row], task: str, policy: SplitPolicy) -> dict[str, list[Row]]:
    """Split a task's rows according to its policy (seed = task name)."""
    if policy.all_in_train:
        test = sample_rows(rows, 0.0, policy.test, policy.max_heldout, task)
        dev = sample_rows(rows, policy.test, policy.test + policy.dev, policy.max_heldout, task)
        return {"train": list(rows), "dev": dev, "test": test}
    train, dev, test = split_pairs(
        rows, policy.dev, policy.test, seed=task, max_heldout=policy.max_heldout
    )
    return {"train": train, "dev": dev, "test": test}


def short_rows(rows: Iterable[Row], bounds: tuple[int, int]) -> list[Row]:
    """Rows whose source has between ``bounds[0]`` and ``bounds[1]`` words."""
    low, high = bounds
    return [r for r in rows if low <= word_count(r[0]) <= high]


def write_task(
    task_dir: Path, splits: dict[str, list[Row]], policy: SplitPolicy
) -> dict[str, Path]:
    """Write ``train/dev/test.tsv`` (two columns) and optionally ``test-short.tsv``."""
    paths: dict[str, Path] = {}
    for name in SPLITS:
        paths[name] = task_dir / f"{name}.tsv"
        write_tsv(paths[name], ((s, t) for s, t, _g in splits[name]))
    if policy.short_test_words:
        paths["test-short"] = task_dir / "test-short.tsv"
        write_tsv(
            paths["test-short"],
            ((s, t) for s, t, _g in short_rows(splits["test"], policy.short_test_words)),
        )
    return paths
