"""Benchmark: the bot end to end over HTTP, through the local Bot API emulator.

    python -m bench.e2e [--users 50] [--messages 40] [--skip-retrain]

``python -m bot`` runs as a subprocess on the shipped models (``model/pretrained``, installed
into a scratch registry; XLA on, as the bot serves by default) against the emulator of
``botapi_emulator``, which runs in this process. Simulated users each write in their own
private chat, one message after another (the next when the last is answered), all users at
once. Measured:

* start-up: time from starting the process to ``ready``, to the first reply (``/start``, sent
  before the process started), and to the first model answer (``/ask``, likewise); resident
  memory once every model is loaded;
* a mixed run (question answering, both translations, summaries, routed plain text), a
  question-answering-only run, and the mixed run again while a training process runs beside
  the bot (the retrain feature is not in ``bot/`` yet: a ``python -m model train`` subprocess
  of a real-sized translation model on generated data stands in for it);
* per run: reply latency p50/p95/p99 (from the user's send to the reply's arrival), messages
  per second, lost and duplicated replies (from the emulator's record: replies quoting each
  message) and stored rows (the bot's database: each message stored once, answered, with its
  reply rows).

Telegram's flood limit (``TELEGRAM_MAX_MESSAGES_PER_S``, 30 by default) is raised to 1000 so
that the figures are the bot's own; on Telegram, 50 busy users would meet that limit first.
Writes ``bench/results/e2e.json``, ``e2e.md`` and ``e2e.png`` (with ``--xla 0``, the models
decoding without XLA: ``e2e-noxla.*``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.common import (
    RESULTS,
    latency_summary,
    machine,
    pyplot,
    table,
    write_json,
    write_markdown,
)
from botapi_emulator.bot_process import REPO, TINY, BotProcess, bot_environment, tiny_corpora

FIRST = ("intent", "qa")
SHIPPED = tuple(sorted(p.parent.name for p in (REPO / "model" / "pretrained").glob("*/card.json")))

QUESTIONS = [line.split("\t", 1)[0] for line in
             (REPO / "tests/fixtures/qa/paraphrases-test.tsv").read_text().splitlines()
             if line and not line.startswith("#")]
ENGLISH = [
    "Open the file in a new window.", "The selected cells are copied to the clipboard.",
    "Click OK to save your changes.", "Unable to connect to the server.",
    "Choose a template for the new document.", "Insert a table with three columns.",
    "Restart the application to apply the new settings.", "The printer is out of paper.",
]
CHINESE = ["无法连接到服务器。", "在新窗口中打开文件。", "请选择一个模板。", "打印机缺纸。",
           "保存您的更改。", "插入一个三列的表格。"]
BLURBS = [
    "rcm is a suite of tools to manage rc files (dotfiles). The tools keep dotfiles in a "
    "single directory, managing symlinks to them from other directories.",
    "This package provides a fast JSON parser and serializer for Python. It supports "
    "streaming input and can validate documents against a schema.",
    "A small command line utility that shows the weather forecast for your location in the "
    "terminal, with colours and ASCII art icons.",
]
PLAIN = ["hello there", "thanks, that helps", "how do I install a package?",
         "good morning"]
MIXES = {
    # task label -> weight; the label says which command or text is sent
    "mixed": {"qa": 4, "translate-en-zh": 2, "translate-zh-en": 1, "summarize": 2, "plain": 1},
    "qa": {"qa": 1},
}


def message_for(kind: str, rng: random.Random) -> str:
    if kind == "qa":
        return "/ask " + rng.choice(QUESTIONS)
    if kind == "translate-en-zh":
        return "/translate " + rng.choice(ENGLISH)
    if kind == "translate-zh-en":
        return "/translate " + rng.choice(CHINESE)
    if kind == "summarize":
        return "/summarize " + rng.choice(BLURBS)
    return rng.choice(PLAIN)


@dataclass
class Sent:
    chat_id: int
    message_id: int
    kind: str
    latency_s: float | None  # None: no reply within the time-out


@dataclass
class RunResult:
    name: str
    users: int
    messages_per_user: int
    wall_s: float
    sent: list[Sent] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of a process's threads, summed by thread name (``comm``)."""
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        name = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return totals


