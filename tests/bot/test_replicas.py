"""Two replicas (two applications) on one PostgreSQL database and one model directory: each
update answered once, a dead replica's accepted messages answered by the other, one retrain
leader with take-over, a promotion on one served by the other within seconds, /status lists
both. Fast heartbeats keep each test about a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from telegram import Update

from bot.handlers.incoming import incoming_message
from bot.services.flood_budget import SharedRateLimiter
from tests.bot.conftest import BotHarness, HarnessFactory
from tests.bot.fakes import Person
from tests.bot.test_durability import RegistryModels
from tests.bot.test_retrain import make_version

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

ANN = Person(7, "Ann")
ADMIN = Person(1, "Ada")
FAST = {"replicas": "on", "replica_heartbeat_s": 0.1, "replica_timeout_s": 2.0,
        "replica_pointer_s": 0.05, "admin_user_ids": [1]}


async def until(condition: Callable[[], Any], timeout: float = 5.0) -> float:
    """Seconds until ``condition()`` holds (awaited if it returns an awaitable)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


async def two(make_harness: HarnessFactory, loader: Callable[[], Any] | None = None,
              **overrides: Any) -> tuple[BotHarness, BotHarness]:
    settings = {**FAST, **overrides}
    first = await make_harness(loader() if loader else None, **settings)
    second = await make_harness(loader() if loader else None, **settings)
    second.api._next_message_id = 50_000  # one Telegram: the bot's messages have distinct ids
    second.chatter = first.chatter  # one Telegram: distinct update and message ids
    return first, second


def replies(harness: BotHarness) -> list[str]:
    return [str(p["text"]) for p in harness.api.of("sendMessage")]


@ON_POSTGRESQL
async def test_an_update_is_answered_once_and_a_dead_replicas_message_by_another(
        make_harness: HarnessFactory) -> None:
    a, b = await two(make_harness)
    update = a.chatter.message(ANN, "/ask hello there")
    assert len(await a.deliver(update)) == 1
    assert await b.deliver(update) == []  # Telegram sent it again (to the other replica)

    # a accepts a message (stored, owned by a), then dies before answering it
    accepted = a.chatter.message(ANN, "/ask are you there")
    parsed = Update.de_json(accepted, a.app.bot)
    message = incoming_message(parsed, "bot", a.app.bot.id)
    assert message is not None and await a.services.turns.begin(message) is not None
    assert await b.deliver(accepted) == []  # a is alive: it answers, b does not
    replicas = a.services.replicas
    assert replicas is not None and replicas._task is not None
    replicas._task.cancel()  # no more heartbeats: dead after REPLICA_TIMEOUT_S
    await until(lambda: not b.app.update_queue.empty(), timeout=5)
    before = len(replies(b))
    await b.drain_queue()
    assert len(replies(b)) == before + 1
    status = await b.rows("SELECT status, instance FROM messages WHERE message_id = :m",
                          m=accepted["message"]["message_id"])
    assert [(s, i) for s, i in status] == [("answered", b.services.turns.instance)]
    await asyncio.sleep(0.3)  # more sweeps: it is not queued again
    assert b.app.update_queue.empty()
    assert await b.deliver(accepted) == []  # nor answered again when Telegram re-sends it


@ON_POSTGRESQL
async def test_one_leader_and_another_takes_over_when_it_dies(
        make_harness: HarnessFactory) -> None:
    a, b = await two(make_harness)
    ra, rb = a.services.replicas, b.services.replicas
    assert ra is not None and rb is not None
    assert (ra.leader, rb.leader) == (True, False)
    status = (await a.send(ADMIN, "/status"))[0]
    assert "Replicas (2):" in status and status.count("(leader)") == 1
    assert ra.instance[:8] in status and rb.instance[:8] in status
    # Telegram's limits are one budget in the database (tested below)
    assert all(isinstance(h.app.bot.rate_limiter, SharedRateLimiter)
               and h.app.bot.rate_limiter.budget is not None for h in (a, b))
    assert ra._lock_connection is not None and ra._task is not None
    ra._task.cancel()
    await ra._lock_connection.invalidate()  # what a SIGKILL does to its connection
    took = await until(lambda: rb.leader, timeout=5)
    assert took < 2.0


