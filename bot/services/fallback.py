"""Start-up fallback: when a task's current version fails to load, serve the newest earlier one.

The registry's pointer is not moved (the broken version may be repaired, or an admin decides);
the bot serves the fallback until the next switch or restart, and the admins are told
(``ModelVersions.fell_back``). A version named explicitly (a promotion, a rollback) never falls
back: that switch fails and the old version keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.services.inference import ModelLoader, TaskUnavailable
from model.api import TextModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fallback:
    task: str
    broken: str  # the current version, which failed to load
    serving: str  # the earlier version that serves instead
    reason: str


class FallbackLoader:
    """A ``ModelLoader`` that falls back from a broken current version (module docstring)."""

    def __init__(self, inner: ModelLoader, model_dir: Path,
                 on_fallback: Callable[[Fallback], None]) -> None:
        self.inner = inner
        self.model_dir = model_dir
        self.on_fallback = on_fallback  # called on the event loop
        self._loop = asyncio.get_running_loop()

    def __call__(self, task: str, version: str | None) -> TextModel:
        """Runs in the model-loading thread."""
        if version is not None:
            return self.inner(task, version)
        try:
            return self.inner(task, None)
        except TaskUnavailable:
            raise  # no model at all: nothing to fall back from
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            current, earlier = self._versions(task)
            if current is None:
                raise
            log.error("the current version %s of %s failed to load (%s)", current, task, reason)
            for candidate in earlier:
                try:
                    model = self.inner(task, candidate)
                except Exception as again:
                    log.warning("version %s of %s failed to load too: %s", candidate, task, again)
                    continue
                log.warning("serving version %s of %s instead of %s", candidate, task, current)
                self._loop.call_soon_threadsafe(self.on_fallback,
                                                Fallback(task, current, candidate, reason))
                return model
            raise

    def _versions(self, task: str) -> tuple[str | None, list[str]]:
        from model.api import open_registry

        registry = open_registry(self.model_dir)
        current = registry.current(task)
        return current, (registry.earlier(task, current) if current else [])
