"""The events a trainer or gate child process reports, read from its JSON lines.

``python -m model train --json`` and ``python -m model.promotion_gate --json`` write one JSON
object per line for each event (the list is in ``model/events.py``); this module turns a line
into a typed event, and skips what is not one (a library's warning, a log line on the shared
output, a truncated line). The bot never reads the children's human-readable text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    task: str
    epochs: int | None  # the most epochs (None: the trainer's default, or no epochs)
    budget_s: float | None


@dataclass(frozen=True)
class StepDone:
    """A heartbeat while training."""

    task: str
    step: int
    loss: float | None
    elapsed_s: float


@dataclass(frozen=True)
class EpochDone:
    task: str
    epoch: int
    epochs: int
    step: int
    metrics: dict[str, float | None]  # loss, val_loss, ...
    elapsed_s: float
    eta_s: float | None  # already accounts for the time budget


@dataclass(frozen=True)
class Evaluated:
    """The new version's metrics by set (``dev``, ``test``)."""

    task: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class VersionCreated:
    task: str
    version: str
    path: str
    promoted: bool


@dataclass(frozen=True)
class GateScores:
    """The gate's figures: ``versions[version][set]`` holds each metric and ``primary`` (the
    task's primary metric on a 0-100 scale) and ``n``."""

    task: str
    primary: str
    versions: dict[str, dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class ErrorReported:
    kind: str  # the exception's class
    message: str


ChildEvent = (Started | StepDone | EpochDone | Evaluated | VersionCreated | GateScores
              | ErrorReported)


class _Fields:
    """Typed access to a decoded event; a missing or mistyped field raises KeyError/TypeError."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def text(self, key: str) -> str:
        value = self.data[key]
        if not isinstance(value, str):
            raise TypeError(f"{key} is not a string")
        return value

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{key} is not a number")
        return float(value)

    def required_number(self, key: str) -> float:
        value = self.number(key)
        if value is None:
            raise KeyError(key)
        return value

    def integer(self, key: str) -> int:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{key} is not an integer")
        return value

    def optional_integer(self, key: str) -> int | None:
        return None if self.data.get(key) is None else self.integer(key)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.data[key]
        if not isinstance(value, dict):
            raise TypeError(f"{key} is not an object")
        return value

    def flag(self, key: str) -> bool:
        value = self.data[key]
        if not isinstance(value, bool):
            raise TypeError(f"{key} is not a boolean")
        return value


def _epoch(f: _Fields) -> EpochDone:
    metrics = f.mapping("metrics")
    return EpochDone(f.text("task"), f.integer("epoch"), f.integer("epochs"), f.integer("step"),
                     {str(k): _Fields(metrics).number(k) for k in metrics},
                     f.required_number("elapsed_s"), f.number("eta_s"))


_PARSERS: dict[str, Callable[[_Fields], ChildEvent]] = {
    "start": lambda f: Started(f.text("task"), f.optional_integer("epochs"),
                               f.number("budget_s")),
    "step": lambda f: StepDone(f.text("task"), f.integer("step"), f.number("loss"),
                               f.required_number("elapsed_s")),
    "epoch": _epoch,
    "evaluated": lambda f: Evaluated(f.text("task"), f.mapping("metrics")),
    "version": lambda f: VersionCreated(f.text("task"), f.text("version"), f.text("path"),
                                        f.flag("promoted")),
    "scores": lambda f: GateScores(f.text("task"), f.text("primary"), f.mapping("versions")),
    "error": lambda f: ErrorReported(f.text("kind"), f.text("message")),
}


def parse_event(line: str) -> ChildEvent | None:
    """The event on ``line``, or None when it holds none. Text before the object (a partial
    line another writer left on the shared output) and after it is ignored."""
    start = line.find('{"event"')
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(line, start)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    parser = _PARSERS.get(str(value.get("event")))
    if parser is None:
        return None  # an event this bot does not know (a newer trainer): not needed
    try:
        return parser(_Fields(value))
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("malformed %s event from a child process (%s): %.200s",
                    value.get("event"), exc, line)
        return None


class TrainingProgress:
    """Fraction done and seconds left of a training run: from its epoch events once one came,
    and until then the time spent against the time budget."""

    def __init__(self, budget_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_s = budget_s
        self.clock = clock
        self.started = clock()
        self.epochs_seen = False

    def of_event(self, event: ChildEvent) -> tuple[float, float | None] | None:
        if isinstance(event, EpochDone):
            self.epochs_seen = True
            return epoch_progress(event)
        if isinstance(event, Started | StepDone):
            return self.by_time()
        return None

    def by_time(self) -> tuple[float, float | None] | None:
        """Time against the budget, while no epoch has ended (the trainer tells better then)."""
        if self.epochs_seen:
            return None
        elapsed = self.clock() - self.started
        return min(elapsed / self.budget_s, 0.99), max(self.budget_s - elapsed, 0.0)


def epoch_progress(event: EpochDone) -> tuple[float, float | None]:
    """(fraction done, seconds left) at the end of an epoch."""
    elapsed, left = event.elapsed_s, event.eta_s
    if left is not None and elapsed + left > 0:
        # the trainer's ETA already accounts for the time budget
        return min(elapsed / (elapsed + left), 1.0), left
    return min(event.epoch / max(event.epochs, 1), 1.0), left
