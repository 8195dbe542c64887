"""The retrain schedule: an interval (``6h``, ``30m``, ``1d``, ``90s``, ``3600``) or a 5-field
cron expression (``0 3 * * *``, in UTC), read from ``RETRAIN_SCHEDULE``.

Only the arithmetic lives here (the next due time after a moment); PTB's JobQueue runs the
jobs, and the due time is kept in the database so that a restart neither loses nor repeats a
run (see ``bot.services.retrain``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^(?:every\s+)?(\d+(?:\.\d+)?)\s*([smhd]?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Schedule:
    """When retraining is due: every ``interval``, or at the times of ``cron``."""

    text: str
    interval: timedelta | None = None
    cron: CronTrigger | None = None

    def next_after(self, moment: datetime) -> datetime:
        """The first due time strictly after ``moment`` (aware, UTC)."""
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        if self.interval is not None:
            return moment + self.interval
        assert self.cron is not None
        found: datetime | None = self.cron.get_next_fire_time(None, moment + timedelta(seconds=1))
        assert found is not None  # a crontab always fires again
        return found.astimezone(UTC)


def parse_schedule(text: str) -> Schedule | None:
    """``None`` for an empty setting (no scheduled retraining); ValueError when malformed."""
    text = text.strip()
    if not text:
        return None
    if match := _INTERVAL.match(text):
        seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
        if seconds < 1:
            raise ValueError(f"retrain interval too short: {text!r}")
        return Schedule(text, interval=timedelta(seconds=seconds))
    try:
        return Schedule(text, cron=CronTrigger.from_crontab(text, timezone=UTC))
    except ValueError as exc:
        raise ValueError(f"RETRAIN_SCHEDULE is neither an interval (6h, 30m, 1d) nor a "
                         f"cron expression: {text!r} ({exc})") from None
