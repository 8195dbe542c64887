"""Retraining pieces without TensorFlow: the schedule, the children's JSON-line events and
their runner, progress, the gate's judgement,
training snapshots (forgotten users excluded) on a real database, the persisted schedule, and
hot swaps on a real registry with fake models (a version that fails to load is never served).
The real trainer and gate run in tests/e2e/test_bot_retrain.py."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.services.child_events import (
    EpochDone,
    ErrorReported,
    Evaluated,
    GateScores,
    Started,
    StepDone,
    TrainingProgress,
    VersionCreated,
    parse_event,
)
from bot.services.child_process import ChildRunner, ChildTimeout
from bot.services.inference import InferenceService
from bot.services.notices import AdminNotices
from bot.services.retrain import RetrainService
from bot.services.retrain_outcome import judge
from bot.services.schedule import parse_schedule
from bot.services.snapshot import CorpusInfo, take_snapshot
from bot.services.versions import ModelVersions, SwitchFailed
from bot.storage import Database
from bot.storage.models import (
    Chat,
    Correction,
    Feedback,
    ForgottenUser,
    Message,
    RetrainRun,
    TaughtPair,
    User,
)
from bot.storage.training import RetrainRunRepository
from model.events import JsonLines
from tests.bot.conftest import make_settings
from tests.bot.fakes import FakeModel, FakeModels


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await database.migrate()
    yield database
    await database.close()


# -- schedule --------------------------------------------------------------------------------
def test_intervals_and_cron_expressions() -> None:
    moment = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
    assert parse_schedule("") is None
    for text, delta in (("6h", 6 * 3600), ("30m", 1800), ("every 1d", 86400), ("90", 90),
                        ("90s", 90)):
        schedule = parse_schedule(text)
        assert schedule is not None
        assert schedule.next_after(moment) == moment + timedelta(seconds=delta)
    nightly = parse_schedule("0 3 * * *")
    assert nightly is not None
    assert nightly.next_after(moment) == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    at_three = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # strictly after: the next night
    assert nightly.next_after(at_three) == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither an interval"):
        parse_schedule("sometimes")


def test_settings_refuse_a_bad_schedule_or_task(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="neither an interval"):
        make_settings(tmp_path, retrain_schedule="61 * * * *")
    with pytest.raises(ValidationError, match="unknown task"):
        make_settings(tmp_path, retrain_tasks="chat,poetry")
    settings = make_settings(tmp_path, retrain_schedule=" 0 3 * * 1 ", retrain_tasks="qa, chat")
    assert settings.retrain_schedule == "0 3 * * 1" and settings.retrain_tasks == ["qa", "chat"]


# -- the children's events, their runner, and the gate -------------------------------------
def epoch_line(epoch: int, epochs: int, elapsed_s: float, eta_s: float | None) -> str:
    return json.dumps({"event": "epoch", "task": "chat", "epoch": epoch, "epochs": epochs,
                       "step": epoch * 20, "metrics": {"loss": 0.5, "val_loss": 0.0121},
                       "elapsed_s": elapsed_s, "eta_s": eta_s})


def progress_of(line: str) -> tuple[float, float | None] | None:
    """What a line of the trainer's output tells of its progress (once epochs are reported)."""
    event = parse_event(line)
    return TrainingProgress(600).of_event(event) if isinstance(event, EpochDone) else None


def test_progress_is_read_from_the_trainer_events() -> None:
    assert progress_of(epoch_line(2, 10, 60.0, None)) == (0.2, None)  # no ETA: by epochs
    # a partial progress bar left on the shared output before the event is skipped
    assert progress_of("\x1b[1m22/23\x1b[0m - loss: 0.01" + epoch_line(2, 10, 90.0, 270.0)) \
        == (0.25, 270.0)  # the ETA already counts the time budget
    assert progress_of(epoch_line(10, 10, 120.0, 0.0)) == (1.0, 0.0)
    assert progress_of("chat: trained version v1 (kept as a candidate)") is None
    assert progress_of("Epoch 3/10") is None  # Keras's own text is never read


def test_before_the_first_epoch_progress_is_time_against_the_budget() -> None:
    now = [100.0]
    progress = TrainingProgress(600, clock=lambda: now[0])
    now[0] += 150
    assert progress.of_event(StepDone("chat", 40, 0.7, 150.0)) == (0.25, 450.0)
    now[0] += 1000  # past the budget: never shown as done before the trainer says so
    assert progress.by_time() == (0.99, 0.0)
    assert progress.of_event(EpochDone("chat", 1, 4, 80, {}, 1150.0, 0.0)) == (1.0, 0.0)
    assert progress.by_time() is None and progress.of_event(StepDone("chat", 81, None, 1.0)) \
        is None  # the epochs tell from now on
    assert progress.of_event(VersionCreated("chat", "v2", "/m/v2", False)) is None


