"""The figures behind /status and /stats, and the /stats chart (matplotlib, Agg backend)."""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.services.inference import InferenceService
from bot.services.replicas import Replicas
from bot.services.retention import DiskUse, Retention
from bot.storage.db import Database
from bot.storage.models import utcnow
from bot.storage.records import RetrainRunRecord
from bot.storage.replicas import ReplicaRecord


@dataclass(frozen=True)
class StatusReport:
    uptime_s: float
    queue_depths: dict[str, int]
    versions: dict[str, str]
    last_retrain: RetrainRunRecord | None
    database_bytes: int | None
    pending_corrections: int
    disk: DiskUse | None = None
    replicas: list[ReplicaRecord] = field(default_factory=list)  # alive, when several run


@dataclass(frozen=True)
class StatsReport:
    days: int
    per_day: dict[str, dict[str, int]]  # day -> task -> model answers
    incoming_per_day: dict[str, int]
    per_task: dict[str, int]
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p90, p99
    thumbs_up: int = 0
    thumbs_down: int = 0

    @property
    def thumbs_up_rate(self) -> float | None:
        rated = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / rated if rated else None


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90 and p99 (inclusive method: never outside the observed range)."""
    if not values:
        return {}
    if len(values) == 1:
        return {"p50": values[0], "p90": values[0], "p99": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98]}


class Insights:
    def __init__(self, db: Database, inference: InferenceService,
                 retention: Retention | None = None) -> None:
        self.db = db
        self.inference = inference
        self.retention = retention
        self.started = time.monotonic()
        self.replicas: Replicas | None = None  # set when several processes share the database

    async def status(self) -> StatusReport:
        async with self.db.unit_of_work(write=False) as uow:
            runs = await uow.insights.retrain_runs(1)
            pending = await uow.insights.pending_corrections()
            server_bytes = await uow.insights.database_bytes()
        return StatusReport(
            uptime_s=time.monotonic() - self.started,
            queue_depths=self.inference.queue_depths(),
            versions=self.inference.versions(),
            last_retrain=runs[0] if runs else None,
            database_bytes=server_bytes if server_bytes is not None else self._database_bytes(),
            pending_corrections=pending,
            disk=await self.retention.disk_use() if self.retention is not None else None,
            replicas=await self.replicas.alive() if self.replicas is not None else [],
        )

    def _database_bytes(self) -> int | None:
        url = make_url(self.db.url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        base = Path(url.database)
        files = [base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")]
        return sum(f.stat().st_size for f in files if f.is_file())

    async def stats(self, days: int = 14) -> StatsReport:
        since = utcnow() - timedelta(days=days)
        async with self.db.unit_of_work(write=False) as uow:
            answers = await uow.insights.messages_per_day(since)
            incoming = await uow.insights.incoming_per_day(since)
            latencies = await uow.insights.latencies(since)
            up, down = await uow.insights.ratings(since)
        per_day: dict[str, dict[str, int]] = defaultdict(dict)
        per_task: dict[str, int] = defaultdict(int)
        for day, task, count in answers:
            if task == "-":
                continue
            per_day[day][task] = count
            per_task[task] += count
        return StatsReport(days, dict(per_day), dict(incoming), dict(per_task),
                           percentiles(latencies), up, down)

    async def chart(self, report: StatsReport) -> bytes:
        """A PNG: model answers per day, stacked by task (drawn in a worker thread)."""
        return await asyncio.to_thread(draw_chart, report)


def draw_chart(report: StatsReport) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    today = utcnow().date()
    days = [(today - timedelta(days=i)).isoformat() for i in range(report.days - 1, -1, -1)]
    tasks = sorted(report.per_task)
    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.subplots()
    bottom = [0] * len(days)
    labels = [datetime.fromisoformat(d).strftime("%m-%d") for d in days]
    for task in tasks:
        counts = [report.per_day.get(day, {}).get(task, 0) for day in days]
        axes.bar(labels, counts, bottom=bottom, label=task)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.plot(labels, [report.incoming_per_day.get(d, 0) for d in days], color="black",
              marker=".", linewidth=1, label="messages in")
    axes.set_title(f"Model answers per day (last {report.days} days)")
    axes.set_ylabel("answers")
    axes.tick_params(axis="x", labelrotation=60, labelsize=7)
    axes.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
