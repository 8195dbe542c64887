"""Hold back Telegram's confirmation of fetched updates until the bot has stored them.

With long polling, Telegram forgets every update below the ``offset`` of the next
``getUpdates`` call. PTB's updater sends that call as soon as it has queued a batch, so a bot
killed (SIGKILL, power loss) before it stored the batch would lose those messages for good.
``HoldingRequest`` wraps the request object of ``getUpdates``: it notes the update ids each
response carries, and before sending the next ``getUpdates`` it waits until every update below
the new offset is stored (the admission handler marks it) or fully handled
(``DurableApplication``). Storage takes milliseconds, so polling is barely delayed.

An update waits for its handlers at PTB's concurrency semaphore (``CONCURRENT_UPDATES`` turns in
flight) before admission can store it, so the hold counts ``max_wait_s`` only from the moment
its handlers start (``DurableApplication`` marks that): an update still queued behind busy turns
is held until it is stored, which throttles polling to what the bot can take while the rest
wait at Telegram. An update whose handlers started but did not store it within ``max_wait_s``
(a locked database) is confirmed anyway (logged) rather than stall the bot; ``max_queued_s``
bounds the wait of a queued one the same way, in case an update never reaches its handlers. A
batch that Telegram sends again after a crash is not answered twice: messages are stored once,
by chat and message id.

A webhook has the same gap: PTB's webhook handler answers Telegram's POST (200, "delivered")
as soon as it has queued the update. ``HoldingQueue`` is the application's update queue; in
webhook mode its ``put`` returns only once that update is stored or handled, so the 200 goes out
after the message is in the database, and a bot killed before that gets the update again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.transport import parse_json_payload

log = logging.getLogger(__name__)


class Inbox:
    """Update ids fetched from Telegram and not yet stored or handled."""

    def __init__(self, max_wait_s: float = 10.0, max_queued_s: float = 600.0) -> None:
        self.max_wait_s = max_wait_s  # from the start of the update's handlers
        self.max_queued_s = max_queued_s  # from its fetch, while it waits for a handler slot
        self._pending: dict[int, float] = {}  # update id -> deadline (monotonic)
        self._started: set[int] = set()
        self._changed = asyncio.Event()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def fetched(self, update_ids: list[int]) -> None:
        deadline = time.monotonic() + self.max_queued_s
        for update_id in update_ids:
            self._pending.setdefault(update_id, deadline)

    def started(self, update_id: int) -> None:
        """The update's handlers run now: storing it should take milliseconds from here."""
        if update_id in self._pending and update_id not in self._started:
            self._started.add(update_id)
            self._pending[update_id] = time.monotonic() + self.max_wait_s
            self._changed.set()

    def done(self, update_id: int) -> None:
        if update_id in self._pending:
            del self._pending[update_id]
            self._started.discard(update_id)
            self._changed.set()

    async def settled(self, below: int) -> bool:
        """Wait until no fetched update below ``below`` is pending; False if one was given up
        on (``max_wait_s`` after its handlers started, ``max_queued_s`` while queued)."""
        return await self._wait(lambda u: u < below)

    async def stored(self, update_id: int) -> bool:
        """Wait until update ``update_id`` is no longer pending; False if it was given up on."""
        return await self._wait(lambda u: u == update_id)

    async def _wait(self, holds: Callable[[int], bool]) -> bool:
        complete = True
        while held := {u: d for u, d in self._pending.items() if holds(u)}:
            now = time.monotonic()
            stuck = sorted(u for u, deadline in held.items() if deadline <= now)
            if stuck:
                log.warning("confirming %d update(s) to Telegram before they were stored: %s",
                            len(stuck), stuck[:10])
                for update_id in stuck:
                    self.done(update_id)
                complete = False
                continue
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(held.values()) - now)
        return complete


class HoldingRequest(BaseRequest):
    """The ``getUpdates`` request object: confirms a batch only once the bot has stored it."""

    def __init__(self, inner: BaseRequest, inbox: Inbox) -> None:
        self.inner = inner
        self.inbox = inbox

    @staticmethod
    def parse_json_payload(payload: bytes) -> Any:
        return parse_json_payload(payload)

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE,
                         write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        polling = url.endswith("/getUpdates")
        if polling and request_data is not None:
            offset = request_data.parameters.get("offset")
            if isinstance(offset, int) and offset > 0:
                await self.inbox.settled(offset)
        code, payload = await self.inner.do_request(
            url, method, request_data, read_timeout=read_timeout, write_timeout=write_timeout,
            connect_timeout=connect_timeout, pool_timeout=pool_timeout)
        if polling and code == 200:
            try:
                result = parse_json_payload(payload).get("result") or []
                self.inbox.fetched([int(u["update_id"]) for u in result])
            except (TelegramError, ValueError, TypeError, KeyError, AttributeError):
                pass  # PTB reports a malformed response itself
        return code, payload


class HoldingQueue(asyncio.Queue[object]):
    """The application's update queue. With ``hold`` (webhook mode), ``put`` of an update
    returns once the bot has stored or handled it (or given up on it, as ``Inbox`` says), so
    PTB's webhook handler answers Telegram only then; other items pass straight through, and
    so does ``put_nowait`` (updates the bot has stored already, re-queued at start-up)."""

    def __init__(self, inbox: Inbox, hold: bool = False) -> None:
        super().__init__()
        self.inbox = inbox
        self.hold = hold

    async def put(self, item: object) -> None:
        if not (self.hold and isinstance(item, Update)):
            await super().put(item)
            return
        self.inbox.fetched([item.update_id])
        await super().put(item)
        await self.inbox.stored(item.update_id)


class DurableApplication(Application[Any, Any, Any, Any, Any, Any]):
    """Tells the inbox when an update's handlers start (past PTB's concurrency semaphore:
    ``process_update`` runs inside it) and when they are done (stored or not)."""

    async def process_update(self, update: object) -> None:
        inbox = getattr(self.bot_data, "inbox", None)  # AppState.inbox
        update_id = update.update_id if isinstance(update, Update) else None
        if inbox is not None and update_id is not None:
            inbox.started(update_id)
        try:
            await super().process_update(update)
        finally:
            if inbox is not None and update_id is not None:
                inbox.done(update_id)
