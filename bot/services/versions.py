"""Model versions of the running bot: list them, promote one, roll back; each a hot swap.

A switch loads the version in the background (InferenceService.reload: a loading thread and a
warm-up batch), and only once it answers does it move the registry's ``current`` pointer, then
the serving model (the pointer first: a crash in between restarts on the version that was about
to serve, never on one the bot stopped serving). A version that fails to load, or whose pointer
cannot be written (a full disk), is never switched to: the old one keeps serving, the pointer
stays, and the admins are told.

At start-up, a current version that fails to load gives way to the newest earlier version that
loads (``bot/services/fallback.py``); the pointer stays, and the admins are told once the bot is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.services.inference import InferenceService
from bot.services.notices import AdminNotices, Announce
from bot.services.retention import Retention
from bot.texts import say
from model.api import Registry, open_registry

log = logging.getLogger(__name__)

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
    """The registry (through ``model.api``) plus the running InferenceService."""

    def __init__(self, inference: InferenceService, model_dir: Path,
                 lang: str = "en", notices: AdminNotices | None = None,
                 retention: Retention | None = None) -> None:
        self.inference = inference
        self.model_dir = model_dir
        self.lang = lang  # of the messages to admins
        self.notices = notices or AdminNotices(lang)
        self.retention = retention
        self._locks: dict[str, asyncio.Lock] = {}
        self._staging: dict[str, asyncio.Event] = {}  # task -> set: a switch here preempts it
        # several replicas: told (task, version, phase) when a switch starts loading
        # ("staging"), wrote the pointer ("moved") or failed ("abandoned"); bot/app.py sets it
        self.on_switch: Callable[[str, str, str], Awaitable[None]] | None = None

    @property
    def announce(self) -> Announce | None:
        """Tells every admin (None in the terminal chat)."""
        return self.notices.announce

    def _registry(self) -> Registry:
        return open_registry(self.model_dir)

    def current(self, task: str) -> str | None:
        return self._registry().current(task)

    def tasks(self) -> list[str]:
        return self._registry().tasks()

    def versions(self, task: str) -> list[VersionView]:
        serving = self.inference.versions().get(task)
        return [VersionView(info.version, str(info.card.get("created_at", "")),
                            headline(info.card), info.is_current, info.version == serving)
                for info in self._registry().versions(task)]

    def previous(self, task: str) -> str | None:
        """The version ``rollback`` would return to (as ``Registry.rollback`` chooses it)."""
        previous: str | None = self._registry().previous(task)
        return previous

    async def promote(self, task: str, version: str) -> str:
        """Serve ``version`` of ``task`` and make it current; SwitchFailed if it cannot load."""
        self._preempt(task)
        async with self._lock(task):
            registry = self._registry()
            try:  # only a name the registry lists: not a path, "..", or a staging folder
                registry.check_version(task, version)
            except Exception as exc:  # RegistryError: no such complete version
                raise SwitchFailed(str(exc)) from exc

            async def write_pointer() -> None:
                await asyncio.to_thread(registry.promote, task, version)
                await self._tell(task, version, "moved")

            await self._tell(task, version, "staging")
            try:
                await self._load(task, version, write_pointer)
            except SwitchFailed:
                await self._tell(task, version, "abandoned")
                raise
        await self.prune()
        return version

    async def rollback(self, task: str) -> str:
        """Serve the previously promoted version again; SwitchFailed if there is none or it
        cannot load (then nothing changes)."""
        self._preempt(task)
        async with self._lock(task):
            target = self.previous(task)
            if target is None:
                raise SwitchFailed(f"{task} has no earlier version to roll back to")
            done: list[str] = []

            async def write_pointer() -> None:
                done.append(await asyncio.to_thread(self._registry().rollback, task))
                await self._tell(task, done[0], "moved")

            await self._tell(task, target, "staging")
            try:
                await self._load(task, target, write_pointer)
            except SwitchFailed:
                await self._tell(task, target, "abandoned")
                raise
            if done[0] != target:  # someone moved the pointer meanwhile: serve what it says
                await self._load(task, done[0])
        await self.prune()
        return str(done[0])

    async def follow(self, task: str, version: str) -> None:
        """Serve ``version``, which another process made current (the pointer is written
        already); the loader's error is raised and the old version keeps serving. Nothing
        happens when the pointer moved on meanwhile or the version already serves."""
        async with self._lock(task):
            if (self.current(task) != version
                    or self.inference.versions().get(task) == version):
                return
            await self.inference.reload(task, version)

    async def stage(self, task: str, version: str, abandoned: asyncio.Event,
                    wait_s: float = 300.0) -> None:
        """Load ``version``, which another process is promoting, at once, and serve it as soon
        as the pointer names it (so that every replica loads at the same time, not after the
        promoting one). Nothing is switched if it is ``abandoned``, the pointer names another
        version, or ``wait_s`` passes; the loader's error is raised."""
        async with self._lock(task):
            if self.inference.versions().get(task) == version:
                return
            # a promotion or rollback here (e.g. an admin trying again after the promoting
            # replica died) must not wait behind this for the pointer it is about to write
            preempted = self._staging[task] = asyncio.Event()

            async def until_current() -> None:
                deadline = time.monotonic() + wait_s
                while (current := await asyncio.to_thread(self.current, task)) != version:
                    if (abandoned.is_set() or preempted.is_set()
                            or time.monotonic() > deadline):
                        raise SwitchFailed(f"{task} {version} was not made current")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(abandoned.wait(), 0.05)
                    if current is not None and current != self.inference.versions().get(task):
                        # the pointer moved to a third version meanwhile: follow that instead
                        raise SwitchFailed(f"the {task} pointer names {current}")

            try:
                await self.inference.reload(task, version, until_current)
            finally:
                if self._staging.get(task) is preempted:
                    del self._staging[task]

    def _preempt(self, task: str) -> None:
        if (staging := self._staging.get(task)) is not None:
            staging.set()

    async def _tell(self, task: str, version: str, phase: str) -> None:
        if self.on_switch is not None:
            try:
                await self.on_switch(task, version, phase)
            except Exception:
                log.exception("telling the other replicas about %s %s failed", task, version)

    async def prune(self, snapshots: bool = False) -> None:
        """Apply the disk retention policy; a failure is logged, never raised."""
        if self.retention is None:
            return
        try:
            await self.retention.prune(snapshots)
        except Exception:
            log.exception("disk retention failed")

    async def _load(self, task: str, version: str,
                    commit: Callable[[], Awaitable[None]] | None = None) -> None:
        try:
            await self.inference.reload(task, version, commit)
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
