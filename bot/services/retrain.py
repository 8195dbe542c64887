"""Retraining while the bot runs: snapshot -> train in a child process -> evaluation gate ->
hot swap, one run at a time, each recorded in ``retrain_runs``.

* The trainer is ``python -m model train --json --warm-start current --promote no`` in its
  own process (``bot/services/child_process.py``), niced, with few TensorFlow threads, so the
  bot keeps answering at full speed. Its events (epochs with elapsed time and ETA, the version
  it wrote, an error) come as JSON lines (``bot/services/child_events.py``). It dies with the
  bot (PR_SET_PDEATHSIG), and a run the bot did not see finish is marked ``interrupted`` at
  the next start.
* The gate (``python -m model.promotion_gate --json``) scores the serving version and the
  candidate on the task's fixed dev set and on the taught/approved pairs; the candidate is
  promoted only if its primary metric is not more than ``RETRAIN_TOLERANCE`` points worse on either
  (``bot/services/retrain_outcome.py``).
* Scheduled runs: the next due run is a ``queued`` row whose ``started_at`` is its due time.
  A restart finds it, so a run that fell due while the bot was down runs once, right away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import REPO_ROOT, Settings
from bot.services.child_events import (
    ChildEvent,
    GateScores,
    TrainingProgress,
    VersionCreated,
)
from bot.services.child_process import ChildExit, ChildRunner, ChildTimeout, EventSink
from bot.services.notices import Announce
from bot.services.retrain_outcome import RunOutcome, describe, judge
from bot.services.schedule import Schedule, parse_schedule
from bot.services.snapshot import Snapshot, corpus_of, take_snapshot
from bot.services.versions import ModelVersions, SwitchFailed
from bot.storage.db import Database
from bot.storage.models import utcnow
from bot.storage.training import (
    FAILED,
    INTERRUPTED,
    PROMOTED,
    QUEUED,
    REJECTED,
    RUNNING,
    RetrainRunRepository,
    RunRow,
)

log = logging.getLogger(__name__)

TICK_S = 1.0  # how often a training run's progress is told while no epoch has ended


@dataclass(frozen=True)
class RunProgress:
    """Where a run is: ``snapshot``, ``training`` (with fraction and ETA), ``evaluating``,
    ``switching``."""

    task: str
    phase: str
    fraction: float | None = None
    eta_s: float | None = None


ProgressSink = Callable[[RunProgress], Awaitable[None]]
ScheduleArmer = Callable[[str, datetime], None]  # arms the job of a task's next scheduled run


@dataclass
class ActiveRun:
    task: str
    run_id: int
    phase: str = "snapshot"
    fraction: float | None = None
    pid: int | None = None


class RunFailed(Exception):
    """A step of the run failed; the message says which and why (for the admins)."""


class RetrainService:
    """Runs retrains one at a time (admin requests and the schedule share one queue)."""

    def __init__(self, settings: Settings, db: Database, versions: ModelVersions,
                 announce: Announce | None = None, arm: ScheduleArmer | None = None) -> None:
        """``announce`` tells every admin the outcome of each run; ``arm`` schedules the job
        of a task's next scheduled run when a scheduled run starts."""
        self.settings = settings
        self.db = db
        self.versions = versions
        self.schedule: Schedule | None = parse_schedule(settings.retrain_schedule)
        self.workdir = settings.bot_data_dir / "retrain"
        self.lang = settings.default_language
        self.announce = announce
        self.arm = arm
        self.active: ActiveRun | None = None
        self.children = ChildRunner(REPO_ROOT, child_environment(settings, versions),
                                    settings.retrain_nice, settings.retrain_idle_priority)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    # -- start-up and schedule ----------------------------------------------------------------
    async def recover(self) -> list[RunRow]:
        """Mark runs a dead bot left ``running`` as interrupted; drop their snapshot files."""
        async with self.db.unit_of_work() as uow:
            runs = await RetrainRunRepository(uow.session).interrupt_running(
                "interrupted: the bot stopped during the run")
        await asyncio.to_thread(shutil.rmtree, self.workdir, True)
        await self.versions.prune()  # disk retention at start-up
        for run in runs:
            log.warning("retrain run %d of %s was interrupted by a stop of the bot",
                        run.id, run.task)
        return runs

    async def arm_schedule(self) -> list[tuple[str, datetime]]:
        """The due time of each scheduled task's next run, kept in the database (a ``queued``
        row), each armed with ``arm``; a due time in the past means it fell due while the bot
        was down."""
        async with self.db.unit_of_work() as uow:
            runs = RetrainRunRepository(uow.session)
            armed = []
            for task in self.settings.retrain_tasks:
                queued = await runs.queued(task)
                if self.schedule is None:
                    if queued is not None:
                        await runs.drop_queued(task)
                    continue
                if queued is not None and (queued.metrics or {}).get("schedule") == \
                        self.schedule.text:
                    armed.append((task, queued.started_at))
                    continue
                await runs.drop_queued(task)  # none yet, or the schedule setting changed
                due = self.schedule.next_after(utcnow())
                await runs.add(task, "schedule", None, QUEUED, started_at=due,
                               metrics={"schedule": self.schedule.text})
                armed.append((task, due))
        if self.arm is not None:
            for task, due in armed:
                self.arm(task, due)
        return armed

    async def next_due(self) -> dict[str, datetime]:
        async with self.db.unit_of_work(write=False) as uow:
            runs = RetrainRunRepository(uow.session)
            found = {t: await runs.queued(t) for t in self.settings.retrain_tasks}
        return {t: row.started_at for t, row in found.items() if row is not None}

    async def history(self, task: str | None = None, limit: int = 5) -> list[RunRow]:
        async with self.db.unit_of_work(write=False) as uow:
            return await RetrainRunRepository(uow.session).recent(task, limit)

    # -- runs ---------------------------------------------------------------------------------
    def start(self, tasks: Sequence[str], trigger: str, requested_by: int | None = None,
              progress: ProgressSink | None = None) -> asyncio.Task[list[RunOutcome]]:
        """Run ``tasks`` one after another in the background (after any run in progress)."""

        async def run_all() -> list[RunOutcome]:
            return [await self.run(task, trigger, requested_by, progress) for task in tasks]

        job = asyncio.create_task(run_all(), name=f"retrain:{','.join(tasks)}")
        self._tasks.add(job)
        job.add_done_callback(self._tasks.discard)
        return job

    async def run(self, task: str, trigger: str, requested_by: int | None = None,
                  progress: ProgressSink | None = None) -> RunOutcome:
        """One complete run; never raises for a failed step (the outcome says it)."""
        async with self._lock:
            run_id = await self._begin(task, trigger, requested_by)
            self.active = ActiveRun(task, run_id)
            try:
                outcome = await self._execute(run_id, task, trigger, progress)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await self._finish(RunOutcome(run_id, task, trigger, INTERRUPTED,
                                                  error="interrupted: the bot stopped"))
                raise
            except (RunFailed, SwitchFailed) as exc:
                outcome = RunOutcome(run_id, task, trigger, FAILED, error=str(exc))
            except Exception as exc:
                log.exception("retrain run %d of %s failed", run_id, task)
                outcome = RunOutcome(run_id, task, trigger, FAILED,
                                     error=f"{type(exc).__name__}: {exc}")
            finally:
                self.active = None
            await self._finish(outcome)
            await self.versions.prune(snapshots=True)  # disk retention; no run is using any
        log.info("retrain run %d of %s: %s %s", run_id, task, outcome.status,
                 outcome.error or outcome.candidate_version or "")
        if self.announce is not None:
            with contextlib.suppress(Exception):
                await self.announce(describe(outcome, self.lang,
                                             self.settings.retrain_tolerance))
        return outcome

    async def _begin(self, task: str, trigger: str, requested_by: int | None) -> int:
        """The run's row (a scheduled run takes its queued row, and queues the next one)."""
        base = self.versions.current(task)
        async with self.db.unit_of_work() as uow:
            runs = RetrainRunRepository(uow.session)
            now = utcnow()
            if trigger == "schedule" and self.schedule is not None:
                queued = await runs.queued(task)
                due = self.schedule.next_after(now)
                await runs.add(task, "schedule", None, QUEUED, started_at=due,
                               metrics={"schedule": self.schedule.text})
                if self.arm is not None:
                    self.arm(task, due)
                if queued is not None:
                    await runs.update(queued.id, status=RUNNING, started_at=now,
                                      base_version=base, metrics=None, progress=0.0)
                    return queued.id
            return await runs.add(task, trigger, requested_by, RUNNING, base_version=base,
                                  started_at=now)

    async def _finish(self, outcome: RunOutcome) -> None:
        metrics = {"primary": outcome.primary, "tolerance": self.settings.retrain_tolerance,
                   "sets": outcome.comparison, "added_pairs": outcome.added_pairs}
        async with self.db.unit_of_work() as uow:
            await RetrainRunRepository(uow.session).update(
                outcome.run_id, status=outcome.status, error=outcome.error,
                candidate_version=outcome.candidate_version, metrics=metrics,
                finished_at=utcnow(), **({"base_version": outcome.base_version}
                                         if outcome.base_version else {}))

    async def _execute(self, run_id: int, task: str, trigger: str,
                       progress: ProgressSink | None) -> RunOutcome:
        report = _Reporter(self, run_id, task, progress)
        await report("snapshot")
        corpus = corpus_of(task, self.settings.model_settings().data_dir)
        snapshot = await take_snapshot(self.db, task, corpus, self.workdir / f"run-{run_id}")
        log.info("retrain run %d of %s: snapshot with %d taught and %d liked pairs", run_id,
                 task, snapshot.taught, snapshot.liked)
        try:
            await report("training", 0.0)
            candidate = await self._train(run_id, task, snapshot, report)
            await report("evaluating", 1.0)
            base = self.versions.current(task)
            primary, passed = "", True
            table: dict[str, dict[str, Any]] = {}
            if base is not None and base != candidate:
                scores = await self._gate(run_id, task, base, candidate, snapshot)
                primary = scores.primary
                passed, table = judge(scores, base, candidate, self.settings.retrain_tolerance)
            outcome = RunOutcome(run_id, task, trigger, REJECTED, base, candidate, primary,
                                 table, None, snapshot.added)
            if not passed:
                return outcome
            await report("switching", 1.0)
            await self.versions.promote(task, candidate)  # SwitchFailed: stays a candidate
            return RunOutcome(run_id, task, trigger, PROMOTED, base, candidate, primary, table,
                              None, snapshot.added)
        finally:
            await asyncio.to_thread(shutil.rmtree, snapshot.directory, True)

    async def _train(self, run_id: int, task: str, snapshot: Snapshot,
                     report: _Reporter) -> str:
        """The candidate version the trainer wrote; progress goes to ``report`` meanwhile."""
        arguments = ["train", "--json", "--task", task, "--data", str(snapshot.directory),
                     "--warm-start", "current", "--promote", "no",
                     "--budget-minutes", str(self.settings.retrain_budget_minutes),
                     *shlex.split(self.settings.retrain_extra_args)]
        found: list[str] = []
        progress = TrainingProgress(self.settings.retrain_budget_minutes * 60)
        telling = asyncio.Lock()  # the ticker and the events take turns

        async def on_event(event: ChildEvent) -> None:
            if isinstance(event, VersionCreated):
                found.append(event.version)
            if (done := progress.of_event(event)) is not None:
                async with telling:
                    await report("training", *done)

        async def tick() -> None:  # a trainer without epochs (qa) tells nothing until done
            while (done := progress.by_time()) is not None:
                async with telling:
                    await report("training", *done)
                await asyncio.sleep(TICK_S)

        limit = self.settings.retrain_budget_minutes * 60 * 1.5 + 600
        ticker = asyncio.create_task(tick(), name=f"retrain:{run_id}:progress")
        try:
            ended = await self._child(run_id, "model", arguments, on_event, limit)
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
        if ended.code != 0 or not found:
            raise RunFailed(ended.reason("training"))
        return found[-1]

    async def _gate(self, run_id: int, task: str, base: str, candidate: str,
                    snapshot: Snapshot) -> GateScores:
        arguments = ["--json", "--task", task, "--version", base, "--version", candidate]
        if snapshot.dev_file is not None:
            arguments += ["--dev", str(snapshot.dev_file)]
        if snapshot.taught_file is not None:
            arguments += ["--taught", str(snapshot.taught_file)]
        found: list[GateScores] = []

        async def keep(event: ChildEvent) -> None:
            if isinstance(event, GateScores):
                found.append(event)

        ended = await self._child(run_id, "model.promotion_gate", arguments, keep, 1800)
        if ended.code != 0 or not found:
            raise RunFailed(ended.reason("evaluation"))
        return found[-1]

    async def _child(self, run_id: int, module: str, arguments: list[str],
                     on_event: EventSink, limit_s: float) -> ChildExit:
        def started(pid: int) -> None:
            if self.active is not None:
                self.active.pid = pid

        try:
            return await self.children.run(f"retrain run {run_id}", module, arguments,
                                           on_event, limit_s, started)
        except ChildTimeout as exc:
            raise RunFailed(str(exc)) from None

    async def close(self) -> None:
        """Stop the trainer (if any) and the runs in the background."""
        self.children.kill_all()
        for job in list(self._tasks):
            job.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def child_environment(settings: Settings, versions: ModelVersions) -> dict[str, str]:
    """What the trainer and the gate need besides the bot's environment: few threads, the
    bot's model and corpus folders."""
    threads = str(settings.retrain_threads)
    env = {"TF_INTRA_THREADS": threads, "TF_INTER_THREADS": threads,
           "TF_CPP_MIN_LOG_LEVEL": "2", "MODEL_XLA": "0"}
    if versions.model_dir is not None:
        env["MODEL_DIR"] = str(versions.model_dir)
    if settings.model_data_dir is not None:
        env["MODEL_DATA_DIR"] = str(settings.model_data_dir)
    return env


class _Reporter:
    """Passes progress to the run's sink and, every few percent, to its database row."""

    def __init__(self, service: RetrainService, run_id: int, task: str,
                 sink: ProgressSink | None) -> None:
        self.service, self.run_id, self.task, self.sink = service, run_id, task, sink
        self.saved = -1.0

    async def __call__(self, phase: str, fraction: float | None = None,
                       eta_s: float | None = None) -> None:
        active = self.service.active
        if active is not None:
            active.phase, active.fraction = phase, fraction
        if fraction is not None and (fraction - self.saved >= 0.05 or fraction >= 1.0):
            self.saved = fraction
            async with self.service.db.unit_of_work() as uow:
                await RetrainRunRepository(uow.session).update(self.run_id, progress=fraction)
        if self.sink is not None:
            with contextlib.suppress(Exception):  # a failed edit must not fail the run
                await self.sink(RunProgress(self.task, phase, fraction, eta_s))