@ON_POSTGRESQL
async def test_a_new_leader_takes_the_schedule_and_ends_the_dead_leaders_run(
        make_harness: HarnessFactory) -> None:
    a, b = await two(make_harness, retrain_schedule="1d", retrain_tasks="qa")
    ra, rb = a.services.replicas, b.services.replicas
    assert ra is not None and rb is not None and ra.leader and not rb.leader
    assert a.app.job_queue is not None and b.app.job_queue is not None
    assert [j.name for j in a.app.job_queue.jobs()] == ["retrain:qa"]
    assert not [j.name for j in b.app.job_queue.jobs() if j.name == "retrain:qa"]
    [[due]] = await a.rows("SELECT started_at FROM retrain_runs WHERE status = 'queued'")
    async with a.services.db.unit_of_work() as uow:  # the leader is in the middle of a run
        await uow.session.execute(sa.text(
            "INSERT INTO retrain_runs (task, trigger, status, base_version, started_at) "
            "VALUES ('qa', 'schedule', 'running', 'qa-v1', now())"))
    assert ra._task is not None and ra._lock_connection is not None
    ra._task.cancel()
    await ra._lock_connection.invalidate()  # SIGKILL
    queue = b.app.job_queue
    await until(lambda: [j for j in queue.jobs() if j.name == "retrain:qa"], timeout=5)
    assert rb.leader
    [job] = [j for j in queue.jobs() if j.name == "retrain:qa"]
    run_date = job.job.trigger.run_date  # (the harness does not start the scheduler)
    assert abs((run_date - due.replace(tzinfo=UTC)).total_seconds()) < 1  # the same due time
    runs = await b.rows("SELECT status, error FROM retrain_runs ORDER BY id")
    assert [r[0] for r in runs] == ["queued", "interrupted"]  # never half-promoted


