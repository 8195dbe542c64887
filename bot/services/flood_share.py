"""Telegram's flood limits are per bot, not per process: with N live replicas each takes 1/N.

PTB's ``AIORateLimiter`` keeps its limits in ``aiolimiter.AsyncLimiter`` buckets (one for the
whole bot, one per group). ``FloodShare.apply(n)`` rescales them when the number of live
replicas changes (``bot/services/replicas.py`` counts them at each heartbeat), so the replicas
together never send more than ``TELEGRAM_MAX_MESSAGES_PER_S`` and
``TELEGRAM_GROUP_MESSAGES_PER_MIN``. It is an even split, not one bucket in the database: a
replica that gets more than its share of one group's messages waits although another has room,
and the sum stays under the limit. Set the limits to Telegram's own values on every replica.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def _rescale(bucket: Any, max_rate: float) -> None:
    bucket.max_rate = max_rate
    bucket._rate_per_sec = max_rate / bucket.time_period  # aiolimiter 1.x keeps both


class FloodShare:
    def __init__(self, limiter: Any, overall_per_s: float, group_per_min: float) -> None:
        self.limiter = limiter  # telegram.ext.AIORateLimiter (or None: nothing to share)
        self.overall_per_s = overall_per_s
        self.group_per_min = group_per_min
        self.replicas = 1

    def apply(self, replicas: int) -> None:
        replicas = max(1, replicas)
        if replicas == self.replicas or self.limiter is None:
            return
        self.replicas = replicas
        overall, group = self.overall_per_s / replicas, self.group_per_min / replicas
        base = getattr(self.limiter, "_base_limiter", None)
        if base is not None:
            _rescale(base, overall)
        if getattr(self.limiter, "_group_max_rate", 0):
            self.limiter._group_max_rate = group
            for bucket in getattr(self.limiter, "_group_limiters", {}).values():
                _rescale(bucket, group)
        log.info("%d live replicas: this one sends at most %.1f messages/s, %.1f per group "
                 "and minute", replicas, overall, group)
