"""Telegram's flood limits as one budget shared by every replica (``flood_budget`` table).

Telegram counts per bot, not per process: about 30 messages per second in all and 20 per
minute in one group. With several replicas each one leases small blocks of tokens of the
current window (Unix time // the limit's period) from one row per limit, in one atomic
``UPDATE ... WHERE used + n <= limit``: the replicas together never take more than the
limit in a window, and a replica that has the chat's messages gets the whole budget when the
others are quiet (an even 1/N split would make it wait). A message spends a token of the block
in hand: a database round trip once per block (``block`` tokens), not per message. Tokens
left in a block when its window ends are lost (at most ``block - 1`` per replica and
window), which keeps the sum under the limit.

Windows are fixed: up to twice the limit can pass in the second around a window's edge, as
with any fixed-window counter (Telegram's own limits are approximate; set the limits below
them to keep a margin). The replicas' clocks must agree (NTP); a replica whose clock is
behind finds the row in a later window and waits for its own clock to get there.

``SharedRateLimiter`` is PTB's ``AIORateLimiter`` plus the shared budget (set
``budget`` once the database is open); without it, it is the in-process limiter alone (one
process, SQLite).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from telegram.ext import AIORateLimiter

from bot.storage.db import Database
from bot.storage.dialect import insert_on_conflict
from bot.storage.models import FloodBudget

log = logging.getLogger(__name__)


class SharedBucket:
    """One limit (``limit`` tokens per ``period_s``) shared through one row (``key``)."""

    def __init__(self, db: Database, key: str, limit: int, period_s: float, block: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.key = db, key
        self.limit, self.period_s = max(1, limit), period_s
        self.block = max(1, min(block, self.limit))
        self.clock = clock
        self._window = -1
        self._tokens = 0  # leased and not spent, in ``_window``
        self._exhausted = -1  # a window whose budget the replicas have spent
        self._lock = asyncio.Lock()
        self.leases = 0  # database round trips (for the tests and the log)

    async def acquire(self) -> None:
        """Wait until this replica may send one message under this limit."""
        async with self._lock:  # one lease at a time; waiters queue in order
            while True:
                window = int(self.clock() // self.period_s)
                if window != self._window:
                    self._window, self._tokens = window, 0
                if self._tokens == 0 and self._exhausted != window:
                    self._tokens = await self._lease(window, self.block)
                    if self._tokens == 0:
                        self._exhausted = window
                if self._tokens > 0:
                    self._tokens -= 1
                    return
                # the window's budget is spent (by all replicas together): wait for the next
                await asyncio.sleep(min(0.05, max(0.001, (window + 1) * self.period_s
                                                  - self.clock())))

    async def _lease(self, window: int, wanted: int) -> int:
        """Tokens of ``window`` taken from the shared row: ``wanted``, or fewer if fewer are
        left (one at a time then), or 0."""
        self.leases += 1
        async with self.db.unit_of_work() as uow:
            session = uow.session
            await session.execute(
                insert_on_conflict(session, FloodBudget)
                .values(key=self.key, window=window, used=0)
                .on_conflict_do_update(index_elements=[FloodBudget.key],
                                       set_={"window": window, "used": 0},
                                       where=FloodBudget.window < window))
            for n in (wanted, 1) if wanted > 1 else (1,):
                granted = (await session.execute(
                    sa.update(FloodBudget)
                    .where(FloodBudget.key == self.key, FloodBudget.window == window,
                           FloodBudget.used + n <= self.limit)
                    .values(used=FloodBudget.used + n)
                    .returning(FloodBudget.used))).first()
                if granted is not None:
                    return n
        return 0


class SharedBudget:
    """The bot-wide limit and one bucket per group, all in the database."""

    def __init__(self, db: Database, overall_per_s: float, group_per_min: float,
                 overall_block: int = 5, group_block: int = 2,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.clock = db, clock
        self.overall = SharedBucket(db, "all", int(overall_per_s), 1.0, overall_block, clock)
        self.group_per_min, self.group_block = int(group_per_min), group_block
        self.groups: dict[int | str, SharedBucket] = {}

    async def acquire(self, group: int | str | bool) -> None:
        if group is not False and group is not True and self.group_per_min > 0:
            bucket = self.groups.get(group)
            if bucket is None:
                bucket = self.groups[group] = SharedBucket(
                    self.db, f"chat:{group}"[:48], self.group_per_min, 60.0,
                    self.group_block, self.clock)
            await bucket.acquire()
        await self.overall.acquire()


class SharedRateLimiter(AIORateLimiter):
    """PTB's limiter (its in-process buckets and its retries after a 429), plus the shared
    budget when ``budget`` is set: a message to a chat waits for a token of the bot-wide
    limit, and one to a group also for a token of that group's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget: SharedBudget | None = None

    async def _run_request(self, chat: bool, group: int | str | bool,  # type: ignore[override]
                           **kwargs: Any) -> Any:
        if self.budget is not None and chat:
            try:
                await self.budget.acquire(group)
            except Exception:  # the database is away: the in-process limiter still applies
                log.exception("the shared flood budget is unavailable; sending on the local "
                              "limit alone")
        return await super()._run_request(chat=chat, group=group, **kwargs)