# Threads of the bot doing model work (bench.counted_bot names Python threads at the OS level;
# TensorFlow's own pools are native threads, named by TensorFlow or after their creator)
MODEL_THREADS = ("inference", "model-load", "xla-compile", "tf_", "tf-", "Eigen", "python")


def split_cpu(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds between two ``thread_cpu_s`` readings: event loop, other bot threads (the
    database's), and model threads."""
    out = {"event_loop": 0.0, "other_bot_threads": 0.0, "model": 0.0}
    for name, total in after.items():
        spent = total - before.get(name, 0.0)
        if name == "MainThread":
            out["event_loop"] += spent
        elif name.startswith(MODEL_THREADS):
            out["model"] += spent
        else:
            out["other_bot_threads"] += spent
    return out


class Driver:
    """Simulated users of one emulated bot (``handle``) served by one process (``pid``)."""

    handle: Any
    aio: Any
    next_user: int

    def pid(self) -> int:
        raise NotImplementedError

    def sql_counts(self) -> dict[str, int]:
        return {}

    def new_user(self) -> tuple[Any, Any]:
        self.next_user += 1
        user = self.handle.user(self.next_user, f"U{self.next_user}",
                                username=f"u{self.next_user}")
        return user, self.handle.private_chat(user)

    async def _user(self, mix: dict[str, int], messages: int, seed: int, timeout: float,
                    think_s: float) -> list[Sent]:
        rng = random.Random(seed)
        if think_s:  # users who read their replies do not all start at the same instant
            await asyncio.sleep(rng.uniform(0, 2 * think_s))
        user, chat = await asyncio.to_thread(self.new_user)
        kinds, weights = list(mix), list(mix.values())
        results = []
        for _ in range(messages):
            kind = rng.choices(kinds, weights)[0]
            text = message_for(kind, rng)
            started = time.perf_counter()
            sent = await self.aio.send_text(chat, user, text)
            latency: float | None
            try:
                await self.aio.wait_bot_messages(chat, 1, timeout)
                latency = time.perf_counter() - started
            except (TimeoutError, AssertionError):
                latency = None
            results.append(Sent(chat.id, sent["message_id"], kind, latency))
            if think_s:
                await asyncio.sleep(rng.uniform(0, 2 * think_s))
        return results

    def run(self, name: str, mix: dict[str, int], users: int, messages: int,
            think_s: float = 0.0, timeout: float = 120.0, profile: Path | None = None
            ) -> RunResult:
        """Every user at once; ``think_s``: mean pause between a reply and the next message.
        ``profile``: py-spy samples the process meanwhile (collapsed stacks to that file)."""
        async def everyone() -> list[list[Sent]]:
            return await asyncio.gather(*(self._user(mix, messages, seed, timeout, think_s)
                                          for seed in range(users)))

        bot = psutil.Process(self.pid())
        here = psutil.Process()
        spy = None
        if profile is not None:
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(bot.pid),
                 "--rate", "200", "--threads", "--format", "raw", "--output", str(profile),
                 "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        cpu_bot, cpu_here = sum(bot.cpu_times()[:2]), sum(here.cpu_times()[:2])
        threads, sql = thread_cpu_s(bot.pid), self.sql_counts()
        started = time.perf_counter()
        per_user = asyncio.run(everyone())
        result = RunResult(name, users, messages, time.perf_counter() - started)
        threads_after, sql_after = thread_cpu_s(bot.pid), self.sql_counts()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        result.sent = [s for run in per_user for s in run]
        n = max(len(result.sent), 1)
        result.extra["think_s"] = think_s
        result.extra["bot_cpu_ms_per_message"] = (sum(bot.cpu_times()[:2]) - cpu_bot) * 1000 / n
        split = split_cpu(threads, threads_after)
        result.extra["cpu_ms_per_message"] = {k: v * 1000 / n for k, v in split.items()}
        result.extra["cpu_ms_per_message_by_thread"] = {
            name: round((total - threads.get(name, 0.0)) * 1000 / n, 2)
            for name, total in sorted(threads_after.items())}
        result.extra["own_cpu_ms_per_message"] = (
            split["event_loop"] + split["other_bot_threads"]) * 1000 / n
        result.extra["emulator_and_users_cpu_ms_per_message"] = (
            (sum(here.cpu_times()[:2]) - cpu_here) * 1000 / n)
        if sql_after:
            result.extra["sql_per_message"] = {k: (v - sql.get(k, 0)) / n
                                               for k, v in sorted(sql_after.items())}
        return result


class Anchor(Driver):
    """The anchor: ``python -m bench.anchor_bot`` (a minimal PTB application answering every
    message with a fixed text) on its own emulated bot, through the same emulator."""

    def __init__(self, api: Any, workdir: Path) -> None:
        self.handle = api.new_bot(username="anchor_bench_bot")
        self.aio = self.handle.aio
        self.next_user = 500_000
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": self.handle.token,
               "TELEGRAM_API_BASE_URL": self.handle.base_url, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": str(REPO)}
        self.log = (workdir / "anchor.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.anchor_bot"], cwd=REPO,
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        user, chat = self.new_user()
        self.handle.send_text(chat, user, "hello")
        self.handle.wait_bot_messages(chat, 1, timeout=120)

    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class LiveBench(Driver):
    """The emulator (in this process) and the bot (a subprocess) for the benchmarks."""

    def __init__(self, workdir: Path, **settings: object) -> None:
        from botapi_emulator import BotAPIHarness

        self.workdir = workdir
        self.api = BotAPIHarness().start()
        self.handle = self.api.new_bot(username="rnn_bench_bot")
        self.aio = self.handle.aio
        models = workdir / "models"
        models.mkdir(parents=True, exist_ok=True)
        self.admin_id = 99_999
        defaults: dict[str, object] = {
            "model_xla": "1", "telegram_max_messages_per_s": 1000, "typing_delay_ms": 250,
            # the bot's default order: the models of /ask and of routing first
            "preload_tasks": ",".join(sorted(SHIPPED, key=lambda t: (t not in FIRST, t))),
            "log_level": "INFO",
            "admin_user_ids": self.admin_id, "retrain_budget_minutes": 15,
        }
        env = bot_environment(self.handle.token, self.handle.base_url, workdir, models,
                              **{**defaults, **settings})
        for name in ("TF_INTRA_THREADS", "TF_INTER_THREADS"):  # the bot's defaults
            env.pop(name, None)
        self.counts = workdir / "sql-counts.json"
        env["BENCH_SQL_COUNTS"] = str(self.counts)
        self.process = BotProcess(env, workdir, module="bench.counted_bot")
        self.next_user = 100_000

    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    def sql_counts(self) -> dict[str, int]:
        time.sleep(0.6)  # the bot writes its counts twice a second
        try:
            counts: dict[str, int] = json.loads(self.counts.read_text())
        except (OSError, ValueError):
            return {}
        return counts

    def start(self) -> dict[str, float]:
        """Start the bot with two messages waiting; seconds to ready and to the replies."""
        user, chat = self.new_user()
        self.handle.send_text(chat, user, "/start")
        self.handle.send_text(chat, user, "/ask " + QUESTIONS[0])
        started = time.perf_counter()
        self.process.start()
        first = self.handle.wait_bot_messages(chat, 1, timeout=300)
        first_s = time.perf_counter() - started
        self.handle.wait_bot_messages(chat, 1, timeout=300)
        answer_s = time.perf_counter() - started
        self.process.wait_ready(tasks=[t for t in SHIPPED if t not in ("qa", "intent")],
                                timeout=600)
        ready_s = time.perf_counter() - started
        assert first[0]["text"].startswith("Hello"), first
        return {"first_reply_s": first_s, "first_model_answer_s": answer_s,
                "all_models_loaded_s": ready_s}

    def memory(self) -> dict[str, float]:
        assert self.process.proc is not None
        proc = psutil.Process(self.process.proc.pid)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak_kb = next((int(line.split()[1]) for line in status.splitlines()
                        if line.startswith("VmHWM:")), 0)
        return {"rss_mb": proc.memory_info().rss / 2**20, "peak_rss_mb": peak_kb / 1024}

    def stop(self) -> None:
        if self.process.proc is not None:
            self.process.stop()
        self.api.stop()

    def check(self, result: RunResult, settle_s: float = 3.0) -> dict[str, Any]:
        """Lost and duplicated replies (emulator) and stored rows (database) of a run."""
        time.sleep(settle_s)  # late duplicates, if any, would arrive now
        chats = {s.chat_id for s in result.sent}
        replies: Counter[tuple[int, int]] = Counter()
        for chat_id in chats:
            for message in self.handle.bot_messages(chat_id):
                quoted = (message.get("reply_to_message") or {}).get("message_id")
                if isinstance(quoted, int):
                    replies[(chat_id, quoted)] += 1
        wanted = {(s.chat_id, s.message_id) for s in result.sent}
        rows_in: Counter[tuple[int, int]] = Counter()
        answered = set()
        rows_out: Counter[tuple[int, int]] = Counter()
        marks = ",".join("?" * len(chats))
        for chat_id, message_id, direction, status, reply_to in self.process.rows(
                f"SELECT chat_id, message_id, direction, status, reply_to_message_id "
                f"FROM messages WHERE chat_id IN ({marks})", *chats):
            if direction == "in":
                rows_in[(chat_id, message_id)] += 1
                if status == "answered":
                    answered.add((chat_id, message_id))
            elif reply_to is not None:
                rows_out[(chat_id, reply_to)] += 1
        return {
            "messages": len(wanted),
            "lost_replies": sum(1 for key in wanted if replies[key] == 0),
            "duplicated_replies": sum(1 for key in wanted if replies[key] > 1),
            "lost_rows": sum(1 for key in wanted
                             if rows_in[key] == 0 or key not in answered or rows_out[key] == 0),
            "duplicated_rows": sum(1 for key in wanted
                                   if rows_in[key] > 1 or rows_out[key] > replies[key]),
        }


def summarize_run(result: RunResult, integrity: dict[str, Any]) -> dict[str, Any]:
    answered = [s.latency_s for s in result.sent if s.latency_s is not None]
    by_kind: dict[str, Any] = {}
    for kind in sorted({s.kind for s in result.sent}):
        by_kind[kind] = latency_summary([s.latency_s for s in result.sent
                                         if s.kind == kind and s.latency_s is not None])
    return {"name": result.name, "users": result.users,
            "messages_per_user": result.messages_per_user, "wall_s": result.wall_s,
            "messages_per_s": len(answered) / result.wall_s,
            "latency": latency_summary(answered), "by_task": by_kind, **integrity,
            **result.extra}


class BotRetrain:
    """The bot's own retraining (``/retrain TASK`` from an admin): a niced trainer process
    with ``RETRAIN_THREADS`` TensorFlow threads, started by the bot."""

    def __init__(self, bench: LiveBench, task: str) -> None:
        admin = bench.handle.user(bench.admin_id, "Admin", username="admin")
        bench.handle.send_text(bench.handle.private_chat(admin), admin, f"/retrain {task}")
        assert bench.process.proc is not None
        self.bot = psutil.Process(bench.process.proc.pid)
        self.command = (f"/retrain {task} (the bot's retraining: python -m model train "
                        "--warm-start current, niced, RETRAIN_THREADS=1)")

    def cpu_s(self) -> float:
        total = 0.0
        for proc in self.bot.children(recursive=True):
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total

    def wait_busy(self, timeout: float = 120.0) -> bool:
        """Until the trainer burns CPU (past snapshot, imports and tracing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.cpu_s()
            time.sleep(2.0)
            if self.cpu_s() - before > 1.0:
                return True
        return False

    def stop(self) -> None:
        """The trainer goes with the bot (it dies with its parent)."""


class Retrain:
    """Training beside the bot: the load a retrain puts on the machine.

    The trainer stops early on its small data within a minute, so a shell loop starts it
    again until ``stop``. It runs as the bot runs its trainer by default: ``RETRAIN_NICE``,
    under ``SCHED_IDLE`` when ``RETRAIN_IDLE_PRIORITY`` (``bot.config`` defaults), with
    ``RETRAIN_THREADS`` TensorFlow threads.
    """

    def __init__(self, workdir: Path) -> None:
        from bot.config import Settings

        defaults = Settings.model_fields
        nice = int(defaults["retrain_nice"].default)
        idle = bool(defaults["retrain_idle_priority"].default)
        threads = str(defaults["retrain_threads"].default)

        def lower_priority() -> None:
            os.nice(nice)
            if idle and hasattr(os, "SCHED_IDLE"):
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

        data = tiny_corpora(workdir / "retrain-data")["translate-en-zh"]
        settings = {**TINY, "embed_dim": 128, "encoder_units": 192, "decoder_units": 256,
                    "batch_size": 64}
        command = [sys.executable, "-m", "model", "train", "--task", "translate-en-zh",
                   "--data", str(data), "--epochs", "1000", "--promote", "no", "--quiet",
                   *[item for k, v in settings.items() for item in ("--set", f"{k}={v}")]]
        env = {**os.environ, "MODEL_DIR": str(workdir / "retrain-models"),
               "TF_CPP_MIN_LOG_LEVEL": "2", "TF_INTRA_THREADS": threads,
               "TF_INTER_THREADS": threads}
        self.command = ("python " + " ".join(command[1:]) + f" (in a loop, a stand-in; nice "
                        f"{nice}{', SCHED_IDLE' if idle else ''}, {threads} TensorFlow thread(s))")
        loop = f"while true; do {shlex.join(command)}; done"
        self.proc = subprocess.Popen(["bash", "-c", loop], cwd=REPO, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=lower_priority)
        self.ps = psutil.Process(self.proc.pid)

    def cpu_s(self) -> float:
        """CPU seconds of the loop: trainers that finished, and the one running."""
        total = 0.0
        for proc in (self.ps, *self.ps.children(recursive=True)):
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total

    def wait_busy(self, timeout: float = 90.0) -> bool:
        """Until the trainer burns CPU steadily (past imports, tokenizer and tracing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.cpu_s()
            time.sleep(2.0)
            if self.cpu_s() - before > 1.0:  # one thread, niced: up to a core
                return True
        return False

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


def measure(users: int, messages: int, retrain: bool, think_s: float = 1.0, xla: bool = True,
            only: set[str] | None = None, profile: bool = False, out: Path = RESULTS
            ) -> dict[str, Any]:
    """Start-up, the anchor's runs, then the bot's runs (``only``: these run names)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    bench = LiveBench(workdir, model_xla=int(xla))
    anchor: Anchor | None = None
    runs, anchors = [], []
    profile_path = workdir / "profile.txt" if profile else None
    try:
        startup = bench.start()
        startup.update(bench.memory())
        print("start-up:", startup, flush=True)
        qa_only = only is not None and all(name.startswith("qa only") for name in only)
        warm = bench.run("warm-up", MIXES["qa" if qa_only else "mixed"], users, 4)
        print(f"warm-up: {len(warm.sent)} messages in {warm.wall_s:.1f} s", flush=True)
        anchor = Anchor(bench.api, workdir)
        # the anchor's CPU per message does not depend on the text: back to back and with
        # think time (fewer updates per getUpdates call), side by side with the bot's runs
        for name, think in (("anchor", 0.0), ("anchor, 1 s think time", think_s)):
            result = anchor.run(name, MIXES["qa"], users, messages, think)
            anchors.append(summarize_run(result, {}))
            print(anchors[-1], flush=True)
        anchor.stop()
        anchor = None
        # (name, mix, mean think time, messages per user): back to back (saturation), users
        # who take about a second between a reply and their next message, and each task alone
        plan = [("mixed", "mixed", 0.0, messages), ("qa only", "qa", 0.0, messages),
                ("qa only, 1 s think time", "qa", think_s, messages),
                *((f"{task} only", task, 0.0, max(messages // 4, 1))
                  for task in ("translate-en-zh", "translate-zh-en", "summarize", "plain"))]
        plan = [step for step in plan if only is None or step[0] in only]
        for name, mix, think, count in plan:
            mixture = MIXES.get(mix, {mix: 1})
            result = bench.run(name, mixture, users, count, think,
                               profile=profile_path if name == "qa only" else None)
            runs.append(summarize_run(result, bench.check(result)))
            print(runs[-1], flush=True)
        if retrain:
            trainer: BotRetrain | Retrain = BotRetrain(bench, "qa")
            if not trainer.wait_busy():  # the bot's retraining did not start: a stand-in
                print("the bot's /retrain did not start a trainer; using a stand-in",
                      flush=True)
                trainer = Retrain(workdir)
                trainer.wait_busy()
            for name, mix, think, count in plan[:3]:
                cpu_before = trainer.cpu_s()
                result = bench.run(f"{name}, training beside", MIXES.get(mix, {mix: 1}),
                                   users, count,
                                   think)
                result.extra["trainer_cpu_share"] = (trainer.cpu_s() - cpu_before) / result.wall_s
                runs.append(summarize_run(result, bench.check(result)))
                print(runs[-1], flush=True)
            retrain_command = trainer.command
            trainer.stop()
        memory = bench.memory()
    finally:
        if anchor is not None:
            anchor.stop()
        bench.stop()
    if profile_path is not None and profile_path.is_file():
        write_profile(profile_path, out)
    return {"shipped_models": list(SHIPPED), "users": users, "messages_per_user": messages,
            "startup": startup, "memory_after_runs": memory, "runs": runs, "anchor": anchors,
            "training_beside": retrain_command if retrain else None,
            "mixes": MIXES, "xla": xla, "machine": machine()}


def write_profile(raw: Path, out: Path, top: int = 30) -> None:
    """The top of py-spy's profile of the event loop thread: self and inclusive shares of
    its samples, by function (``e2e-profile.md``)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not frames or "MainThread" not in frames[0] or not count.isdigit():
            continue
        n = int(count)
        total += n
        names = [re.sub(r" \((?:/[^)]*/)?(site-packages/|lib/python3\.\d+/)?([^)]*)\)",
                        r" (\2)", f) for f in frames[1:]]
        if names:
            own[names[-1]] += n
        for name in set(names):
            inclusive[name] += n
    lines = [f"py-spy, the bot's event loop thread during the `qa only` run: {total} samples "
             "at 200 Hz (idle waits included under `select`).", "",
             *table(["self %", "function"], [[f"{100 * n / total:.1f}", f"`{name}`"]
                                             for name, n in own.most_common(top)]), "",
             *table(["inclusive %", "function"], [[f"{100 * n / total:.1f}", f"`{name}`"]
                                                  for name, n in inclusive.most_common(top)])]
    write_markdown("e2e-profile", lines, out)


def write_outputs(result: dict[str, Any], out: Path) -> None:
    name = "e2e" if result.get("xla", True) else "e2e-noxla"
    write_json(name, result, out)
    head = ["run", "users x messages", "messages/s", "p50 ms", "p95 ms", "p99 ms",
            "lost / duplicated replies", "lost / duplicated rows", "bot CPU ms/message"]
    rows = []
    for run in result["runs"]:
        lat = run["latency"]
        rows.append([run["name"], f"{run['users']} x {run['messages_per_user']}",
                     f"{run['messages_per_s']:.1f}", f"{lat['p50_ms']:.0f}",
                     f"{lat['p95_ms']:.0f}", f"{lat['p99_ms']:.0f}",
                     f"{run['lost_replies']} / {run['duplicated_replies']}",
                     f"{run['lost_rows']} / {run['duplicated_rows']}",
                     f"{run['bot_cpu_ms_per_message']:.1f}"])
    anchors = {a["think_s"] > 0: a for a in result.get("anchor", [])}
    cpu_head = ["run", "bot CPU ms/message", "own (event loop + database threads)",
                "model threads", "anchor ms/message", "own / anchor",
                "SQL statements / transactions per message"]
    cpu_rows = []
    for run in [*result.get("anchor", []), *result["runs"]]:
        anchor = anchors.get(run["think_s"] > 0)
        split = run["cpu_ms_per_message"]
        own = run["own_cpu_ms_per_message"]
        sql = run.get("sql_per_message") or {}
        cpu_rows.append([
            run["name"], f"{run['bot_cpu_ms_per_message']:.1f}", f"{own:.1f}",
            f"{split['model']:.1f}",
            f"{anchor['own_cpu_ms_per_message']:.1f}" if anchor else "-",
            f"**{own / anchor['own_cpu_ms_per_message']:.1f}x**" if anchor else "-",
            f"{sql.get('statements', 0):.1f} / {sql.get('commits', 0):.2f}" if sql else "-"])
    task_rows = []
    for run in result["runs"]:
        for kind, lat in run["by_task"].items():
            task_rows.append([run["name"], kind, lat["n"], f"{lat['p50_ms']:.0f}",
                              f"{lat['p95_ms']:.0f}", f"{lat['p99_ms']:.0f}"])
    s, m = result["startup"], result["machine"]
    lines = [
        f"Shipped models {', '.join(result['shipped_models'])}; {m['cpu_count']} CPUs, load "
        f"average {m['load_average_1m']:.1f} at the end, {m['measured_at']}.", "",
        *table(head, rows), "",
        "CPU per message: the bot's own (its event loop and database threads) apart from its "
        "model threads, against the anchor (`bench/anchor_bot.py`, a minimal python-telegram-bot "
        "application answering every message with a fixed text) measured in the same run:", "",
        *table(cpu_head, cpu_rows), "", "By task:", "",
        *table(["run", "task", "n", "p50 ms", "p95 ms", "p99 ms"], task_rows), "",
        f"Start-up: first reply (`/start`, queued before start) after {s['first_reply_s']:.1f} s,"
        f" first model answer (`/ask`) after {s['first_model_answer_s']:.1f} s, every model "
        f"loaded after {s['all_models_loaded_s']:.1f} s; resident memory with every model "
        f"loaded {s['rss_mb']:.0f} MB (peak after the runs "
        f"{result['memory_after_runs']['peak_rss_mb']:.0f} MB).",
    ]
    if result.get("training_beside"):
        share = [r["trainer_cpu_share"] for r in result["runs"] if "trainer_cpu_share" in r]
        lines += ["", "Training beside the bot: `" + result["training_beside"] + "` "
                  f"(it used {min(share):.2f}-{max(share):.2f} CPU cores during the runs)."]
    write_markdown(name, lines, out)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    names = [r["name"] for r in result["runs"]]
    xs = range(len(names))
    for offset, key in ((-0.25, "p50_ms"), (0.0, "p95_ms"), (0.25, "p99_ms")):
        ax.bar([x + offset for x in xs], [r["latency"][key] for r in result["runs"]], 0.25,
               label=key.replace("_ms", ""))
    ax.axhline(250, color="grey", linestyle="--", linewidth=1, label="250 ms")
    ax.set_xticks(list(xs), names, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("reply latency, ms")
    ax.set_title(f"{result['users']} users x {result['messages_per_user']} messages, "
                 "through the Bot API emulator")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"{name}.png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--skip-retrain", action="store_true")
    parser.add_argument("--xla", type=int, choices=(0, 1), default=1,
                        help="MODEL_XLA for the bot (1: the default, XLA-compiled decoding)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", action="append", default=[],
                        help="a run to make, by name (repeatable; default: all)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the bot during the qa only run (e2e-profile.md)")
    args = parser.parse_args()
    result = measure(args.users, args.messages, not args.skip_retrain, xla=bool(args.xla),
                     only=set(args.only) or None,
                     profile=args.profile, out=args.out)
    write_outputs(result, args.out)


if __name__ == "__main__":
    main()
