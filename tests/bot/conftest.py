"""Fixtures for the bot's unit tests: settings on a temp database, and a whole PTB application
running on fake models and a fake Bot API (no network, no TensorFlow)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import build_application
from bot.config import Settings
from bot.context import BotApplication
from bot.services.container import Services
from tests.bot.fakes import Chatter, FakeBotAPI, FakeModels, Person, as_update


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's environment must not change what a test sees."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": "123456:TEST-TOKEN-abc",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        "preload_tasks": [],
        "typing_delay_ms": 60_000,  # no typing action unless a test asks for it
        "batch_max_wait_ms": 1,
        "inference_timeout_s": 5,
        "store_group_messages": True,
    }
    values.update(overrides)
    return without_dotenv(**values)


def without_dotenv(**values: Any) -> Settings:
    """Settings from ``values`` and the environment, ignoring any ``.env`` file."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


class BotHarness:
    """A running application plus the means to talk to it as users."""

    def __init__(self, app: BotApplication, api: FakeBotAPI, models: FakeModels) -> None:
        self.app = app
        self.api = api
        self.models = models
        self.chatter = Chatter()

    @property
    def services(self) -> Services:
        services = self.app.bot_data.services
        assert services is not None
        return services

    async def deliver(self, data: dict[str, Any]) -> list[str]:
        """Process one update; the texts the bot sent because of it."""
        before = len(self.api.of("sendMessage"))
        await self.app.process_update(as_update(data, self.app.bot))
        return [str(p["text"]) for p in self.api.of("sendMessage")[before:]]

    async def send(self, person: Person, text: str | None, chat_id: int | None = None,
                   **kwargs: Any) -> list[str]:
        return await self.deliver(self.chatter.message(person, text, chat_id, **kwargs))

    async def drain_queue(self) -> None:
        while not self.app.update_queue.empty():
            await self.app.process_update(self.app.update_queue.get_nowait())

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.services.db.engine.connect() as connection:
            return list((await connection.execute(text(sql), params)).all())


HarnessFactory = Callable[..., Awaitable[BotHarness]]


@pytest.fixture
async def make_harness(tmp_path: Path) -> AsyncIterator[HarnessFactory]:
    started: list[BotHarness] = []

    async def start(models: FakeModels | None = None, **overrides: Any) -> BotHarness:
        api, models = FakeBotAPI(), models or FakeModels.default()
        app = build_application(make_settings(tmp_path, **overrides), loader=models, request=api)
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        harness = BotHarness(app, api, models)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        assert harness.app.post_shutdown is not None
        await harness.app.post_shutdown(harness.app)
        await harness.app.shutdown()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> BotHarness:
    return await make_harness()
