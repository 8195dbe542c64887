"""Fixtures for end-to-end tests over HTTP against the in-repo Bot API emulator.

* ``botapi`` (session): one :class:`BotAPIHarness` serving on 127.0.0.1 for the whole run;
* ``botapi_bot`` (function): a freshly registered bot on it (own token, chats, updates), so
  tests are isolated without restarting the server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.botapi import BotAPIHarness, BotHandle


@pytest.fixture(scope="session")
def botapi() -> Iterator[BotAPIHarness]:
    """The Bot API emulator, started once for the test session and stopped at its end."""
    with BotAPIHarness() as harness:
        yield harness


@pytest.fixture
def botapi_bot(botapi: BotAPIHarness) -> BotHandle:
    """A new bot registered on the emulator for this test only."""
    return botapi.new_bot()