def test_events_written_by_the_model_side_are_read_typed() -> None:
    out = io.StringIO()
    emit = JsonLines(out)
    emit("start", task="chat", epochs=None, budget_s=180.0)
    emit("step", task="chat", step=40, loss=float("nan"), elapsed_s=2.1)
    emit("epoch", task="chat", epoch=1, epochs=6, step=47,
         metrics={"loss": 1.5, "val_loss": float("inf")}, elapsed_s=9.0, eta_s=45.0)
    emit("evaluated", task="chat", metrics={"dev": {"bleu": 12.5, "n": 40}, "test": {}})
    emit("version", task="chat", version="v2", path="/models/chat/versions/v2", promoted=False)
    emit("scores", task="chat", primary="bleu",
         versions={"v1": {"dev": {"bleu": 10.0, "primary": 10.0, "n": 40}}})
    emit("error", kind="FileNotFoundError", message="no train/dev data in /x")
    events = [parse_event(line) for line in out.getvalue().splitlines()]
    assert events == [
        Started("chat", None, 180.0),
        StepDone("chat", 40, None, 2.1),  # a NaN loss arrives as null
        EpochDone("chat", 1, 6, 47, {"loss": 1.5, "val_loss": None}, 9.0, 45.0),
        Evaluated("chat", {"dev": {"bleu": 12.5, "n": 40}, "test": {}}),
        VersionCreated("chat", "v2", "/models/chat/versions/v2", False),
        GateScores("chat", "bleu", {"v1": {"dev": {"bleu": 10.0, "primary": 10.0, "n": 40}}}),
        ErrorReported("FileNotFoundError", "no train/dev data in /x"),
    ]


@pytest.mark.parametrize("line", [
    "", "plain text", "{}", "[1, 2]", '{"event": "epoch"', '{"event": "telemetry", "x": 1}',
    '{"event": "version", "task": "chat"}',  # a field missing
    '{"event": "version", "task": "chat", "version": 2, "path": "p", "promoted": false}',
    '{"event": "step", "task": "chat", "step": true, "loss": 1, "elapsed_s": 1}',
    "W0000 00:00:1.0 cpu_feature_guard.cc:210] This TensorFlow binary is optimized {",
])
def test_lines_that_hold_no_event_are_skipped(line: str) -> None:
    assert parse_event(line) is None


FAKE_CHILD = """\
import json, sys, time
print("some library warning", file=sys.stderr, flush=True)
print(json.dumps({"event": "start", "task": "chat", "epochs": 2, "budget_s": None}), flush=True)
print("epoch progress\\r12/40 [====>....]", flush=True)
mode = sys.argv[1]
if mode == "hang":
    time.sleep(60)
if mode == "fail":
    print(json.dumps({"event": "error", "kind": "ValueError", "message": "bad data"}), flush=True)
    print("Traceback (most recent call last): ...", file=sys.stderr, flush=True)
    sys.exit(1)
print(json.dumps({"event": "version", "task": "chat", "version": "v7", "path": "p",
                  "promoted": False}), flush=True)
print("done", flush=True)
"""


@pytest.fixture
def fake_child(tmp_path: Path) -> Path:
    (tmp_path / "fake_child.py").write_text(FAKE_CHILD)
    return tmp_path


async def test_the_runner_passes_events_and_keeps_other_lines_as_the_tail(
        fake_child: Path) -> None:
    runner = ChildRunner(fake_child, {"PYTHONPATH": str(fake_child)}, nice=0, idle=False)
    seen: list[object] = []
    pids: list[int] = []

    async def on_event(event: object) -> None:
        seen.append(event)

    ended = await runner.run("test", "fake_child", ["ok"], on_event, 60, pids.append)
    assert ended.code == 0 and ended.error is None and len(pids) == 1
    assert seen == [Started("chat", 2, None), VersionCreated("chat", "v7", "p", False)]
    assert ended.tail == ["some library warning", "epoch progress", "12/40 [====>....]", "done"]

    failed = await runner.run("test", "fake_child", ["fail"], on_event, 60)
    assert failed.code == 1 and failed.error == ErrorReported("ValueError", "bad data")
    assert failed.reason("training") == \
        "training process exited with status 1: ValueError: bad data"

    with pytest.raises(ChildTimeout, match="did not finish within"):
        await runner.run("test", "fake_child", ["hang"], on_event, 1.5)


