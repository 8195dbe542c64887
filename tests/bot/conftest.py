"""Fixtures for the bot's unit tests: settings on a temp database, and a whole PTB application
running on fake models and a fake Bot API (no network, no TensorFlow).

Engines: ``database_url`` is a SQLite file, or, in a module marked ``both_engines``, each test
runs twice: on SQLite and on a fresh database of one PostgreSQL server started for the session
(``tests/pg_server.py``; skipped with the reason where PostgreSQL is not installed).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import build_application
from bot.config import Settings
from bot.context import BotApplication
from bot.services.container import Services
from bot.storage.db import Database
from bot.storage.models import Base
from tests.bot.fakes import Chatter, FakeBotAPI, FakeModels, Person, as_update
from tests.pg_server import NO_POSTGRES, PostgresServer, find_binaries

DATABASE = "bot_test"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    chosen = any("database_url" in str(mark.args[0])  # a test that names its engines
                 for mark in metafunc.definition.iter_markers("parametrize"))
    if ("database_url" in metafunc.fixturenames and not chosen
            and metafunc.definition.get_closest_marker("both_engines") is not None):
        metafunc.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, with one migrated database the tests share
    (emptied before each: ``database_url``)."""
    if find_binaries() is None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":  # .ci/run installs it: a skip would hide
            pytest.fail(NO_POSTGRES)                   # a failed install
        pytest.skip(NO_POSTGRES)
    server = PostgresServer.start()
    try:
        server.execute(f"CREATE DATABASE {DATABASE}")

        async def migrate() -> None:
            database = Database(server.url(DATABASE))
            await database.migrate()
            await database.close()

        asyncio.run(migrate())
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test's database: a SQLite file, or the session's PostgreSQL database, emptied
    (``TRUNCATE ... RESTART IDENTITY``: 0.05 s, where a copy of a template database takes 0.5 s
    on a busy machine)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    server.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE", DATABASE)
    return server.url(DATABASE)


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
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


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
async def make_harness(tmp_path: Path, database_url: str) -> AsyncIterator[HarnessFactory]:
    started: list[BotHarness] = []

    async def start(models: FakeModels | None = None, **overrides: Any) -> BotHarness:
        overrides.setdefault("database_url", database_url)
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
