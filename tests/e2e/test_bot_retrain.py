"""Retraining while the bot serves, over HTTP against the Bot API emulator, with real (tiny)
models and the real trainer (``python -m model train``) and gate
(``python -m model.promotion_gate``).

* a trainer killed half-way: the serving version is unchanged, the run is recorded as failed,
  the next run is promoted; chat latency with and without a retrain running (ratio printed);
* /rollback while several users chat: no failed reply, and the previous version serves after;
* a version with corrupted files (promoted, or the one a rollback returns to): refused, the
  old version keeps serving, the admins are told;
* a candidate that evaluates worse stays a candidate, with both versions' metrics sent;
* a scheduled run that fell due while the bot was down runs once after the restart, and a
  run the dead bot left ``running`` is recorded as interrupted (its trainer died with it); a
  graceful stop during a run stops the trainer and records the run as interrupted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from botapi_emulator.bot_process import (
    LiveBot,
    percentile,
    start_live_bot,
    tiny_corpora,
)

pytestmark = pytest.mark.slow  # every test trains (tiny models, but real training runs)

TASK = "chat"
FAILED_REPLIES = ("Sorry, something went wrong", "The model is busy", "is not available")
TAUGHT = [("what is your favourite colour", "i like blue"), ("where do you live", "in a server"),
          ("can you sing", "only in binary")]
PID = re.compile(r"retrain run (\d+): model started as pid (\d+)")


@dataclass
class RetrainBot:
    live: LiveBot
    models: Path
    admin: Any
    admin_chat: Any

    def current(self) -> str:
        return (self.models / TASK / "current").read_text().strip()

    def history(self) -> list[str]:
        return list(json.loads((self.models / TASK / "history.json").read_text()))

    def runs(self) -> list[tuple[Any, ...]]:
        return self.live.process.rows(
            "SELECT id, trigger, status, base_version, candidate_version, error, metrics "
            "FROM retrain_runs WHERE status != 'queued' ORDER BY started_at, id")

    def wait_run(self, count: int, done: bool = True, timeout: float = 300) -> tuple[Any, ...]:
        """The ``count``-th run, once it exists (and, with ``done``, has finished)."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.runs()
            if len(runs) >= count and (not done or runs[count - 1][2] != "running"):
                return runs[count - 1]
            assert time.monotonic() < deadline, (runs, self.live.process.current_log()[-3000:])
            time.sleep(0.2)

    def wait_progress(self, run_id: int, at_least: float, timeout: float = 180) -> float:
        """The run's recorded progress once it reaches ``at_least`` (while still running)."""
        deadline = time.monotonic() + timeout
        while True:
            [(progress, status)] = self.live.process.rows(
                "SELECT progress, status FROM retrain_runs WHERE id=?", run_id)
            assert status == "running", status
            if progress is not None and progress >= at_least:
                return float(progress)
            assert time.monotonic() < deadline, progress
            time.sleep(0.02)

    def trainer_pid(self, run_id: int, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while True:
            for found in PID.finditer(self.live.process.current_log()):
                if int(found.group(1)) == run_id:
                    return int(found.group(2))
            assert time.monotonic() < deadline, self.live.process.current_log()[-3000:]
            time.sleep(0.1)

    def admin_says(self, text: str, timeout: float = 60) -> str:
        """The bot's reply to the admin's command (announcements may arrive meanwhile)."""
        sent = self.live.handle.send_text(self.admin_chat, self.admin, text)
        deadline = time.monotonic() + timeout
        while True:
            for message in self.live.handle.bot_messages(self.admin_chat):
                quoted = (message.get("reply_to_message") or {}).get("message_id")
                if quoted == sent["message_id"]:
                    return str(message["text"])
            assert time.monotonic() < deadline, f"no reply to {text!r}"
            time.sleep(0.05)

    def admin_inbox(self, needle: str, timeout: float = 300) -> str:
        """The first message to the admin containing ``needle`` (e.g. an announcement)."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.live.handle.bot_messages(self.admin_chat):
                if needle in str(message.get("text", "")):
                    return str(message["text"])
            assert time.monotonic() < deadline, [m.get("text") for m in
                                                 self.live.handle.bot_messages(self.admin_chat)]
            time.sleep(0.2)


def start_retrain_bot(botapi: Any, tiny_bot_models: Path, workdir: Path, name: str, first_id: int,
                      **settings: object) -> RetrainBot:
    """A bot on its own copy of the models (retrains promote versions) and tiny corpora."""
    models = workdir / "models"
    shutil.copytree(tiny_bot_models, models)
    tiny_corpora(workdir / "corpora" / "tasks")
    admin_id = first_id
    # SCHED_IDLE (the default) gives the trainer only CPU time nothing else wants: on a test
    # machine busy with other work it could starve past its 3-minute budget
    settings.setdefault("retrain_idle_priority", "false")
    live = start_live_bot(botapi, models, workdir, name, first_id + 1, ready_tasks=(TASK,),
                          admin_user_ids=admin_id, model_data_dir=workdir / "corpora",
                          retrain_tasks=TASK, typing_delay_ms=0,
                          preload_tasks=f"{TASK},qa,intent", **settings)
    admin = live.handle.user(admin_id, "Ada", username="ada")
    return RetrainBot(live, models, admin, live.handle.private_chat(admin))


def chat_round(live: LiveBot, people: list[tuple[Any, Any]], pool: ThreadPoolExecutor,
               text: str = "how are you") -> list[tuple[float, str, str]]:
    """Everyone sends ``text`` at once: (seconds to the reply, reply text, stored version)."""

    def one(person: tuple[Any, Any]) -> tuple[float, str, str]:
        user, chat = person
        started = time.perf_counter()
        sent, [reply] = live.exchange(chat, user, text, timeout=120)
        elapsed = time.perf_counter() - started
        return elapsed, str(reply["text"]), str(live.stored_reply(chat.id,
                                                                  sent["message_id"])[1])

    return list(pool.map(one, people))


@pytest.fixture(scope="module")
def retrain_bot(botapi: Any, tiny_bot_models: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[RetrainBot]:
    bot = start_retrain_bot(botapi, tiny_bot_models, tmp_path_factory.mktemp("bot-retrain"),
                            "rnn_retrain_bot", 9000, retrain_budget_minutes=3,
                            retrain_extra_args="--epochs 6", retrain_tolerance=5)
    yield bot
    assert bot.live.process.stop() == 0
    assert "Traceback" not in bot.live.process.log()


def test_killed_retrain_changes_nothing_and_the_next_run_is_promoted(
        retrain_bot: RetrainBot) -> None:
    bot, live = retrain_bot, retrain_bot.live
    serving = bot.current()
    people = [live.person(f"Chatter{i}") for i in range(4)]
    with ThreadPoolExecutor(len(people)) as pool:
        chat_round(live, people, pool)  # warm up
        idle = [r for _ in range(15) for r in chat_round(live, people, pool)]

        # (a) the trainer is killed half-way
        progress = bot.admin_says(f"/retrain {TASK}")
        assert progress.startswith(f"Retraining {TASK}")
        run_id = bot.wait_run(1, done=False)[0]
        pid = bot.trainer_pid(run_id)
        versions_before = sorted(p.name for p in (bot.models / TASK / "versions").iterdir())
        bot.wait_progress(run_id, 0.15)  # the trainer reported its first epoch(s)
        os.kill(pid, signal.SIGKILL)
        run = bot.wait_run(1)
        assert run[2] == "failed" and "killed by signal 9" in run[5] and run[4] is None
        assert bot.current() == serving
        assert sorted(p.name for p in (bot.models / TASK / "versions").iterdir()) == \
            versions_before  # no candidate, and no half-written version left visible
        assert "failed: training process killed by signal 9" in bot.admin_inbox(
            f"Retrain #{run_id} of {TASK} failed")
        replies = chat_round(live, people, pool)
        assert {version for _, _, version in replies} == {serving}

        # the next run works, with taught pairs in its data and its gate; (f) chat latency
        # while it trains
        with sqlite3.connect(live.process.database) as db:
            db.executemany(
                "INSERT INTO taught_pairs (task, source, target, origin, active, created_at) "
                "VALUES (?, ?, ?, 'teach', 1, ?)",
                [(TASK, q, a, datetime.now(UTC).replace(tzinfo=None)) for q, a in TAUGHT])
        bot.admin_says(f"/retrain {TASK}")
        busy: list[tuple[float, str, str]] = []
        while bot.runs()[-1][2] == "running" or len(bot.runs()) < 2:
            busy += chat_round(live, people, pool)
        run = bot.wait_run(2)
    assert run[2] == "promoted", run
    candidate = run[4]
    gate = json.loads(run[6])
    assert gate["primary"] == "bleu" and gate["added_pairs"] == len(TAUGHT)
    assert gate["sets"]["dev"]["n"] == 40 and gate["sets"]["taught"]["n"] == len(TAUGHT)
    assert bot.current() == candidate and bot.history()[-2:] == [serving, candidate]
    assert f"promoted {candidate}" in bot.admin_inbox(f"Retrain #{run[0]} of {TASK}: promoted")
    edits = [c.params["text"] for c in live.handle.calls("editMessageText")]
    assert any(re.search(r"training \d+% \(about .+ left\)", text) for text in edits)
    for _, text, _ in idle + busy:
        assert not any(failure in text for failure in FAILED_REPLIES), text
    idle_s, busy_s = [r[0] for r in idle], [r[0] for r in busy]
    figures = {
        "users": len(people), "idle_n": len(idle_s), "retrain_n": len(busy_s),
        "idle_p50_ms": percentile(idle_s, 50) * 1000, "idle_p95_ms": percentile(idle_s, 95) * 1000,
        "retrain_p50_ms": percentile(busy_s, 50) * 1000,
        "retrain_p95_ms": percentile(busy_s, 95) * 1000,
        "ratio_p50": percentile(busy_s, 50) / percentile(idle_s, 50),
        "ratio_mean": statistics.mean(busy_s) / statistics.mean(idle_s),
    }
    print("\nchat latency with and without a retrain running:", json.dumps(figures, indent=2))
    assert len(busy_s) >= 8  # the replies kept coming while it trained
    assert figures["ratio_p50"] < 3.0, figures
    # after the swap, chats are answered by the promoted version
    user, chat = live.person("After")
    sent, _ = live.exchange(chat, user, "hello")
    assert live.stored_reply(chat.id, sent["message_id"])[1] == candidate


def test_rollback_while_users_keep_chatting(retrain_bot: RetrainBot) -> None:
    bot, live = retrain_bot, retrain_bot.live
    newer, older = bot.history()[-1], bot.history()[-2]
    assert bot.current() == newer
    people = [live.person(f"Roller{i}") for i in range(6)]
    replies: list[tuple[float, str, str]] = []
    with ThreadPoolExecutor(len(people) + 1) as pool:
        rolled = pool.submit(bot.admin_says, f"/rollback {TASK}")
        while not rolled.done():
            replies += chat_round(live, people, pool, "good morning")
        after = chat_round(live, people, pool, "good morning")
    assert rolled.result() == f"{TASK}: now serving {older}."
    assert bot.current() == older
    assert len(replies) >= len(people)
    for _, text, _ in replies + after:
        assert not any(failure in text for failure in FAILED_REPLIES), text
    assert {version for _, _, version in replies} <= {newer, older}
    assert {version for _, _, version in after} == {older}
    audit = live.process.rows("SELECT action, allowed, outcome FROM audit_log "
                              "WHERE action='rollback'")
    assert audit == [("rollback", 1, f"rolled back {TASK} to {older}")]


def test_a_version_with_corrupted_files_is_never_served(retrain_bot: RetrainBot) -> None:
    bot, live = retrain_bot, retrain_bot.live
    serving = bot.current()
    broken = "v99990101T000000-broken"
    target = bot.models / TASK / "versions" / broken
    shutil.copytree(bot.models / TASK / "versions" / serving, target)
    card = json.loads((target / "card.json").read_text())
    (target / "card.json").write_text(json.dumps({**card, "version": broken}))
    for weights in target.glob("weights*"):
        weights.write_bytes(b"\0garbage" * 100)
    answer = bot.admin_says(f"/promote {TASK} {broken}")
    assert answer.startswith(f"{TASK}: not switched (") and answer.endswith(
        f"{serving} keeps serving.")
    assert f"{serving} keeps serving" in bot.admin_inbox(f"Version {broken} of {TASK} failed")
    assert bot.current() == serving
    user, chat = live.person("Steady")
    sent, [reply] = live.exchange(chat, user, "hello")
    assert live.stored_reply(chat.id, sent["message_id"])[1] == serving
    assert not any(failure in reply["text"] for failure in FAILED_REPLIES)
    listing = bot.admin_says(f"/models {TASK}")
    assert f"* {serving}" in listing and f"  {broken}" in listing

    # the version a rollback would return to has corrupted files: refused as well
    newer = next(run[4] for run in bot.runs() if run[2] == "promoted")  # rolled back from
    assert bot.admin_says(f"/promote {TASK} {newer}") == f"{TASK}: now serving {newer}."
    for weights in (bot.models / TASK / "versions" / serving).glob("weights*"):
        weights.write_bytes(b"\0garbage" * 100)
    answer = bot.admin_says(f"/rollback {TASK}")
    assert answer.startswith(f"{TASK}: not switched (") and answer.endswith(
        f"{newer} keeps serving.")
    assert f"{newer} keeps serving" in bot.admin_inbox(f"Version {serving} of {TASK} failed")
    assert bot.current() == newer
    sent, _ = live.exchange(chat, user, "hello")
    assert live.stored_reply(chat.id, sent["message_id"])[1] == newer


@pytest.fixture
def reject_bot(botapi: Any, tiny_bot_models: Path, tmp_path: Path) -> Iterator[RetrainBot]:
    """A bot on an hourly schedule whose retrains make a far worse candidate (a learning rate
    of 5 wrecks the weights in one epoch)."""
    bot = start_retrain_bot(botapi, tiny_bot_models, tmp_path, "rnn_reject_bot", 9500,
                            retrain_schedule="1h", retrain_budget_minutes=3,
                            retrain_extra_args="--epochs 1 --set learning_rate=5.0",
                            retrain_tolerance=1)
    yield bot
    bot.live.process.stop()  # when the test failed half-way (else already stopped)


def test_worse_candidate_is_kept_and_a_missed_run_runs_once_after_restart(
        reject_bot: RetrainBot) -> None:
    bot = reject_bot
    live, serving = bot.live, bot.current()
    [(due,)] = live.process.rows("SELECT started_at FROM retrain_runs WHERE status='queued'")
    assert _utc(due) > datetime.now(UTC) + timedelta(minutes=55)  # armed, an hour ahead

    bot.admin_says(f"/retrain {TASK}")
    run = bot.wait_run(1)
    assert run[2] == "rejected" and run[3] == serving and run[4]
    sets = json.loads(run[6])["sets"]
    assert sets["dev"]["candidate"] < sets["dev"]["base"] - 1
    report = bot.admin_inbox(f"Retrain #{run[0]} of {TASK}: candidate")
    assert f"dev: bleu {sets['dev']['base']:.2f} (serving) vs " \
           f"{sets['dev']['candidate']:.2f} (candidate)" in report
    assert bot.current() == serving and (bot.models / TASK / "versions" / run[4]).is_dir()

    # the bot dies during a run: the trainer dies with it, the run is marked interrupted
    bot.admin_says(f"/retrain {TASK}")
    killed = bot.wait_run(2, done=False)
    pid = bot.trainer_pid(killed[0])
    live.process.stop(signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _alive(pid):
        assert time.monotonic() < deadline, f"trainer {pid} outlived the bot"
        time.sleep(0.1)
    assert bot.runs()[1][2] == "running"
    # the scheduled run fell due five hours ago (five slots missed while down)
    with sqlite3.connect(live.process.database) as db:
        db.execute("UPDATE retrain_runs SET started_at=? WHERE status='queued'",
                   ((datetime.now(UTC) - timedelta(hours=5)).replace(tzinfo=None),))
    live.process.start()
    live.process.wait_ready((TASK,))
    assert bot.wait_run(2)[2] == "interrupted"
    run = bot.wait_run(3)
    assert run[1] == "schedule" and run[2] == "rejected"
    time.sleep(5)  # nothing else is started for the missed slots
    assert [r[1] for r in bot.runs()] == ["admin", "admin", "schedule"]
    [(due,)] = live.process.rows("SELECT started_at FROM retrain_runs WHERE status='queued'")
    assert _utc(due) > datetime.now(UTC) + timedelta(minutes=55)
    assert bot.current() == serving

    # a graceful stop during a run: the trainer is stopped, the run recorded as interrupted
    bot.admin_says(f"/retrain {TASK}")
    last = bot.wait_run(4, done=False)
    pid = bot.trainer_pid(last[0])
    assert live.process.stop() == 0
    assert not _alive(pid)
    assert bot.runs()[3][2] == "interrupted"
    assert bot.current() == serving
    assert "Traceback" not in live.process.log()


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split()[2] == "Z")
