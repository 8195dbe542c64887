"""Messages for every admin, including those that arise before the bot can send any."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.services.fallback import Fallback
from bot.texts import say

Announce = Callable[[str], Awaitable[None]]


class AdminNotices:
    """``tell(text)`` sends to every admin once ``announce`` is set (when the bot is up); what
    was told before waits until then (e.g. a fallback while the models load at start-up)."""

    def __init__(self, lang: str = "en") -> None:
        self.lang = lang
        self._announce: Announce | None = None
        self._untold: list[str] = []
        self._sending: set[asyncio.Task[None]] = set()

    @property
    def announce(self) -> Announce | None:
        return self._announce

    @announce.setter
    def announce(self, announce: Announce | None) -> None:
        self._announce = announce
        untold, self._untold = self._untold, []
        for text in untold:
            self.tell(text)

    def tell(self, text: str) -> None:
        if self._announce is None:
            self._untold.append(text)
            return
        task = asyncio.ensure_future(self._announce(text))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def fell_back(self, fallback: Fallback) -> None:
        """The current version of a task failed to load and an earlier one serves instead."""
        self.tell(say(self.lang, "fallback_loaded", task=fallback.task, version=fallback.broken,
                      serving=fallback.serving, reason=fallback.reason[:300]))
