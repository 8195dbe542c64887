"""What a loaded model gives the bot: one prediction record and the protocols of the models.

Every kind of model (sequence-to-sequence, qa, intent) answers ``predict(texts)`` with the same
frozen ``Prediction``; the fields a kind does not fill keep their neutral value (``label`` None
outside intent, ``closest_answer`` empty outside qa). No TensorFlow here: the bot imports it
through ``model.api``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Prediction:
    """One model output.

    ``text`` is what to show or act on: the translation, summary or chat reply; the qa answer
    (empty when not ``sure``); for intent, the text the request is about (the part to translate
    or summarize, else the message). ``sure``: the model stands by it (qa: the confidence
    reaches the version's threshold; intent: its ``min_confidence``; translate, chat and
    summarize: a non-empty output whose confidence reaches the task's ``min_confidence``).
    ``label``: the intent (qa, chat, translate, summarize), intent only.
    ``target_lang``: "en" or "zh" for a translate intent. ``closest_answer``: qa's best answer,
    also when it is not sure.
    """

    text: str
    confidence: float
    task: str
    version: str
    sure: bool
    label: str | None = None
    target_lang: str | None = None
    closest_answer: str = ""


class TextModel(Protocol):
    """A loaded version of any task: string in, predictions out."""

    @property
    def version(self) -> str: ...

    def predict(self, texts: Sequence[str]) -> Sequence[Prediction]:
        """One prediction per text, in order; all texts are decoded together."""
        ...

    def warm_up(self, max_batch: int) -> None:
        """Trace (and compile) what the first requests of up to ``max_batch`` texts need."""
        ...


@runtime_checkable
class QAModel(TextModel, Protocol):
    """The qa model: an answer bank that learns pairs at run time, without retraining.

    Pairs added and removed are kept in ``user_dir`` (with the bot's data, not with the model
    version), so that a newly loaded version can take them over with ``apply_overlay``.
    """

    @property
    def user_dir(self) -> Path | None: ...

    def add_pair(self, question: str, answer: str) -> None:
        """Make ``question -> answer`` retrievable at once."""
        ...

    def add_missing(self, pairs: Sequence[tuple[str, str]]) -> int:
        """Add the pairs the bank does not hold yet; returns how many."""
        ...

    def remove_pair(self, question: str, answer: str | None = None) -> int:
        """Forget the entries with this question (and answer); returns how many."""
        ...

    def apply_overlay(self, user_dir: Path | None) -> None:
        """Read the pairs added and removed at run time from ``user_dir`` and apply them."""
        ...

    def forget(self, fingerprints: Sequence[str]) -> int:
        """Remove the pairs with these ``pair_fingerprint``s (shipped or added) for good, in
        this version and in any loaded later with the same ``user_dir``; returns how many."""
        ...


_last_request = 0.0  # time.monotonic() of the last predict call of any loaded model


def note_request() -> None:
    """Called by every kind of model's ``predict``: background work that competes with serving
    (the XLA compiler of ``model.seq2seq_predictor``) waits for a pause in the requests."""
    global _last_request
    _last_request = time.monotonic()


def idle_seconds() -> float:
    """Seconds since the last ``predict`` call of any model in this process."""
    return time.monotonic() - _last_request