def test_the_gate_allows_a_loss_within_the_tolerance_only() -> None:
    result = GateScores("chat", "bleu", {
        "old": {"dev": {"primary": 40.0, "n": 100}, "taught": {"primary": 50.0, "n": 10}},
        "new": {"dev": {"primary": 39.5, "n": 100}, "taught": {"primary": 90.0, "n": 10}},
    })
    passed, table = judge(result, "old", "new", tolerance=1.0)
    assert passed and table["dev"] == {"base": 40.0, "candidate": 39.5, "n": 100}
    assert not judge(result, "old", "new", tolerance=0.4)[0]
    result.versions["new"]["taught"]["primary"] = 48.0  # worse on what admins taught
    assert not judge(result, "old", "new", tolerance=1.0)[0]


# -- snapshots -------------------------------------------------------------------------------
async def seed_learning(db: Database) -> None:
    """Alice (kept) and Mallory (forgotten) each taught, corrected, asked and rated."""
    async with db.unit_of_work() as uow:
        session = uow.session
        session.add_all([User(id=1, first_name="Alice"), User(id=2, first_name="Mallory"),
                         User(id=3, first_name="Admin"),
                         Chat(id=1, type="private"), Chat(id=2, type="private")])
        await session.flush()
        rows = [  # (id, chat, user, direction, text, reply to)
            (10, 1, 1, "in", "what is rust", None), (11, 1, None, "out", "a language", 10),
            (20, 2, 2, "in", "what is go", None), (21, 2, None, "out", "a game", 20),
            (30, 1, 1, "in", "hello", None), (31, 1, None, "out", "hi there", 30),
            (40, 1, 1, "in", "/ask@rnn_bot what is sql", None), (41, 1, None, "out", "a query "
                                                                    "language", 40),
        ]
        for row_id, chat, user, direction, text, reply_to in rows:
            session.add(Message(id=row_id, chat_id=chat, message_id=row_id, user_id=user,
                                direction=direction, text=text, status="sent", task="qa",
                                in_reply_to_id=reply_to))
        await session.flush()
        session.add_all([
            Feedback(message_id=11, user_id=1, rating=1),  # Alice likes an answer to her
            Feedback(message_id=21, user_id=2, rating=1),  # Mallory's like: excluded
            Feedback(message_id=31, user_id=2, rating=1),  # liked by Mallory: excluded
            Feedback(message_id=31, user_id=3, rating=-1),  # a 👎 never counts
            Feedback(message_id=41, user_id=1, rating=1),  # a command's argument was asked
            Correction(id=1, message_id=21, user_id=2, text="a programming language",
                       status="approved"),
        ])
        await session.flush()
        session.add_all([
            TaughtPair(task="qa", source="what is tcp", target="a network protocol",
                       origin="teach", author_id=3),
            TaughtPair(task="qa", source="what is go", target="a programming language",
                       origin="correction", author_id=3, correction_id=1),  # Mallory's words
            TaughtPair(task="qa", source="what is udp", target="another\tprotocol",
                       origin="teach", author_id=2),  # authored by Mallory
            TaughtPair(task="qa", source="old", target="gone", origin="teach", active=False),
            TaughtPair(task="chat", source="other task", target="not here", origin="teach"),
            ForgottenUser(user_id=2),
        ])


async def test_snapshot_adds_what_was_learned_without_forgotten_users(
        db: Database, tmp_path: Path) -> None:
    await seed_learning(db)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.tsv").write_text("q1\ta1\n", encoding="utf-8")
    (corpus / "dev.tsv").write_text("dq\tda\n", encoding="utf-8")
    snap = await take_snapshot(db, "qa", CorpusInfo("qa", corpus, False), tmp_path / "snap")
    train = (snap.directory / "train.tsv").read_text(encoding="utf-8")
    assert train == ("q1\ta1\nwhat is tcp\ta network protocol\nwhat is rust\ta language\n"
                     "what is sql\ta query language\n")
    assert snap.taught_file is not None
    assert snap.taught_file.read_text(encoding="utf-8") == "what is tcp\ta network protocol\n"
    assert (snap.directory / "dev.tsv").read_text(encoding="utf-8") == "dq\tda\n"
    assert (snap.taught, snap.liked, snap.dev_file) == (1, 2, None)  # qa: its own dev set
    assert "Mallory" not in train and "go" not in train and "udp" not in train


