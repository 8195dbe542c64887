"""Hold back Telegram's confirmation of fetched updates until the bot has stored them.

With long polling, Telegram forgets every update below the ``offset`` of the next
``getUpdates`` call. PTB's updater sends that call as soon as it has queued a batch, so a bot
killed (SIGKILL, power loss) before it stored the batch would lose those messages for good.
``HoldingRequest`` wraps the request object of ``getUpdates``: it notes the update ids each
response carries, and before sending the next ``getUpdates`` it waits until every update below
the new offset is stored (the admission handler marks it) or fully handled
(``DurableApplication``). Storage takes milliseconds, so polling is barely delayed; after
``max_wait_s`` it goes on anyway (logged) rather than stall the bot. A batch that Telegram sends
again after a crash is not answered twice: messages are stored once, by chat and message id.

A webhook has the same gap: PTB's webhook handler answers Telegram's POST (200, "delivered")
as soon as it has queued the update. ``HoldingQueue`` is the application's update queue; in
webhook mode its ``put`` returns only once that update is stored or handled, so the 200 goes out
after the message is in the database, and a bot killed before that gets the update again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)


class Inbox:
    """Update ids fetched from Telegram and not yet stored or handled."""

    def __init__(self, max_wait_s: float = 10.0) -> None:
        self.max_wait_s = max_wait_s
        self._pending: set[int] = set()
        self._changed = asyncio.Event()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def fetched(self, update_ids: list[int]) -> None:
        self._pending.update(update_ids)

    def done(self, update_id: int) -> None:
        if update_id in self._pending:
            self._pending.discard(update_id)
            self._changed.set()

    async def settled(self, below: int) -> bool:
        """Wait until no fetched update below ``below`` is pending; False after max_wait_s."""
        return await self._wait(lambda u: u < below)

    async def stored(self, update_id: int) -> bool:
        """Wait until update ``update_id`` is no longer pending; False after max_wait_s."""
        return await self._wait(lambda u: u == update_id)

    async def _wait(self, holds: Callable[[int], bool]) -> bool:
        deadline = time.monotonic() + self.max_wait_s
        while any(holds(u) for u in self._pending):
            left = deadline - time.monotonic()
            if left <= 0:
                stuck = sorted(u for u in self._pending if holds(u))
                log.warning("confirming %d update(s) to Telegram before they were stored "
                            "(waited %.0f s): %s", len(stuck), self.max_wait_s, stuck[:10])
                self._pending.difference_update(stuck)
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=left)
        return True


class HoldingRequest(BaseRequest):
    """The ``getUpdates`` request object: confirms a batch only once the bot has stored it."""

    def __init__(self, inner: BaseRequest, inbox: Inbox) -> None:
        self.inner = inner
        self.inbox = inbox

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
                result = json.loads(payload).get("result") or []
                self.inbox.fetched([int(u["update_id"]) for u in result])
            except (ValueError, TypeError, KeyError, AttributeError):
                pass  # PTB reports a malformed response itself
        return code, payload


class HoldingQueue(asyncio.Queue[object]):
    """The application's update queue. With ``hold`` (webhook mode), ``put`` of an update
    returns once the bot has stored or handled it (at most the inbox's ``max_wait_s``), so
    PTB's webhook handler answers Telegram only then; other items pass straight through."""

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
    """Marks every update handled (stored or not) in the inbox when its handlers are done."""

    async def process_update(self, update: object) -> None:
        try:
            await super().process_update(update)
        finally:
            inbox = getattr(self.bot_data, "inbox", None)  # AppState.inbox
            if inbox is not None and isinstance(update, Update):
                inbox.done(update.update_id)
