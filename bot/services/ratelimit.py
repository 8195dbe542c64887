"""Per-user rate limit: a leaky bucket per user (aiolimiter), admins exempt.

A user over the limit is told once (with how long to wait); further messages in the same burst
are stored but get no reply, so a flood does not turn into a flood of refusals.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

MAX_TRACKED_USERS = 10_000


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    warn: bool = False  # tell the user (first refusal of a burst)
    retry_after_s: int = 0


class UserRateLimiter:
    def __init__(self, max_messages: int, period_s: float, exempt: Iterable[int] = ()) -> None:
        self.max_messages = max_messages
        self.period_s = period_s
        self.exempt = frozenset(exempt)
        self._buckets: dict[int, AsyncLimiter] = {}
        self._warned_until: dict[int, float] = {}

    async def check(self, user_id: int) -> RateDecision:
        """Take one message from the user's bucket, or refuse."""
        if user_id in self.exempt:
            return RateDecision(True)
        bucket = self._buckets.get(user_id)
        if bucket is None:
            self._forget_idle()
            bucket = self._buckets[user_id] = AsyncLimiter(self.max_messages, self.period_s)
        if bucket.has_capacity():
            await bucket.acquire()  # returns at once: there is capacity
            return RateDecision(True)
        now = time.monotonic()
        retry = max(1, math.ceil(self.period_s / self.max_messages))
        warn = self._warned_until.get(user_id, 0.0) <= now
        if warn:
            self._warned_until[user_id] = now + self.period_s
        return RateDecision(False, warn, retry)

    def _forget_idle(self) -> None:
        if len(self._buckets) < MAX_TRACKED_USERS:
            return
        for user_id, bucket in list(self._buckets.items()):
            if bucket.has_capacity(self.max_messages):  # drained: nothing to remember
                del self._buckets[user_id]
                self._warned_until.pop(user_id, None)