async def test_snapshot_of_a_reversed_task_writes_pairs_in_the_corpus_direction(
        db: Database, tmp_path: Path) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add_all([
            TaughtPair(task="translate-zh-en", source="你好", target="hello", origin="teach"),
            User(id=1, first_name="Alice"), Chat(id=1, type="private")])
        await uow.session.flush()
        uow.session.add_all([  # a liked translation: its input was not the stored message
            Message(id=1, chat_id=1, message_id=1, user_id=1, direction="in", status="sent",
                    text="把这句话翻译成英文：早上好"),
            Message(id=2, chat_id=1, message_id=2, direction="out", status="sent",
                    task="translate-zh-en", text="good morning", in_reply_to_id=1)])
        await uow.session.flush()
        uow.session.add(Feedback(message_id=2, user_id=1, rating=1))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.tsv").write_text("good\t好\n", encoding="utf-8")
    (corpus / "dev.tsv").write_text("one\t一\n", encoding="utf-8")
    snap = await take_snapshot(db, "translate-zh-en",
                               CorpusInfo("translate", corpus, True), tmp_path / "snap")
    assert (snap.directory / "train.tsv").read_text(encoding="utf-8") == "good\t好\nhello\t你好\n"
    assert snap.dev_file is not None  # the gate reads the task's direction
    assert snap.dev_file.read_text(encoding="utf-8") == "一\tone\n"
    assert snap.taught_file is not None
    assert snap.taught_file.read_text(encoding="utf-8") == "你好\thello\n"
    assert snap.liked == 0


# -- the persisted schedule ------------------------------------------------------------------
def retrain_service(tmp_path: Path, db: Database, **settings: object) -> RetrainService:
    values = make_settings(tmp_path, bot_data_dir=tmp_path / "data", **settings)
    versions = ModelVersions(InferenceService(FakeModels()), tmp_path / "models")
    return RetrainService(values, db, versions)


async def test_the_due_run_is_kept_in_the_database_across_restarts(
        db: Database, tmp_path: Path) -> None:
    first = retrain_service(tmp_path, db, retrain_schedule="6h", retrain_tasks="qa,chat")
    armed = dict(await first.arm_schedule())
    assert set(armed) == {"qa", "chat"}
    assert armed["qa"] - datetime.now(UTC) > timedelta(hours=5, minutes=59)
    again = retrain_service(tmp_path, db, retrain_schedule="6h", retrain_tasks="qa,chat")
    assert dict(await again.arm_schedule()) == armed  # a restart keeps the due times
    changed = retrain_service(tmp_path, db, retrain_schedule="1h", retrain_tasks="qa")
    [(task, due)] = await changed.arm_schedule()
    assert task == "qa" and due < armed["qa"]
    off = retrain_service(tmp_path, db, retrain_schedule="", retrain_tasks="qa")
    assert await off.arm_schedule() == []
    async with db.unit_of_work(write=False) as uow:
        runs = RetrainRunRepository(uow.session)
        assert await runs.queued("qa") is None
        assert (await runs.queued("chat")) is not None  # not in RETRAIN_TASKS now: untouched


async def test_runs_left_running_by_a_dead_bot_are_marked_interrupted(
        db: Database, tmp_path: Path) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add_all([RetrainRun(task="qa", trigger="admin", status="running"),
                             RetrainRun(task="qa", trigger="admin", status="promoted")])
    service = retrain_service(tmp_path, db)
    (service.workdir / "run-1").mkdir(parents=True)  # a dead run's snapshot (user data)
    [interrupted] = await service.recover()
    assert interrupted.id == 1
    assert [(r.status, r.error) for r in await service.history("qa")] == [
        ("promoted", None), ("interrupted", "interrupted: the bot stopped during the run")]
    assert not service.workdir.exists()


# -- hot swap on a real registry ---------------------------------------------------------------
def make_version(models: Path, task: str, version: str) -> None:
    directory = models / task / "versions" / version
    directory.mkdir(parents=True)
    card = {"version": version, "created_at": version, "metrics": {"dev": {"bleu": 1.5, "n": 3}}}
    (directory / "card.json").write_text(json.dumps(card))


