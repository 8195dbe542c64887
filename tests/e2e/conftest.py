"""Fixtures for end-to-end tests over HTTP against the in-repo Bot API emulator.

* ``botapi`` (session): one :class:`BotAPIHarness` serving on 127.0.0.1 for the whole run;
* ``botapi_bot`` (function): a freshly registered bot on it (own token, chats, updates), so
  tests are isolated without restarting the server;
* ``bot_models`` / ``tiny_bot_models`` (session): real models for ``python -m bot``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from botapi_emulator import BotAPIHarness, BotHandle
from botapi_emulator.bot_process import prepare_models


@pytest.fixture(scope="session")
def botapi() -> Iterator[BotAPIHarness]:
    """The Bot API emulator, started once for the test session and stopped at its end."""
    with BotAPIHarness() as harness:
        yield harness


@pytest.fixture
def botapi_bot(botapi: BotAPIHarness) -> BotHandle:
    """A new bot registered on the emulator for this test only."""
    return botapi.new_bot()


@pytest.fixture(scope="session")
def bot_models(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real models for the whole run (see ``prepare_models``)."""
    cache = Path(request.config.cache.mkdir("rnnbot-e2e-models"))
    return prepare_models(cache, tmp_path_factory.mktemp("e2e-models"))


@pytest.fixture(scope="session")
def tiny_bot_models(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chat model even when real defaults are shipped: for the tests that retrain it in
    seconds on tiny data (they retrain chat only; qa and intent stay the shipped ones, and the
    other tasks are neither preloaded nor trained)."""
    cache = Path(request.config.cache.mkdir("rnnbot-e2e-models"))
    return prepare_models(cache, tmp_path_factory.mktemp("e2e-tiny-models"), tiny=True,
                          tasks=("chat",))
