"""Sending replies: what is retried (5xx, time-outs, dropped connections, 429) and what is not."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.handlers import outgoing


class Flaky:
    """Fails with the given errors, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "sent"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outgoing, "SEND_BACKOFF_S", 0.001)


async def test_transient_errors_are_retried_until_sent() -> None:
    send = Flaky(NetworkError("Internal Server Error (500)"), TimedOut(),
                 RetryAfter(0), NetworkError("Bad Gateway (502)"))
    assert await outgoing.with_retries(send, "test") == "sent"
    assert send.calls == 5


async def test_a_refused_request_is_not_retried() -> None:
    send = Flaky(BadRequest("Chat not found"))
    with pytest.raises(BadRequest):
        await outgoing.with_retries(send, "test")
    assert send.calls == 1


async def test_retries_give_up_after_the_last_attempt() -> None:
    send = Flaky(*[NetworkError("down")] * outgoing.SEND_ATTEMPTS)
    with pytest.raises(NetworkError):
        await outgoing.with_retries(send, "test")
    assert send.calls == outgoing.SEND_ATTEMPTS
