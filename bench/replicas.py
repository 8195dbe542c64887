"""Benchmark: 1, 2 and 4 webhook replicas behind nginx on one PostgreSQL database.

    python -m bench.replicas [--users 200] [--messages 5] [--replicas 1,2,4]
                             [--promotions 5] [--baseline] [--name replicas]
    python -m bench.replicas --leader-kill --name replicas-leader

``--users 0`` skips the load runs (promotions only); ``--baseline`` measures the promotions a
second time with ``REPLICA_NOTIFY=false`` (the pointer poll alone); ``--leader-kill`` runs
only the retrain leader SIGKILLed during a real training run (``leader_kill``).

Everything on loopback, in one run: a throwaway PostgreSQL server (``tests/pg_server.py``),
Debian's nginx with the location block of ``deploy/nginx.conf`` (plain HTTP here), the Bot API
emulator in this process, and for each replica count a fresh database and that many
``python -m bot`` processes in webhook mode sharing the database and one model directory
(the shipped models). The emulator posts each update to nginx, which picks a replica.

Per replica count: ``--users`` simulated users, each in their own chat, send ``--messages``
``/ask`` questions one after another (the next when the last is answered), all at once;
messages per second, reply latency p50/p95/p99, lost and duplicated replies (the emulator's
record) and rows (the database). Then, with the largest count:

* ``/promote`` on one replica (through nginx), ``--promotions`` times with each replica count
  over 1: seconds until every replica logs that it serves the new version, and the CPU
  seconds each replica spent meanwhile;
* one replica is killed with SIGKILL a third of the way into a run: every message answered?
  (a message it had stored is answered by another once its heartbeat is stale,
  ``REPLICA_TIMEOUT_S``, 5 s here).

Telegram's flood limit is raised to 1000/s so that the figures are the bot's. Writes
``bench/results/replicas.json`` and ``replicas.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import RESULTS, latency_summary, machine, table, write_json, write_markdown
from bench.e2e import QUESTIONS
from botapi_emulator.bot_process import BotProcess, bot_environment
from tests.pg_server import PostgresServer

SECRET = "bench-replicas-secret-0123456789"
HOOK = "/telegram/hook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Nginx:
    """Debian's nginx in the foreground with a config of our own (no root paths)."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ports: list[int]) -> None:
        self.stop()
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;"
                            for p in ports)
        (self.dir / "nginx.conf").write_text(f"""
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    upstream rnnbot_replicas {{
        least_conn;
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location = {HOOK} {{
            proxy_pass http://rnnbot_replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
            client_max_body_size 1m;
        }}
        location / {{ return 404; }}
    }}
}}
""")
        self.proc = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(self.dir), "-c",
             str(self.dir / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            error = self.proc.stderr.read() if self.proc.stderr else b""
            raise RuntimeError(f"nginx failed: {error!r}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            self.proc.wait(10)
        self.proc = None


class Cluster:
    """N replicas of one emulated bot, one database, one model directory."""

    def __init__(self, api: Any, pg: PostgresServer, nginx: Nginx, workdir: Path, models: Path,
                 count: int, extra: dict[str, object],
                 ready: tuple[str, ...] = ("loaded qa version",)) -> None:
        self.handle = api.new_bot(username=f"rnn_replicas_{count}_bot")
        self.database = f"bench_{count}_{int(time.time())}"
        pg.execute(f"CREATE DATABASE {self.database}")
        self.pg = pg
        self.ports = [free_port() for _ in range(count)]
        nginx.start(self.ports)
        self.processes: list[BotProcess] = []
        shared = workdir / f"data-{count}"
        for i, port in enumerate(self.ports):
            home = workdir / f"replica-{count}-{i}"
            home.mkdir(parents=True, exist_ok=True)
            settings: dict[str, object] = {
                "database_url": pg.url(self.database), "bot_data_dir": shared,
                "webhook_url": nginx.url, "webhook_listen": "127.0.0.1", "webhook_port": port,
                "webhook_secret_token": SECRET, "replicas": "on", "replica_timeout_s": 5,
                "replica_heartbeat_s": 1, "preload_tasks": "qa",
                "telegram_max_messages_per_s": 1000, "admin_user_ids": 99_999}
            settings.update(extra)
            env = bot_environment(self.handle.token, self.handle.base_url, home, models,
                                  **settings)
            self.processes.append(BotProcess(env, home))
        for process in self.processes:  # one after another: the first installs the models
            process.start()
            process.wait_for_log([" ready", *ready], timeout=600)
        self.next_user = 200_000

    def stop(self) -> None:
        for process in self.processes:
            if process.proc is not None and process.proc.poll() is None:
                process.stop()

    def rows(self, sql: str) -> list[list[str]]:
        out = self.pg.execute(sql, self.database)
        return [line.split("|") for line in out.splitlines() if line]

    async def user(self, rng: random.Random, messages: int, timeout: float
                   ) -> list[tuple[int, int, float | None]]:
        self.next_user += 1
        aio = self.handle.aio
        user = await aio.user(self.next_user, f"U{self.next_user}", username=f"u{self.next_user}")
        chat = await aio.private_chat(user)
        sent = []
        for _ in range(messages):
            started = time.perf_counter()
            message = await aio.send_text(chat, user, "/ask " + rng.choice(QUESTIONS))
            try:
                await aio.wait_bot_messages(chat, 1, timeout)
                latency: float | None = time.perf_counter() - started
            except (TimeoutError, AssertionError):
                latency = None
            sent.append((chat.id, int(message["message_id"]), latency))
        return sent

    def run(self, users: int, messages: int, kill_after_s: float | None = None,
            timeout: float = 120.0) -> dict[str, Any]:
        async def everyone() -> list[list[tuple[int, int, float | None]]]:
            killer = None
            if kill_after_s is not None:
                async def kill() -> None:
                    await asyncio.sleep(kill_after_s)
                    victim = self.processes[-1]
                    assert victim.proc is not None
                    victim.proc.send_signal(signal.SIGKILL)
                killer = asyncio.create_task(kill())
            results = await asyncio.gather(*(self.user(random.Random(seed), messages, timeout)
                                             for seed in range(users)))
            if killer is not None:
                await killer
            return results

        started = time.perf_counter()
        sent = [s for run in asyncio.run(everyone()) for s in run]
        wall = time.perf_counter() - started
        time.sleep(3)  # late duplicates, if any, arrive now
        return {"wall_s": wall, "messages": len(sent),
                "messages_per_s": sum(1 for s in sent if s[2] is not None) / wall,
                "latency": latency_summary([s[2] for s in sent if s[2] is not None]),
                **self.integrity(sent)}

    def integrity(self, sent: list[tuple[int, int, float | None]]) -> dict[str, int]:
        chats = {chat for chat, _, _ in sent}
        replies: Counter[tuple[int, int]] = Counter()
        for chat in chats:
            for message in self.handle.bot_messages(chat):
                quoted = (message.get("reply_to_message") or {}).get("message_id")
                if isinstance(quoted, int):
                    replies[(chat, quoted)] += 1
        wanted = {(chat, message) for chat, message, _ in sent}
        rows_in: Counter[tuple[int, int]] = Counter()
        rows_out: Counter[tuple[int, int]] = Counter()
        answered = set()
        for chat, message, direction, status, reply_to in self.rows(
                "SELECT chat_id, message_id, direction, status, "
                "COALESCE(reply_to_message_id, 0) FROM messages"):
            key = (int(chat), int(message))
            if direction == "in":
                rows_in[key] += 1
                if status == "answered":
                    answered.add(key)
            elif int(reply_to):
                rows_out[(int(chat), int(reply_to))] += 1
        return {
            "lost_replies": sum(1 for k in wanted if replies[k] == 0),
            "duplicated_replies": sum(1 for k in wanted if replies[k] > 1),
            "lost_rows": sum(1 for k in wanted
                             if rows_in[k] == 0 or k not in answered or rows_out[k] == 0),
            "duplicated_rows": sum(1 for k in wanted if rows_in[k] > 1 or rows_out[k] > 1),
        }

    def promote_everywhere(self, models: Path, times: int = 1, task: str = "qa"
                           ) -> dict[str, Any]:
        """A second ``task`` version (a copy of the serving one under a new name),
        ``/promote``d by an admin through nginx, then the first one again, ``times``
        promotions in all: for each, seconds until every live replica logs that it serves
        it."""
        first = (models / task / "current").read_text().strip()
        second = f"{first}-b"
        source, copy = models / task / "versions" / first, models / task / "versions" / second
        if not copy.exists():
            shutil.copytree(source, copy)
            card = json.loads((copy / "card.json").read_text())
            card["version"] = second
            (copy / "card.json").write_text(json.dumps(card))
        admin = self.handle.user(99_999, "Admin", username="admin")
        live = [p for p in self.processes if p.proc is not None and p.proc.poll() is None]
        time.sleep(15)  # start-up chores (answer banks, the first requests' shapes) settle
        promotions: list[dict[str, Any]] = []
        for n in range(times):
            target = second if n % 2 == 0 else first
            marks = [len(p.current_log()) for p in live]
            load = os.getloadavg()[0]
            cpu_before = [_cpu_s(p) for p in live]
            started = time.perf_counter()
            self.handle.send_text(self.handle.private_chat(admin), admin,
                                  f"/promote {task} {target}")
            seen: dict[int, float] = {}
            while len(seen) < len(live) and time.perf_counter() - started < 60:
                for i, process in enumerate(live):
                    if i not in seen and (f"serving {task} version {target}"
                                          in process.current_log()[marks[i]:]):
                        seen[i] = time.perf_counter() - started
                time.sleep(0.02)
            cpu = [round(_cpu_s(p) - before, 2) for p, before in zip(live, cpu_before,
                                                                      strict=True)]
            promotions.append({"version": target, "load_average_1m": load,
                               "cpu_s_each": cpu, "served_by": len(seen),
                               "seconds_until_all": (max(seen.values())
                                                     if len(seen) == len(live) else None),
                               "seconds_each": sorted(seen.values())})
            print("promote", len(live), promotions[-1], flush=True)
            time.sleep(2)  # the replicas settle (the old version is released)
        complete: list[float] = [p["seconds_until_all"] for p in promotions
                    if p["seconds_until_all"] is not None]
        return {"replicas": len(live), "task": task, "promotions": promotions,
                "median_seconds_until_all": statistics.median(complete) if complete else None,
                "max_seconds_until_all": max(complete) if complete else None,
                "all_within_60_s": len(complete) == len(promotions)}


def leader_kill(workdir: Path) -> dict[str, Any]:
    """The retrain leader SIGKILLed in the middle of a real training run (a tiny chat model,
    ``python -m model train``), 2 replicas: seconds until the other leads and arms the
    schedule, whether the registry's pointer still names a complete version, what became of
    the killed run, and the re-run (an admin's /retrain, through nginx, to the new leader)."""
    from botapi_emulator import BotAPIHarness
    from botapi_emulator.bot_process import prepare_models, tiny_corpora
    from model.api import open_registry

    cache = Path(tempfile.gettempdir()) / "rnnbot-bench-models"
    tiny = prepare_models(cache, workdir / "tiny", tiny=True, tasks=("chat",))
    models = workdir / "models"
    shutil.copytree(tiny, models)
    tiny_corpora(workdir / "corpora" / "tasks")
    api = BotAPIHarness().start()
    pg = PostgresServer.start(max_connections=100)
    nginx = Nginx(workdir)
    registry = open_registry(models)
    try:
        cluster = Cluster(api, pg, nginx, workdir, models, 2, {
            "preload_tasks": "chat", "retrain_tasks": "chat", "retrain_schedule": "1d",
            "model_data_dir": workdir / "corpora", "retrain_budget_minutes": 3,
            "retrain_extra_args": "--epochs 6", "retrain_idle_priority": "false",
            "retrain_tolerance": 5}, ready=("loaded chat version",))
        try:
            serving = registry.current("chat")
            versions_before = sorted(v.version for v in registry.versions("chat"))
            [(leader_pid,)] = cluster.rows("SELECT pid FROM replicas WHERE leader")
            [leader] = [p for p in cluster.processes
                        if p.proc is not None and p.proc.pid == int(leader_pid)]
            [other] = [p for p in cluster.processes if p is not leader]
            admin = cluster.handle.user(99_999, "Admin", username="admin")
            chat = cluster.handle.private_chat(admin)
            cluster.handle.send_text(chat, admin, "/retrain chat")  # nginx: either replica
            deadline = time.monotonic() + 300
            progress = 0.0
            while progress < 0.15:  # the trainer reported its first epoch(s)
                assert time.monotonic() < deadline, leader.current_log()[-3000:]
                rows = cluster.rows("SELECT progress FROM retrain_runs WHERE status='running'")
                progress = float(rows[0][0] or 0) if rows else 0.0
                time.sleep(0.1)
            trainer = [int(m) for m in PID.findall(leader.current_log())]
            assert leader.proc is not None
            leader.proc.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            leader.proc.wait(30)
            took_over = armed = None
            while time.perf_counter() - killed < 120 and (took_over is None or armed is None):
                log = other.current_log()
                if took_over is None and "this replica leads" in log:
                    took_over = time.perf_counter() - killed
                if armed is None and "next scheduled retrain of chat" in log:
                    armed = time.perf_counter() - killed
                time.sleep(0.05)
            time.sleep(1)
            killed_run = cluster.rows("SELECT id, status, candidate_version, error "
                                      "FROM retrain_runs WHERE status != 'queued' ORDER BY id")
            pointer = registry.current("chat")
            complete = pointer is not None and _complete(registry, pointer)
            versions_after_kill = sorted(v.version for v in registry.versions("chat"))
            trainer_alive = [pid for pid in trainer if _alive(pid)]
            # the re-run, on the new leader
            started = time.perf_counter()
            cluster.handle.send_text(chat, admin, "/retrain chat")
            rerun: list[list[str]] = []
            while time.perf_counter() - started < 600:
                rerun = cluster.rows("SELECT id, status, candidate_version FROM retrain_runs "
                                     "WHERE status NOT IN ('queued', 'interrupted') "
                                     "ORDER BY id")
                if rerun and rerun[-1][1] != "running":
                    break
                time.sleep(0.5)
            rerun_s = time.perf_counter() - started
            final = registry.current("chat")
            return {
                "killed_after_progress": progress, "serving_before": serving,
                "seconds_until_new_leader": took_over, "seconds_until_schedule_armed": armed,
                "killed_run": killed_run, "trainer_pids": trainer,
                "trainer_pids_alive_after": trainer_alive,
                "pointer_after_kill": pointer, "pointer_names_complete_version": complete,
                "versions_unchanged_by_kill": versions_after_kill == versions_before,
                "rerun": rerun[-1] if rerun else None, "rerun_s": rerun_s,
                "pointer_after_rerun": final,
                "pointer_after_rerun_complete": final is not None and _complete(registry, final),
                "load_average_1m": os.getloadavg()[0]}
        finally:
            cluster.stop()
    finally:
        nginx.stop()
        pg.stop()
        api.stop()


PID = re.compile(r"retrain run \d+: model started as pid (\d+)")


def _cpu_s(process: BotProcess) -> float:
    """CPU seconds the process has used (user + system), from /proc."""
    assert process.proc is not None
    try:
        fields = Path(f"/proc/{process.proc.pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _complete(registry: Any, version: str) -> bool:
    try:
        registry.check_version("chat", version)
        return True
    except Exception:
        return False


def _alive(pid: int) -> bool:
    """Running (a zombie, dead and not yet reaped by its new parent, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def leader_kill_lines(k: dict[str, Any]) -> list[str]:
    run = k["killed_run"][0] if k["killed_run"] else ["?", "?", "?", "?"]
    return [
        "The retrain leader SIGKILLed during a real training run (tiny chat model, 2 replicas, "
        f"killed at {k['killed_after_progress']:.0%} of the run; load average "
        f"{k['load_average_1m']:.1f}):", "",
        f"- the other replica led after {_seconds(k['seconds_until_new_leader'])} s and armed "
        f"the schedule after {_seconds(k['seconds_until_schedule_armed'])} s;",
        f"- the killed run: `{run[1]}` ({run[3]}); its trainer processes alive afterwards: "
        f"{len(k['trainer_pids_alive_after'])} of {len(k['trainer_pids'])};",
        f"- the pointer named `{k['pointer_after_kill']}` (the version before: "
        f"`{k['serving_before']}`), a complete version: {k['pointer_names_complete_version']}; "
        f"the versions on disk unchanged: {k['versions_unchanged_by_kill']};",
        f"- the re-run (/retrain through nginx, run by the new leader): `{k['rerun']}` after "
        f"{k['rerun_s']:.0f} s; the pointer then names `{k['pointer_after_rerun']}`, complete: "
        f"{k['pointer_after_rerun_complete']}."]


def measure(users: int, messages: int, counts: list[int], promotions: int,
            baseline: bool = False, promote_task: str = "qa") -> dict[str, Any]:
    from botapi_emulator import BotAPIHarness

    workdir = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    models = workdir / "models"
    models.mkdir()
    api = BotAPIHarness().start()
    pg = PostgresServer.start(max_connections=400)
    nginx = Nginx(workdir)
    runs, kill, promote = [], None, []
    preload: dict[str, object] = {}  # the promoted task is loaded at start, as qa is
    ready: tuple[str, ...] = ("loaded qa version",)
    if promote_task != "qa":
        preload = {"preload_tasks": f"qa,{promote_task}"}
        ready = (*ready, f"loaded {promote_task} version")
    try:
        for count in counts:
            cluster = Cluster(api, pg, nginx, workdir, models, count, preload, ready=ready)
            try:
                result = None
                if users:
                    result = cluster.run(users, messages)
                    runs.append({"replicas": count, **result})
                    print(runs[-1], flush=True)
                if count > 1 and promotions:
                    promote.append({"notify": True,
                                    **cluster.promote_everywhere(models, promotions,
                                                                 promote_task)})
                if result is not None and count == max(counts) and count > 1:
                    kill = {"replicas": count, **cluster.run(
                        users, messages, kill_after_s=max(1.0, result["wall_s"] / 3))}
                    print("SIGKILL", kill, flush=True)
            finally:
                cluster.stop()
            if count > 1 and promotions and baseline:  # the same, polling the pointer alone
                cluster = Cluster(api, pg, nginx, workdir, models, count,
                                  {**preload, "replica_notify": "false"}, ready=ready)
                try:
                    promote.append({"notify": False,
                                    **cluster.promote_everywhere(models, promotions,
                                                                 promote_task)})
                finally:
                    cluster.stop()
    finally:
        nginx.stop()
        pg.stop()
        api.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"users": users, "messages_per_user": messages, "runs": runs, "sigkill": kill,
            "promote": promote, "machine": machine()}


def write_outputs(result: dict[str, Any], out: Path, name: str = "replicas") -> None:
    write_json(name, result, out)
    head = ["replicas", "users x messages", "messages/s", "p50 ms", "p95 ms", "p99 ms",
            "lost / duplicated replies", "lost / duplicated rows"]

    def row(name: str, run: dict[str, Any]) -> list[object]:
        lat = run["latency"]
        return [name, f"{result['users']} x {result['messages_per_user']}",
                f"{run['messages_per_s']:.1f}", f"{lat['p50_ms']:.0f}", f"{lat['p95_ms']:.0f}",
                f"{lat['p99_ms']:.0f}", f"{run['lost_replies']} / {run['duplicated_replies']}",
                f"{run['lost_rows']} / {run['duplicated_rows']}"]

    rows = [row(str(r["replicas"]), r) for r in result["runs"]]
    if result["sigkill"]:
        rows.append(row(f"{result['sigkill']['replicas']}, one SIGKILLed", result["sigkill"]))
    m = result["machine"]
    lines = [f"{m['cpu_count']} CPUs, load average {m['load_average_1m']:.1f} at the end, "
             f"{m['measured_at']}; `/ask` (qa) only, through nginx and the Bot API emulator."]
    if rows:
        lines += ["", *table(head, rows)]
    if result["promote"]:
        task = result["promote"][0].get("task", "qa")
        lines += ["", f"`/promote {task} VERSION` by an admin through nginx (the shipped {task} "
                  "model and a copy of it, in turn): seconds until every replica logs that it "
                  "serves it.",
                  "", *table(
                      ["replicas", "how", "promotions", "median s", "max s", "each (s)",
                       "load average (1 min) at each", "CPU s per replica (median)"],
                      [[p["replicas"],
                        "NOTIFY" if p.get("notify", True) else "pointer poll (1 s) alone",
                        len(p["promotions"]),
                        _seconds(p["median_seconds_until_all"]),
                        _seconds(p["max_seconds_until_all"]),
                        ", ".join(_seconds(q["seconds_until_all"]) for q in p["promotions"]),
                        ", ".join(f"{q['load_average_1m']:.1f}" for q in p["promotions"]),
                        "{:.1f}".format(statistics.median(
                            c for q in p["promotions"] for c in q.get("cpu_s_each", [0.0])))]
                       for p in result["promote"]])]
    if result.get("leader_kill"):
        lines += ["", *leader_kill_lines(result["leader_kill"])]
    write_markdown(name, lines, out)


def _seconds(value: float | None) -> str:
    return "over 60" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument("--promotions", type=int, default=5,
                        help="promotions measured with each replica count over 1")
    parser.add_argument("--name", default="replicas", help="results file name")
    parser.add_argument("--baseline", action="store_true",
                        help="promotions also with REPLICA_NOTIFY=false (the pointer poll alone)")
    parser.add_argument("--leader-kill", action="store_true",
                        help="only: the retrain leader SIGKILLed during a real training run")
    parser.add_argument("--promote-task", default="qa",
                        help="the task whose version is promoted (and preloaded beside qa)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    counts = [int(c) for c in args.replicas.split(",")]
    if args.leader_kill:
        workdir = Path(tempfile.mkdtemp(prefix="bench-leader-"))
        try:
            result = {"leader_kill": leader_kill(workdir), "machine": machine()}
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(result, flush=True)
        write_json(args.name, result, args.out)
        write_markdown(args.name, leader_kill_lines(result["leader_kill"]), args.out)
        return
    write_outputs(measure(args.users, args.messages, counts, args.promotions, args.baseline,
                          args.promote_task), args.out, args.name)


if __name__ == "__main__":
    main()
