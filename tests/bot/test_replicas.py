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
    first = await make_harness(loader() if loader else None, **FAST, **overrides)
    second = await make_harness(loader() if loader else None, **FAST, **overrides)
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
    # Telegram's limit (30/s by default) is shared: 15/s each while both live
    await until(lambda: all(h.app.bot.rate_limiter._base_limiter.max_rate == 15  # type: ignore
                            for h in (a, b)))
    assert ra._lock_connection is not None and ra._task is not None
    ra._task.cancel()
    await ra._lock_connection.invalidate()  # what a SIGKILL does to its connection
    took = await until(lambda: rb.leader, timeout=5)
    assert took < 2.0
    await until(lambda: b.app.bot.rate_limiter._base_limiter.max_rate == 30)  # type: ignore


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


async def test_the_flood_limits_are_split_between_live_replicas() -> None:
    from telegram.ext import AIORateLimiter

    from bot.services.flood_share import FloodShare

    limiter = AIORateLimiter(overall_max_rate=30, overall_time_period=1, group_max_rate=20,
                             group_time_period=60)
    group = limiter._get_group_limiter(-100)
    share = FloodShare(limiter, 30, 20)
    share.apply(4)
    assert limiter._base_limiter is not None
    assert (limiter._base_limiter.max_rate, limiter._base_limiter._rate_per_sec) == (7.5, 7.5)
    assert group.max_rate == 5 and limiter._get_group_limiter(-200).max_rate == 5
    share.apply(1)
    assert limiter._base_limiter.max_rate == 30 and group.max_rate == 20
