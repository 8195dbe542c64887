"""What a training or gate process tells the process that started it: one JSON object a line.

``python -m model train --json`` and ``python -m model.promotion_gate --json`` write these on stdout
instead of human-readable text and Keras's progress bar, so a parent (the bot's retrain
service) reads them with ``json.loads`` and never parses prose. Lines that are not JSON (a
library's warning, a log line) may still appear; readers skip them. Every object has an
``"event"`` key, and these fields:

=========  ===========================================================================
start      task, epochs (the most, or null), budget_s (null: no time budget)
step       task, step, loss, elapsed_s: a heartbeat, at most one every ``STEP_EVERY_S``
epoch      task, epoch, epochs, step, metrics (loss, val_loss, ...), elapsed_s, eta_s
           (the ETA already accounts for the time budget)
evaluated  task, metrics: the new version's figures by set ({"dev": {...}, "test": {...}})
version    task, version, path, promoted: the version written to the registry
scores     task, primary, versions ({version: {set: {metric: value, "primary": value}}}):
           the gate's figures (the decision is the caller's)
error      kind (the exception's class), message
=========  ===========================================================================

Numbers that are not finite (a NaN loss) are written as ``null``.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Protocol, TextIO

STEP_EVERY_S = 2.0


class Events(Protocol):
    """Where a run reports what happens: ``events("epoch", task=..., epoch=...)``."""

    def __call__(self, event: str, /, **fields: Any) -> None: ...


class JsonLines:
    """Events as JSON lines on a stream (stdout by default), flushed one by one."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def __call__(self, event: str, /, **fields: Any) -> None:
        line = json.dumps(_finite({"event": event, **fields}), ensure_ascii=False,
                          allow_nan=False, default=str)
        print(line, file=self.stream or sys.stdout, flush=True)


def no_events(event: str, /, **fields: Any) -> None:
    """The default when a person runs the command: the human-readable output says it all."""


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _finite(value.item())
    return value
