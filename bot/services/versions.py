"""Model versions of the running bot: list them, promote one, roll back; each a hot swap.

A switch loads the version in the background (InferenceService.reload: a loading thread and a
warm-up batch), and only once it answers does it move the registry's ``current`` pointer and
the serving model. A version that fails to load is never switched to: the old one keeps
serving, the pointer stays, and the admins are told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.services.inference import InferenceService
from bot.texts import say

log = logging.getLogger(__name__)

Announce = Callable[[str], Awaitable[None]]


class SwitchFailed(Exception):
    """The version could not be switched to (missing, or failed to load); nothing changed."""


@dataclass(frozen=True)
class VersionView:
    """One version as /models shows it."""

    version: str
    created_at: str
    metrics: dict[str, float]  # the card's headline figures (dev, else test)
    is_current: bool
    serving: bool


def headline(card: dict[str, Any]) -> dict[str, float]:
    """A card's numeric dev metrics (test when it has no dev), for a one-line summary."""
    metrics = card.get("metrics") or {}
    chosen = metrics.get("dev") or metrics.get("test") or {}
    return {k: v for k, v in chosen.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k != "n"}


class ModelVersions:
    """The registry (through ``model.predictor``) plus the running InferenceService."""

    def __init__(self, inference: InferenceService, model_dir: Path | None,
                 lang: str = "en", announce: Announce | None = None) -> None:
        self.inference = inference
        self.model_dir = model_dir
        self.lang = lang  # of the messages to admins
        self.announce = announce  # tells every admin (a version that failed to load)
        self._locks: dict[str, asyncio.Lock] = {}

    def _registry(self) -> Any:
        from model.predictor import open_registry

        return open_registry(self.model_dir)

    def current(self, task: str) -> str | None:
        current: str | None = self._registry().current(task)
        return current

    def tasks(self) -> list[str]:
        return list(self._registry().tasks())

    def versions(self, task: str) -> list[VersionView]:
        serving = self.inference.versions().get(task)
        return [VersionView(info.version, str(info.card.get("created_at", "")),
                            headline(info.card), info.is_current, info.version == serving)
                for info in self._registry().versions(task)]

    def previous(self, task: str) -> str | None:
        """The version ``rollback`` would return to (as ``Registry.rollback`` chooses it)."""
        registry = self._registry()
        history, current = registry.history(task), registry.current(task)
        while history and history[-1] == current:
            history.pop()
        while history and not (registry.version_dir(task, history[-1]) / "card.json").is_file():
            history.pop()
        return history[-1] if history else None

    async def promote(self, task: str, version: str) -> str:
        """Serve ``version`` of ``task`` and make it current; SwitchFailed if it cannot load."""
        async with self._lock(task):
            registry = self._registry()
            try:
                registry.card(task, version)
            except Exception as exc:  # RegistryError: no such complete version
                raise SwitchFailed(str(exc)) from exc
            await self._load(task, version)
            await asyncio.to_thread(registry.promote, task, version)
            return version

    async def rollback(self, task: str) -> str:
        """Serve the previously promoted version again; SwitchFailed if there is none or it
        cannot load (then nothing changes)."""
        async with self._lock(task):
            target = self.previous(task)
            if target is None:
                raise SwitchFailed(f"{task} has no earlier version to roll back to")
            await self._load(task, target)
            done = await asyncio.to_thread(self._registry().rollback, task)
            if done != target:  # someone moved the pointer meanwhile: serve what it says
                await self._load(task, done)
            return str(done)

    async def _load(self, task: str, version: str) -> None:
        try:
            await self.inference.reload(task, version)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.error("version %s of %s failed to load (%s); the old version keeps serving",
                      version, task, reason)
            if self.announce is not None:
                await self.announce(say(self.lang, "swap_failed", task=task, version=version,
                                        serving=self.inference.versions().get(task, "none"),
                                        reason=reason[:300]))
            raise SwitchFailed(reason) from exc

    def _lock(self, task: str) -> asyncio.Lock:
        return self._locks.setdefault(task, asyncio.Lock())