@ON_POSTGRESQL
async def test_a_promotion_on_one_replica_is_served_by_the_other_within_seconds(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2", "v3"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    (models / "chat" / "history.json").write_text('["v1"]')
    a, b = await two(make_harness, lambda: RegistryModels(models, {"v3"}), model_dir=models,
                     preload_tasks=["chat"])
    for h in (a, b):
        await until(lambda h=h: h.services.inference.versions().get("chat") == "v1")
    await a.services.versions.promote("chat", "v2")
    took = await until(lambda: b.services.inference.versions().get("chat") == "v2", timeout=5)
    assert took < 5.0
    # a version the other replica cannot load: it keeps serving v2 and says so
    (models / "chat" / "current").write_text("v3\n")
    rb = b.services.replicas
    assert rb is not None
    await until(lambda: rb.failed.get("chat") == "v3", timeout=5)
    assert b.services.inference.versions()["chat"] == "v2"
    await rb.beat()
    status = (await b.send(ADMIN, "/status"))[0]
    assert "cannot load chat v3" in status


@ON_POSTGRESQL
async def test_two_messages_of_one_chat_at_two_replicas_are_answered_in_order(
        make_harness: HarnessFactory) -> None:
    a, b = await two(make_harness)
    first = a.chatter.message(ANN, "/ask first question")
    second = a.chatter.message(ANN, "/ask second question")
    message = incoming_message(Update.de_json(first, a.app.bot), "bot", a.app.bot.id)
    assert message is not None
    turn = await a.services.turns.begin(message)  # a is answering the first one
    assert turn is not None
    answering = asyncio.create_task(b.deliver(second))
    await asyncio.sleep(0.3)
    assert not answering.done() and replies(b) == []  # b waits for the first answer
    await a.services.turns.finish(turn, [])
    assert len(await asyncio.wait_for(answering, 5)) == 1


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_two_limiters_sharing_one_database_never_exceed_the_budget_together(
        database_url: str) -> None:
    from bot.services.flood_budget import SharedBudget
    from bot.storage.db import Database

    now = [1000.0]
    dbs = [Database(database_url), Database(database_url)]
    try:
        if database_url.startswith("sqlite"):
            await dbs[0].migrate()
        budgets = [SharedBudget(db, 10, 4, overall_block=3, group_block=2,
                                clock=lambda: now[0]) for db in dbs]
        sent: list[tuple[int, float]] = []

        errors: list[BaseException] = []

        async def send(replica: int, group: int | bool) -> None:
            try:
                await budgets[replica].acquire(group)
            except BaseException as exc:
                errors.append(exc)
                raise
            sent.append((replica, now[0]))

        # 2 replicas x 8 private messages in one second: at most 10 go (the budget; a token
        # leased by one replica and not spent is lost, at most block - 1 = 2), the others wait
        waiting = [asyncio.create_task(send(r, False)) for r in (0, 1) for _ in range(8)]
        await until(lambda: len(sent) >= 8 or errors, timeout=5)
        await asyncio.sleep(0.3)
        assert errors == [] and 8 <= len(sent) <= 10
        first = len(sent)
        now[0] += 1.0  # the next second: the others go
        await asyncio.wait_for(asyncio.gather(*waiting), 5)
        assert len(sent) == 16 and {r for r, _ in sent} == {0, 1}
        assert sum(1 for _, t in sent if t < 1001.0) == first
        leases = budgets[0].overall.leases + budgets[1].overall.leases
        assert leases < 12  # a lease per block of tokens, not a round trip per message
        # one group: 4 a minute in all, whichever replica sends
        now[0] = 2000.0 * 60
        sent.clear()
        group = [asyncio.create_task(send(r, -100)) for r in (0, 1) for _ in range(3)]
        await until(lambda: len(sent) >= 3 or errors)
        await asyncio.sleep(0.3)
        assert errors == [] and 3 <= len(sent) <= 4
        now[0] += 60.0
        await asyncio.wait_for(asyncio.gather(*group), 5)
        assert len(sent) == 6
    finally:
        for db in dbs:
            await db.close()


class SlowRegistryModels(RegistryModels):
    """Each load takes ``delay_s`` and records when it started."""

    def __init__(self, models: Path, delay_s: float) -> None:
        super().__init__(models, set())
        self.delay_s = delay_s
        self.started: dict[str, float] = {}

    def __call__(self, task: str, version: str | None) -> Any:
        self.started.setdefault(version or "current", time.monotonic())
        time.sleep(self.delay_s)
        return super().__call__(task, version)


@ON_POSTGRESQL
async def test_a_promotion_is_notified_and_the_others_load_while_the_promoter_loads(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    (models / "chat" / "history.json").write_text('["v1"]')
    loaders = [SlowRegistryModels(models, 0.6), SlowRegistryModels(models, 0.6)]
    made = iter(loaders)
    # the pointer is read only every 60 s: the notification is what reaches b
    a, b = await two(make_harness, lambda: next(made), model_dir=models,
                     preload_tasks=["chat"], replica_pointer_s=60.0)
    for h in (a, b):
        await until(lambda h=h: h.services.inference.versions().get("chat") == "v1")
    await a.services.versions.promote("chat", "v2")
    promoted = time.monotonic()
    # b began loading v2 when a did (staging), not after a had loaded it and moved the pointer
    assert loaders[1].started["v2"] < promoted - 0.3
    await until(lambda: b.services.inference.versions().get("chat") == "v2", timeout=5)
    # a rollback is notified too (b has v1 in no cache: it loads it again)
    await a.services.versions.rollback("chat")
    await until(lambda: b.services.inference.versions().get("chat") == "v1", timeout=5)


@ON_POSTGRESQL
async def test_an_admins_retrain_at_a_replica_that_does_not_lead_runs_on_the_leader(
        make_harness: HarnessFactory) -> None:
    a, b = await two(make_harness)
    ra, rb = a.services.replicas, b.services.replicas
    assert ra is not None and rb is not None and ra.leader and not rb.leader
    started: list[tuple[list[str], str, int | None, Any]] = []

    def start(tasks: list[str], trigger: str, requested_by: int | None = None,
              progress: Any = None) -> asyncio.Task[list[Any]]:
        started.append((list(tasks), trigger, requested_by, progress))

        async def run() -> list[Any]:
            return []
        return asyncio.ensure_future(run())

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a replica that does not lead started a retrain")

    a.services.retrain.start = start  # type: ignore[method-assign]
    b.services.retrain.start = refuse  # type: ignore[method-assign]
    [ack] = await b.send(ADMIN, "/retrain qa")
    assert "requested" in ack  # at once, from the replica nginx gave it to
    await until(lambda: started, timeout=5)
    [(tasks, trigger, requested_by, progress)] = started
    assert (tasks, trigger, requested_by) == (["qa"], "admin", ADMIN.id)
    [[status, taken_by, message_id]] = await a.rows(
        "SELECT status, taken_by, message_id FROM retrain_requests")
    assert (status, taken_by) == ("taken", ra.instance)
    [posted] = [p for p in b.api.of("sendMessage") if "requested" in str(p["text"])]
    assert progress.chat_id == posted["chat_id"] and progress.message_id == message_id
    await progress.show("Retraining qa: 50%")  # the leader edits the admin's acknowledgement
    edit = a.api.of("editMessageText")[-1]
    assert edit["message_id"] == message_id and edit["text"] == "Retraining qa: 50%"
    await asyncio.sleep(0.3)  # taken once: more heartbeats start nothing more
    assert len(started) == 1


async def test_a_version_staged_for_another_replica_gives_way_to_a_promotion_here(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    """The promoting replica died after ``staging``: an admin promoting the same version here
    does not wait for the pointer the staged load waits for (it would be the one to write
    it)."""
    from bot.services.versions import SwitchFailed

    models = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    (models / "chat" / "history.json").write_text('["v1"]')
    harness = await make_harness(RegistryModels(models, set()), model_dir=models,
                                 preload_tasks=["chat"])
    versions = harness.services.versions
    await until(lambda: harness.services.inference.versions().get("chat") == "v1")
    staged = asyncio.create_task(versions.stage("chat", "v2", asyncio.Event()))
    await asyncio.sleep(0.2)  # loaded, waiting for the pointer to name v2
    assert not staged.done()
    await asyncio.wait_for(versions.promote("chat", "v2"), 5)
    assert harness.services.inference.versions()["chat"] == "v2"
    with pytest.raises(SwitchFailed):
        await staged
