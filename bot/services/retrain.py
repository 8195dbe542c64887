"""Retraining while the bot runs: snapshot -> train in a child process -> evaluation gate ->
hot swap, one run at a time, each recorded in ``retrain_runs``.

* The trainer is ``python -m model train --warm-start current --promote no`` in its own
  process, niced, with few TensorFlow threads, so the bot keeps answering at full speed. Its
  progress lines (epoch, elapsed, ETA) are parsed as they come. It dies with the bot
  (PR_SET_PDEATHSIG), and a run the bot did not see finish is marked ``interrupted`` at the
  next start.
* The gate (``python -m model.promotion_gate``) scores the serving version and the candidate on the
  task's fixed dev set and on the taught/approved pairs; the candidate is promoted only if its
  primary metric is not more than ``RETRAIN_TOLERANCE`` points worse on either.
* Scheduled runs: the next due run is a ``queued`` row whose ``started_at`` is its due time.
  A restart finds it, so a run that fell due while the bot was down runs once, right away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import REPO_ROOT, Settings
from bot.services.schedule import Schedule, parse_schedule
from bot.services.snapshot import Snapshot, corpus_of, take_snapshot
from bot.services.versions import Announce, ModelVersions, SwitchFailed
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
from bot.texts import say

log = logging.getLogger(__name__)

# Runs a module as ``python -m`` would, after tying the child's life to the bot's (Linux:
# PR_SET_PDEATHSIG) and lowering its priority: os.nice, and on Linux the SCHED_IDLE policy when
# asked (it runs only on CPU time nothing else wants). argv: bot pid, niceness, idle (0/1),
# module, arguments.
LAUNCHER = """\
import ctypes, os, runpy, signal, sys
if sys.platform.startswith("linux"):
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
if os.getppid() != int(sys.argv[1]):
    sys.exit("the bot is gone")
