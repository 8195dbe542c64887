"""This process as one of several replicas sharing the database and the model directory.

On PostgreSQL several bot processes (webhook replicas behind nginx, see the README's deployment
section) share one database and one ``MODEL_DIR``. Each runs this service; nothing here is
home-made clustering, only the database and the registry's pointer files:

* **Heartbeat** (every ``REPLICA_HEARTBEAT_S``): the ``replicas`` row of this process
  (``Turns.instance``) with the versions it serves, versions it failed to load, its load and
  whether it leads. A replica whose row is older than ``REPLICA_TIMEOUT_S`` is dead.
* **Take-over**: a message stays ``received`` with the instance that accepted it. A delivery of
  it to another replica is taken over only when that instance is dead (``Turns`` asks
  ``owner_alive``), and every replica sweeps for messages of dead instances and answers them
  (``claim`` lets one replica win). Telegram's re-sends and the sweep are both answered once.
* **Per-chat order**: before a replica answers a message it waits (polling every 20 ms, at
  most ``order_wait_s``) until no earlier message of the same chat (a lower Telegram message
  id, stored less than ``order_wait_s`` ago) is still being answered by a live replica. This
  is a lock in the database rather than routing by chat in nginx: Telegram posts every
  update to one URL and nginx cannot route on the JSON body without a scripting module, and
  a lock keyed by what is stored also orders the messages that the sweep takes over. It
  holds no connection while it waits.
* **Leader**: exactly one replica runs the retrain schedule (and marks a dead leader's run
  interrupted): the holder of a PostgreSQL session advisory lock on a connection it keeps.
  When the leader dies its connection closes, the lock is free, and the next replica to try
  (every heartbeat) takes over the schedule from the ``queued`` rows in the database.
* **Models follow the pointer**: a version promoted or rolled back by another process moved the
  registry's ``current`` pointer; this replica loads it beside the serving one and swaps
  (requests in flight finish on the old one). On PostgreSQL the promoting process says so
  with ``NOTIFY`` (channel ``rnnbot_models``) twice: when it starts loading the version
  (``staging``: every replica starts loading it at once, and swaps only when the pointer
  names it) and when it moved the pointer (``moved``). The pointer is also read every
  ``REPLICA_POINTER_S``: the fallback for a lost notification, and the only path on SQLite.
  Only the task whose pointer moved is loaded. A version it cannot load is not retried until
  the pointer moves again; it keeps serving its version and reports the failure in its row
  (``/status``).
* **Telegram's limits**: one budget in the database that the replicas lease small blocks of
  (``bot/services/flood_budget.py``).
* **Answer banks**: when the taught pairs or forgotten pairs in the database change, the
  serving qa bank is brought up to date (``Learning.sync_bank``, ``Privacy.apply``).

With SQLite (one process) the service is off by default (``REPLICAS=auto``): that process is
always the leader, and models and banks change only through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.storage.db import Database
from bot.storage.models import ForgottenPair, TaughtPair, utcnow
from bot.storage.records import StoredMessage
from bot.storage.replicas import (
    ReplicaRecord,
    ReplicaRepository,
    RetrainRequestRepository,
    RetrainRequestRow,
    earlier_unanswered,
    stale_before,
)

log = logging.getLogger(__name__)

LEADER_LOCK = 0x626F7432  # the advisory lock key of the retrain schedule's leader
MODELS_CHANNEL = "rnnbot_models"  # NOTIFY: a version is being promoted / the pointer moved
RETRAIN_CHANNEL = "rnnbot_retrain"  # NOTIFY: an admin asked for a retrain (the leader runs it)
REQUEST_TTL_S = 3600.0  # an admin's retrain request no leader took within this expires


@dataclass(frozen=True)
class ReplicaLoad:
    in_flight: int  # updates accepted and not yet handled
    handled: int  # updates handled since the process started


class Replicas:
    def __init__(self, db: Database, instance: str, *,
                 served: Callable[[], dict[str, str]],
                 current: Callable[[str], str | None],
                 follow: Callable[[str, str], Awaitable[None]],
                 sync_banks: Callable[[], Awaitable[None]],
                 load: Callable[[], ReplicaLoad],
                 requeue: Callable[[StoredMessage], None],
                 on_leadership: Callable[[], Awaitable[None]],
                 heartbeat_s: float = 5.0, timeout_s: float = 20.0, pointer_s: float = 1.0,
                 recovery_window_s: float = 900.0, order_wait_s: float = 30.0,
                 stage: Callable[[str, str, asyncio.Event], Awaitable[None]] | None = None,
                 on_retrain_request: Callable[[], Awaitable[None]] | None = None,
                 notifications: bool = True) -> None:
        self.db = db
        self.instance = instance
        self.served, self.current, self.follow = served, current, follow
        self.sync_banks = sync_banks
        self.load, self.requeue, self.on_leadership = load, requeue, on_leadership
        self.heartbeat_s, self.timeout_s, self.pointer_s = heartbeat_s, timeout_s, pointer_s
        self.recovery_window_s, self.order_wait_s = recovery_window_s, order_wait_s
        self.stage = stage  # load a version about to be promoted elsewhere; swap once current
        self.on_retrain_request = on_retrain_request  # the leader takes admins' requests
        self.notifications = notifications  # LISTEN/NOTIFY on PostgreSQL (else polling alone)
        self.host, self.pid, self.started_at = socket.gethostname(), os.getpid(), utcnow()
        self.leader = False
        self.failed: dict[str, str] = {}  # task -> the version the pointer names, not loadable
        self._lock_connection: AsyncConnection | None = None
        self._banks_stamp: tuple[Any, ...] | None = None
        self._requeued: set[int] = set()
        self._task: asyncio.Task[None] | None = None  # heartbeat, leader, sweep
        self._follower: asyncio.Task[None] | None = None  # model pointers, answer banks
        self._listener: AsyncConnection | None = None  # LISTEN (PostgreSQL)
        self._wake = asyncio.Event()  # a pointer moved (NOTIFY): read the pointers now
        self._staging: dict[tuple[str, str], asyncio.Event] = {}  # set: abandoned
        self._chores: set[asyncio.Task[None]] = set()
        self._taking = asyncio.Lock()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Register (before this process stores any message), try to lead, start the loop."""
        await self.beat()
        await self._listen()
        await self._try_to_lead()
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._beating(), name="replica-heartbeat")
        self._follower = loop.create_task(self._following(), name="replica-follower")

    async def close(self) -> None:
        for task in (self._task, self._follower, *self._chores):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):
            async with self.db.unit_of_work() as uow:
                await ReplicaRepository(uow.session).remove(self.instance)
        if self._listener is not None:  # back in the pool, it must not call us any more
            with contextlib.suppress(Exception):
                driver = await self._driver(self._listener)
                for channel in (MODELS_CHANNEL, RETRAIN_CHANNEL):
                    await driver.remove_listener(channel, self._notified)
        for connection in (self._lock_connection, self._listener):
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()

    async def _beating(self) -> None:
        """Quick work only: a model load here would stop the heartbeat and look like death."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self.beat()
                await self._listen()
                await self._try_to_lead()
                await self.sweep()
                if self.leader and self.on_retrain_request is not None:
                    await self.on_retrain_request()  # poll: a lost NOTIFY, or none (SQLite)
            except Exception:
                log.exception("replica heartbeat failed; trying again")

    async def _following(self) -> None:
        """Slow work: loading a version another process made current, updating answer banks."""
        next_banks = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.pointer_s)
            self._wake.clear()
            try:
                await self.follow_pointers()
                if time.monotonic() >= next_banks:
                    next_banks = time.monotonic() + self.heartbeat_s
                    await self.refresh_banks()
            except Exception:
                log.exception("following the other replicas failed; trying again")

    # -- heartbeat and liveness ---------------------------------------------------------------
    async def beat(self) -> None:
        load = self.load()
        async with self.db.unit_of_work() as uow:
            replicas = ReplicaRepository(uow.session)
            await replicas.beat(self.instance, self.host, self.pid, self.started_at,
                                versions=self.served(), failed_versions=dict(self.failed),
                                in_flight=load.in_flight, handled=load.handled,
                                leader=self.leader)
            await replicas.forget_dead(stale_before(max(3600.0, self.recovery_window_s)))

    async def owner_alive(self, session: AsyncSession, instance: str | None) -> bool:
        """Whether the process that accepted a message still runs (then it answers it)."""
        if instance == self.instance:
            return True
        return await ReplicaRepository(session).is_alive(instance, stale_before(self.timeout_s))

    async def alive(self) -> list[ReplicaRecord]:
        async with self.db.unit_of_work(write=False) as uow:
            return await ReplicaRepository(uow.session).alive(stale_before(self.timeout_s))

    async def sweep(self) -> int:
        """Queue again the unanswered messages of dead replicas; how many."""
        async with self.db.unit_of_work(write=False) as uow:
            orphans = await ReplicaRepository(uow.session).orphaned(
                stale_before(self.recovery_window_s), stale_before(self.timeout_s))
        fresh = [m for m in orphans if m.id not in self._requeued]
        for message in fresh:
            self._requeued.add(message.id)
            self.requeue(message)
        if fresh:
            log.info("answering %d message(s) accepted by a replica that died", len(fresh))
        if len(self._requeued) > 100_000:
            self._requeued.clear()
        return len(fresh)

    async def wait_for_earlier(self, chat_id: int, message_id: int) -> None:
        """Per-chat order: until the chat's earlier messages are answered (module docstring)."""
        deadline = time.monotonic() + self.order_wait_s
        while True:
            async with self.db.unit_of_work(write=False) as uow:
                # only messages younger than order_wait_s: one stuck for good (a failed write)
                # delays the chat's next messages for that long at most, not for every one
                waiting = await earlier_unanswered(
                    uow.session, chat_id, message_id, stale_before(self.order_wait_s),
                    stale_before(self.timeout_s))
            if not waiting:
                return
            if time.monotonic() >= deadline:
                log.warning("answering message %s of chat %s before an earlier one: it took "
                            "over %.0f s", message_id, chat_id, self.order_wait_s)
                return
            await asyncio.sleep(0.02)

    # -- leader -------------------------------------------------------------------------------
    async def _try_to_lead(self) -> None:
        if self.leader:
            if await self._still_leading():
                return
            log.warning("lost the retrain leadership (database connection closed)")
            self.leader = False
        if self.db.engine.dialect.name != "postgresql":
            self.leader = True  # one process per SQLite file
        else:
            if self._lock_connection is None:
                connection = await self.db.engine.connect()
                self._lock_connection = await connection.execution_options(
                    isolation_level="AUTOCOMMIT")
            self.leader = bool(await self._lock_connection.scalar(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK}))
        if self.leader:
            log.info("this replica leads: it runs the retrain schedule")
            await self.on_leadership()
            await self.beat()

    async def _still_leading(self) -> bool:
        if self._lock_connection is None:
            return True
        try:
            await self._lock_connection.scalar(sa.text("SELECT 1"))
            return True
        except Exception:
            with contextlib.suppress(Exception):
                await self._lock_connection.close()
            self._lock_connection = None
            return False

    # -- notifications (PostgreSQL) ----------------------------------------------------------
    async def _listen(self) -> None:
        """LISTEN on a connection of its own (again after it was lost); nothing on SQLite."""
        if self.db.engine.dialect.name != "postgresql" or not self.notifications:
            return
        again = self._listener is not None
        if self._listener is not None:
            driver = await self._driver(self._listener)
            if driver is not None and not driver.is_closed():
                return
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        try:
            connection = await self.db.engine.connect()
            driver = await self._driver(connection)
            assert driver is not None
            await driver.add_listener(MODELS_CHANNEL, self._notified)
            await driver.add_listener(RETRAIN_CHANNEL, self._notified)
            self._listener = connection
            if again:  # notifications may have been missed meanwhile: read the pointers now
                self._wake.set()
        except Exception:
            log.exception("cannot LISTEN for other replicas' notifications; polling only")

    @staticmethod
    async def _driver(connection: AsyncConnection) -> Any:
        raw = await connection.get_raw_connection()
        return raw.driver_connection

    async def notify(self, channel: str, payload: dict[str, str]) -> None:
        """NOTIFY the other replicas (a failure is logged: the polls are the fallback)."""
        if self.db.engine.dialect.name != "postgresql" or not self.notifications:
            return
        try:
            async with self.db.unit_of_work() as uow:
                await uow.session.execute(
                    sa.text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": channel,
                     "payload": json.dumps({**payload, "from": self.instance})})
        except Exception:
            log.exception("NOTIFY %s failed; the others find out by polling", channel)

    async def announce_model(self, task: str, version: str, phase: str) -> None:
        """ModelVersions' hook: ``staging`` (loading it), ``moved`` (pointer written) or
        ``abandoned`` (it failed to load: the others drop what they staged)."""
        await self.notify(MODELS_CHANNEL, {"task": task, "version": version, "phase": phase})

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
            if not isinstance(message, dict) or message.get("from") == self.instance:
                return
            if channel == RETRAIN_CHANNEL:
                if self.leader and self.on_retrain_request is not None:
                    self._chore(self.on_retrain_request(), "retrain-request")
                return
            task, version, phase = (str(message.get(k, "")) for k in
                                    ("task", "version", "phase"))
        except Exception:
            log.warning("ignored a malformed notification on %s: %.200r", channel, payload)
            return
        if phase == "staging" and self.stage is not None:
            if task in self.served() and (task, version) not in self._staging:
                log.info("%s %s is being promoted by another replica: loading it now", task,
                         version)
                abandoned = self._staging[(task, version)] = asyncio.Event()
                self._chore(self._stage(task, version, abandoned), f"stage-{task}")
        elif phase == "abandoned":
            if (event := self._staging.get((task, version))) is not None:
                event.set()
        else:
            self._wake.set()

    async def _stage(self, task: str, version: str, abandoned: asyncio.Event) -> None:
        assert self.stage is not None
        try:
            await self.stage(task, version, abandoned)
        except Exception as exc:  # the pointer poll tries again and reports a failure
            log.info("staging %s %s ended without a swap (%s: %s)", task, version,
                     type(exc).__name__, exc)
        finally:
            self._staging.pop((task, version), None)
            self._wake.set()

    def _chore(self, coroutine: Awaitable[None], name: str) -> None:
        async def run() -> None:
            try:
                await coroutine
            except Exception:
                log.exception("%s failed", name)

        task = asyncio.get_running_loop().create_task(run(), name=name)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    # -- admins' retrain requests (run by the leader) ------------------------------------------
    async def request_retrain(self, tasks: list[str], requested_by: int, chat_id: int,
                              message_id: int, lang: str) -> int:
        """Store an admin's /retrain for the leader and wake it (NOTIFY); the request's id."""
        async with self.db.unit_of_work() as uow:
            request_id = await RetrainRequestRepository(uow.session).add(
                tasks, requested_by, chat_id, message_id, lang)
        await self.notify(RETRAIN_CHANNEL, {"request": str(request_id)})
        return request_id

    async def take_retrain_requests(self) -> list[RetrainRequestRow]:
        """The leader's: the pending requests, claimed (none if this replica does not lead)."""
        if not self.leader:
            return []
        async with self._taking, self.db.unit_of_work() as uow:
            return await RetrainRequestRepository(uow.session).take(
                self.instance, stale_before(REQUEST_TTL_S))

    # -- models and answer banks --------------------------------------------------------------
    async def follow_pointers(self) -> None:
        for task, serving in list(self.served().items()):
            target = await asyncio.to_thread(self.current, task)
            if target is None or target == serving:
                self.failed.pop(task, None)
                continue
            if self.failed.get(task) == target:
                continue  # tried; wait for the pointer to move again
            log.info("the %s pointer moved to %s: loading it beside %s", task, target, serving)
            try:
                await self.follow(task, target)
            except Exception as exc:
                log.error("cannot serve %s %s that another process made current (%s: %s); "
                          "keeping %s", task, target, type(exc).__name__, exc, serving)
                self.failed[task] = target
                continue
            self.failed.pop(task, None)

    async def refresh_banks(self) -> None:
        """Taught and forgotten pairs stored by any replica reach this one's answer bank."""
        async with self.db.unit_of_work(write=False) as uow:
            taught = (await uow.session.execute(
                sa.select(sa.func.count(), sa.func.max(TaughtPair.id))
                .where(TaughtPair.active))).one()
            forgotten = await uow.session.scalar(
                sa.select(sa.func.count()).select_from(ForgottenPair))
        stamp = (*taught, forgotten)
        if stamp != self._banks_stamp:
            await self.sync_banks()
            self._banks_stamp = stamp