class VersionedModels(FakeModels):
    """Loads ``chat`` at any version; the ones in ``broken`` fail to load."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: set[str] = set()

    def __call__(self, task: str, version: str | None) -> FakeModel:
        model = FakeModel(task, version=version or "v1")
        model.broken = model.version in self.broken
        return model


async def test_promote_and_rollback_switch_the_serving_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2", "v3"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    (models / "chat" / "history.json").write_text('["v1"]')
    loader = VersionedModels()
    inference = InferenceService(loader)
    told: list[str] = []

    async def announce(text: str) -> None:
        told.append(text)

    versions = ModelVersions(inference, models, notices=AdminNotices("en", announce))
    assert (await inference.predict("chat", "a")).version == "v1"
    assert await versions.promote("chat", "v2") == "v2"
    assert (await inference.predict("chat", "a")).version == "v2"
    assert (models / "chat" / "current").read_text().strip() == "v2"
    assert [(v.version, v.is_current, v.serving, v.metrics) for v in versions.versions("chat")] \
        == [("v1", False, False, {"bleu": 1.5}), ("v2", True, True, {"bleu": 1.5}),
            ("v3", False, False, {"bleu": 1.5})]

    loader.broken.add("v3")  # corrupted files: refused, v2 keeps serving, admins told
    with pytest.raises(SwitchFailed, match="weights are corrupt"):
        await versions.promote("chat", "v3")
    assert (await inference.predict("chat", "a")).version == "v2"
    assert (models / "chat" / "current").read_text().strip() == "v2"
    assert told and "v3 of chat failed to load" in told[0] and "v2 keeps serving" in told[0]
    with pytest.raises(SwitchFailed, match="no complete version"):
        await versions.promote("chat", "v9")

    assert await versions.rollback("chat") == "v1"
    assert (await inference.predict("chat", "a")).version == "v1"
    with pytest.raises(SwitchFailed, match="no earlier version"):
        await versions.rollback("chat")
    await inference.close()


async def test_a_rollback_to_a_version_that_fails_to_load_changes_nothing(
        tmp_path: Path) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    (models / "chat" / "history.json").write_text('["v1"]')
    loader = VersionedModels()
    inference = InferenceService(loader)
    versions = ModelVersions(inference, models)
    await versions.promote("chat", "v2")
    loader.broken.add("v1")
    with pytest.raises(SwitchFailed):
        await versions.rollback("chat")
    assert (await inference.predict("chat", "a")).version == "v2"
    assert (models / "chat" / "current").read_text().strip() == "v2"
    assert json.loads((models / "chat" / "history.json").read_text()) == ["v1", "v2"]
    await inference.close()


class OverlayModel(FakeModel):
    """A qa-like model with run-time pairs kept in ``user_dir`` (like QAPredictor's overlay)."""

    def __init__(self, version: str, user_dir: Path) -> None:
        super().__init__("qa", version=version)
        self.user_dir = user_dir
        self.pairs: list[str] = []
        self.apply_overlay(user_dir)

    def apply_overlay(self, user_dir: Path | None) -> None:
        path = user_dir / "pairs.txt" if user_dir else None
        self.pairs = path.read_text().split() if path and path.is_file() else []

    def add_pair(self, question: str, answer: str) -> None:
        self.pairs.append(question)
        (self.user_dir / "pairs.txt").write_text("".join(f"{p}\n" for p in self.pairs))

    def add_missing(self, pairs: Sequence[tuple[str, str]]) -> int:
        missing = [q for q, _ in pairs if q not in self.pairs]
        for question in missing:
            self.add_pair(question, "")
        return len(missing)

    def remove_pair(self, question: str, answer: str | None = None) -> int:
        kept = [p for p in self.pairs if p != question]
        removed, self.pairs = len(self.pairs) - len(kept), kept
        (self.user_dir / "pairs.txt").write_text("".join(f"{p}\n" for p in self.pairs))
        return removed

    def forget(self, fingerprints: Sequence[str]) -> int:
        return 0  # its pairs have no answers: no fingerprint names one


async def test_pairs_taught_while_a_new_qa_version_loads_survive_the_swap(
        tmp_path: Path) -> None:
    overlay = tmp_path / "qa-overlay"
    overlay.mkdir()
    (overlay / "pairs.txt").write_text("taught-before\n")
    loading = threading.Event()
    release = threading.Event()

    def loader(task: str, version: str | None) -> FakeModel:
        model = OverlayModel(version or "v1", overlay)  # reads the overlay as it loads
        if version == "v2":
            loading.set()
            release.wait(10)  # a slow load; meanwhile an admin teaches a pair
        return model

    inference = InferenceService(loader)
    assert (await inference.predict("qa", "q")).version == "v1"
    swap = asyncio.create_task(inference.reload("qa", "v2"))
    await asyncio.to_thread(loading.wait, 10)
    (overlay / "pairs.txt").write_text("taught-before\ntaught-during-load\n")  # old model saved
    release.set()
    assert await swap == "v2"
    served = await inference.apply("qa", lambda model: model)
    assert isinstance(served, OverlayModel) and served.version == "v2"
    assert served.pairs == ["taught-before", "taught-during-load"]
    await inference.close()