os.nice(int(sys.argv[2]))
if sys.argv[3] == "1" and hasattr(os, "SCHED_IDLE"):
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
module = sys.argv[4]
sys.argv = [module, *sys.argv[5:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""

_ETA = re.compile(r"epoch (\d+)/(\d+).*elapsed ([\d.]+) min, ETA ([\d.]+) min")
_KERAS_EPOCH = re.compile(r"^Epoch (\d+)/(\d+)\s*$")
_VERSION = re.compile(r"trained version (\S+)")


@dataclass(frozen=True)
class RunProgress:
    """Where a run is: ``snapshot``, ``training`` (with fraction and ETA), ``evaluating``,
    ``switching``."""

    task: str
    phase: str
    fraction: float | None = None
    eta_s: float | None = None


ProgressSink = Callable[[RunProgress], Awaitable[None]]


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    task: str
    trigger: str
    status: str  # promoted | rejected | failed | interrupted
    base_version: str | None = None
    candidate_version: str | None = None
    primary: str = ""
    comparison: dict[str, dict[str, Any]] = field(default_factory=dict)  # set -> base, cand
    error: str | None = None
    added_pairs: int = 0


@dataclass
class ActiveRun:
    task: str
    run_id: int
    phase: str = "snapshot"
    fraction: float | None = None
    pid: int | None = None


class RunFailed(Exception):
    """A step of the run failed; the message says which and why (for the admins)."""


def parse_progress(line: str) -> tuple[float, float | None] | None:
    """(fraction done, seconds left) from a trainer's output line, when it says."""
    if match := _ETA.search(line):
        epoch, total = int(match.group(1)), int(match.group(2))
        elapsed, left = float(match.group(3)), float(match.group(4))
        # the trainer's ETA already accounts for the time budget
        done = elapsed / (elapsed + left) if elapsed + left > 0 else epoch / max(total, 1)
        return min(done, 1.0), left * 60
    if match := _KERAS_EPOCH.match(line.strip()):
        return (int(match.group(1)) - 1) / max(int(match.group(2)), 1), None
    return None


def judge(result: dict[str, Any], base: str, candidate: str, tolerance: float
          ) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Whether the candidate may replace the base, and the comparison set by set."""
    versions = result.get("versions", {})
    table: dict[str, dict[str, Any]] = {}
    passed = True
    for name, scored in versions.get(candidate, {}).items():
        theirs = versions.get(base, {}).get(name, {}).get("primary")
        ours = scored.get("primary")
        table[name] = {"base": theirs, "candidate": ours, "n": scored.get("n")}
        if ours is None or (theirs is not None and float(ours) < float(theirs) - tolerance):
            passed = False
    return passed, table


class RetrainService:
    """Runs retrains one at a time (admin requests and the schedule share one queue)."""

    def __init__(self, settings: Settings, db: Database, versions: ModelVersions) -> None:
        self.settings = settings
        self.db = db
        self.versions = versions
        self.schedule: Schedule | None = parse_schedule(settings.retrain_schedule)
        self.workdir = settings.bot_data_dir / "retrain"
        self.lang = settings.default_language
        self.announce: Announce | None = None  # tells every admin; set once the bot is up
        self.on_scheduled: Callable[[str, datetime], None] | None = None  # arms the next job
        self.active: ActiveRun | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._children: set[asyncio.subprocess.Process] = set()

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
        row); a due time in the past means it fell due while the bot was down."""
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
                if self.on_scheduled is not None:
                    self.on_scheduled(task, due)
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
                result = await self._gate(run_id, task, base, candidate, snapshot)
                primary = str(result.get("primary", ""))
                passed, table = judge(result, base, candidate, self.settings.retrain_tolerance)
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
        arguments = ["train", "--task", task, "--data", str(snapshot.directory),
                     "--warm-start", "current", "--promote", "no",
                     "--budget-minutes", str(self.settings.retrain_budget_minutes),
                     *shlex.split(self.settings.retrain_extra_args)]
        found: list[str] = []
        budget_s = self.settings.retrain_budget_minutes * 60
        started = time.monotonic()
        epochs_seen = False

        async def on_line(line: str) -> None:
            nonlocal epochs_seen
            if match := _VERSION.search(line):
                found.append(match.group(1))
            parsed = parse_progress(line)
            epochs_seen = epochs_seen or (parsed is not None and parsed[1] is not None)
            if parsed is None and not epochs_seen:  # no epoch ETA (yet): time against budget
                elapsed = time.monotonic() - started
                parsed = min(elapsed / budget_s, 0.99), max(budget_s - elapsed, 0.0)
            if parsed is not None:
                await report("training", *parsed)

        limit = self.settings.retrain_budget_minutes * 60 * 1.5 + 600
        code, tail = await self._child(run_id, "model", arguments, on_line, limit)
        if code != 0 or not found:
            raise RunFailed(_exit_reason("training", code, tail))
        return found[-1]

    async def _gate(self, run_id: int, task: str, base: str, candidate: str,
                    snapshot: Snapshot) -> dict[str, Any]:
        arguments = ["--task", task, "--version", base, "--version", candidate]
        if snapshot.dev_file is not None:
            arguments += ["--dev", str(snapshot.dev_file)]
        if snapshot.taught_file is not None:
            arguments += ["--taught", str(snapshot.taught_file)]
        lines: list[str] = []

        async def keep(line: str) -> None:
            lines.append(line)

        code, tail = await self._child(run_id, "model.promotion_gate", arguments, keep, 1800)
        found = [_json_object(line[line.find('{"task"'):]) for line in lines if '{"task"' in line]
        if code != 0 or not found or found[-1] is None:
            raise RunFailed(_exit_reason("evaluation", code, tail))
        result: dict[str, Any] = found[-1]
        return result

    async def _child(self, run_id: int, module: str, arguments: list[str],
                     on_line: Callable[[str], Awaitable[None]], limit_s: float
                     ) -> tuple[int, list[str]]:
        """Run ``python -m module arguments`` niced; feed ``on_line`` every output line."""
        threads = str(self.settings.retrain_threads)
        env = {**os.environ, "TF_INTRA_THREADS": threads, "TF_INTER_THREADS": threads,
               "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "MODEL_XLA": "0"}
        if self.versions.model_dir is not None:
            env["MODEL_DIR"] = str(self.versions.model_dir)
        if self.settings.model_data_dir is not None:
            env["MODEL_DATA_DIR"] = str(self.settings.model_data_dir)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LAUNCHER, str(os.getpid()), str(self.settings.retrain_nice),
            "1" if self.settings.retrain_idle_priority else "0", module, *arguments,
            cwd=REPO_ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, limit=1 << 20)
        self._children.add(process)
        if self.active is not None:
            self.active.pid = process.pid
        log.info("retrain run %d: %s started as pid %d", run_id, module, process.pid)
        tail: deque[str] = deque(maxlen=25)
        assert process.stdout is not None
        try:
            async with asyncio.timeout(limit_s):
                while chunk := await process.stdout.readline():
                    for line in chunk.decode("utf-8", "replace").replace("\r", "\n").split("\n"):
                        if line.strip():
                            tail.append(line)
                            await on_line(line)
                code = await process.wait()
        except BaseException as exc:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            if isinstance(exc, TimeoutError):
                raise RunFailed(f"{module} did not finish within {limit_s / 60:.0f} min and "
                                "was stopped (is the machine busy?)") from None
            raise
        finally:
            self._children.discard(process)
        return code, list(tail)

    async def close(self) -> None:
        """Stop the trainer (if any) and the runs in the background."""
        for process in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        for job in list(self._tasks):
            job.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


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


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object at the start of ``text`` (a log line may follow it on the same line)."""
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _exit_reason(step: str, code: int, tail: list[str]) -> str:
    if code < 0:
        return f"{step} process killed by signal {-code}"
    last = next((line for line in reversed(tail) if line.strip()), "")
    return f"{step} process exited with status {code}: {last[-300:]}"


def describe(outcome: RunOutcome, lang: str, tolerance: float) -> str:
    """The result of a run, for the admins."""
    rows = "\n".join(
        say(lang, "retrain_row", set=name, metric=outcome.primary,
            base=_figure(row.get("base")), candidate=_figure(row.get("candidate")),
            n=row.get("n") or 0)
        for name, row in outcome.comparison.items())
    key = {PROMOTED: "retrain_promoted", REJECTED: "retrain_rejected"}.get(
        outcome.status, "retrain_failed")
    return say(lang, key, task=outcome.task, run=outcome.run_id,
               candidate=outcome.candidate_version or "-", base=outcome.base_version or "-",
               tolerance=f"{tolerance:g}", rows=rows or "-",
               error=outcome.error or outcome.status, added=outcome.added_pairs)


def _figure(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}"
