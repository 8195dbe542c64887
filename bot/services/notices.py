"""Messages for every admin, including those that arise before the bot can send any."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.services.fallback import Fallback
from bot.texts import say

log = logging.getLogger(__name__)

Announce = Callable[[str], Awaitable[None]]


class AdminNotices:
    """``tell(text)`` sends to every admin through ``announce`` (given by the application's
    post_init, so it is there before any model loads); without one (the terminal chat) the
    notice goes to the log only."""

    def __init__(self, lang: str = "en", announce: Announce | None = None) -> None:
        self.lang = lang
        self.announce = announce
        self._sending: set[asyncio.Task[None]] = set()

    def tell(self, text: str) -> None:
        if self.announce is None:
            log.warning("admin notice (no admin channel): %s", text)
            return
        task = asyncio.ensure_future(self.announce(text))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def fell_back(self, fallback: Fallback) -> None:
        """The current version of a task failed to load and an earlier one serves instead."""
        self.tell(say(self.lang, "fallback_loaded", task=fallback.task, version=fallback.broken,
                      serving=fallback.serving, reason=fallback.reason[:300]))
