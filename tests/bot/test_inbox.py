"""bot/inbox.py: fetched updates are confirmed to Telegram only once the bot has stored them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter  # what PTB itself builds

from bot.inbox import HoldingRequest, Inbox


class FakePolling(BaseRequest):
    """Answers getUpdates with the next batch of update ids; records the offsets asked for."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = batches
        self.offsets: list[int | None] = []

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None,
                         connect_timeout: Any = None, pool_timeout: Any = None
                         ) -> tuple[int, bytes]:
        offset = request_data.parameters.get("offset") if request_data else None
        self.offsets.append(offset if isinstance(offset, int) else None)
        ids = self.batches.pop(0) if self.batches else []
        body = {"ok": True, "result": [{"update_id": i} for i in ids]}
        return 200, json.dumps(body).encode()


def get_updates(offset: int | None) -> RequestData:
    parameters = [] if offset is None else [RequestParameter("offset", offset, None)]
    return RequestData(parameters)


URL = "http://127.0.0.1:1/botTOKEN/getUpdates"


async def test_next_poll_waits_until_the_fetched_batch_is_stored() -> None:
    inbox = Inbox(max_wait_s=5)
    inner = FakePolling([[10, 11, 12], [13]])
    request = HoldingRequest(inner, inbox)
    await request.do_request(URL, "POST", get_updates(None))
    assert inbox.pending == 3
    poll = asyncio.create_task(request.do_request(URL, "POST", get_updates(13)))
    await asyncio.sleep(0.05)
    assert not poll.done() and inner.offsets == [None]  # offset 13 not sent: 10-12 pending
    inbox.done(10)
    inbox.done(12)
    await asyncio.sleep(0.05)
    assert not poll.done()
    inbox.done(11)
    await asyncio.wait_for(poll, 1)
    assert inner.offsets == [None, 13] and inbox.pending == 1  # 13 now fetched


async def test_updates_above_the_offset_do_not_block_and_other_methods_pass() -> None:
    inbox = Inbox(max_wait_s=5)
    inbox.fetched([20, 21])
    inner = FakePolling([[]])
    request = HoldingRequest(inner, inbox)
    await asyncio.wait_for(request.do_request(URL, "POST", get_updates(20)), 1)
    code, _ = await asyncio.wait_for(
        request.do_request("http://127.0.0.1:1/botTOKEN/sendMessage", "POST", None), 1)
    assert code == 200 and inbox.pending == 2


async def test_a_stuck_update_is_confirmed_after_the_wait_limit(caplog: Any) -> None:
    inbox = Inbox(max_wait_s=0.2)
    inbox.fetched([5, 6])
    inbox.started(5)  # its handlers run but do not store it (a locked database)
    inbox.done(6)
    assert await inbox.settled(7) is False
    assert inbox.pending == 0
    assert "before they were stored" in caplog.text


def _update(update_id: int) -> Any:
    from telegram import Update

    return Update(update_id)


async def test_webhook_put_returns_once_the_update_is_stored() -> None:
    from bot.inbox import HoldingQueue

    inbox = Inbox(max_wait_s=5)
    queue = HoldingQueue(inbox, hold=True)
    put = asyncio.create_task(queue.put(_update(7)))
    await asyncio.sleep(0.05)
    assert queue.qsize() == 1 and not put.done()  # queued, but the POST is not answered yet
    assert inbox.pending == 1
    inbox.done(7)
    await asyncio.wait_for(put, 1)
    assert inbox.pending == 0


async def test_webhook_put_waits_for_its_own_update_only_and_gives_up_after_max_wait() -> None:
    from bot.inbox import HoldingQueue

    inbox = Inbox(max_wait_s=0.2)
    queue = HoldingQueue(inbox, hold=True)
    slow = asyncio.create_task(queue.put(_update(1)))
    fast = asyncio.create_task(queue.put(_update(2)))
    await asyncio.sleep(0.02)
    inbox.started(1)  # its handlers run, but never store it
    inbox.done(2)
    await asyncio.wait_for(fast, 1)  # not held back by update 1, still pending
    assert not slow.done()
    await asyncio.wait_for(slow, 1)  # update 1 never stored: answered after max_wait_s
    assert inbox.pending == 0 and queue.qsize() == 2


async def test_without_hold_put_does_not_wait() -> None:
    from bot.inbox import HoldingQueue

    inbox = Inbox(max_wait_s=5)
    queue = HoldingQueue(inbox)  # polling: HoldingRequest holds the confirmation instead
    await asyncio.wait_for(queue.put(_update(3)), 1)
    await asyncio.wait_for(HoldingQueue(inbox, hold=True).put("not an update"), 1)
    assert inbox.pending == 0


async def test_a_queued_update_that_never_reaches_its_handlers_is_confirmed_eventually() -> None:
    inbox = Inbox(max_wait_s=5, max_queued_s=0.2)
    inbox.fetched([8])
    assert await asyncio.wait_for(inbox.settled(9), 2) is False
    assert inbox.pending == 0


class SlowPolling(FakePolling):
    """FakePolling that records, with each offset, which updates were stored by then."""

    def __init__(self, batches: list[list[int]], stored: list[int]) -> None:
        super().__init__(batches)
        self.stored = stored
        self.stored_at_offset: dict[int, set[int]] = {}

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        offset = request_data.parameters.get("offset") if request_data else None
        if isinstance(offset, int):
            self.stored_at_offset.setdefault(offset, set(self.stored))
        if not self.batches:
            await asyncio.sleep(0.05)  # a long poll with nothing new
        return await super().do_request(url, method, request_data)


async def test_updates_queued_behind_a_saturated_semaphore_are_held_until_stored() -> None:
    """With every handler slot busy, PTB holds an update at its semaphore before admission can
    store it; the next getUpdates must not confirm it meanwhile, however long that takes."""
    from telegram import Update
    from telegram.ext import Application, TypeHandler

    from bot.context import AppState
    from bot.inbox import DurableApplication
    from tests.bot.fakes import FakeBotAPI

    inbox = Inbox(max_wait_s=0.2)  # far shorter than the turns in flight take
    stored: list[int] = []
    polling = SlowPolling([[1, 2, 3]], stored)
    release = asyncio.Event()

    async def admit(update: Update, _context: Any) -> None:
        stored.append(update.update_id)
        inbox.done(update.update_id)

    async def slow_turn(_update: Update, _context: Any) -> None:
        await release.wait()

    app = (Application.builder().application_class(DurableApplication).token("1:TEST")
           .request(FakeBotAPI()).get_updates_request(HoldingRequest(polling, inbox))
           .concurrent_updates(2).build())
    state = AppState()
    state.inbox = inbox
    app.bot_data = state  # type: ignore[misc]
    app.add_handler(TypeHandler(Update, admit), group=-1)
    app.add_handler(TypeHandler(Update, slow_turn), group=0)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=0)
        try:
            await asyncio.sleep(0.8)  # four times max_wait_s with both slots busy
            assert stored == [1, 2]  # update 3 waits at the semaphore
            assert 4 not in polling.stored_at_offset  # so it was not confirmed
            release.set()
            for _ in range(100):
                if 4 in polling.stored_at_offset:
                    break
                await asyncio.sleep(0.02)
            assert polling.stored_at_offset[4] == {1, 2, 3}  # confirmed once stored
        finally:
            release.set()
            await app.updater.stop()
            await app.stop()
