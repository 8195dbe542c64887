"""Durability: what a commit, a confirmation to Telegram and a power loss leave behind."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.storage import Database
from tests.bot.fakes import FakeModel, FakeModels
from tests.bot.test_retrain import make_version

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


async def test_commits_are_synced_to_disk_before_they_return(tmp_path: Path) -> None:
    """WAL with synchronous=NORMAL may lose committed transactions on power loss; the bot
    confirms updates to Telegram once committed, so every connection must run FULL."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.migrate()
    try:
        assert await db.pragma("journal_mode") == "wal"
        assert await db.pragma("synchronous") == FULL
        async with db.unit_of_work() as uow:  # a writing connection, not only the first one
            value = (await uow.session.connection()).exec_driver_sql("PRAGMA synchronous")
            assert (await value).scalar() == FULL
    finally:
        await db.close()


async def test_webhook_start_up_does_not_wait_on_each_interrupted_message(
        make_harness: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages a dead run left unanswered are already stored: re-queueing them at start-up
    (before the webhook server listens, nothing is handled yet) must not wait for them."""
    from bot.app import answer_interrupted
    from bot.storage.records import StoredMessage
    from tests.bot.fakes import Chatter, Person

    harness = await make_harness(webhook_url="https://bot.example.org/hook")
    chatter, ann = Chatter(), Person(7, "Ann")
    left = [StoredMessage(i, 7, i, "in", 7, f"question {i}", "text", None, "received", None,
                          None, "dead-run", datetime.now(UTC),
                          raw_update=chatter.message(ann, f"question {i}"))
            for i in range(1, 6)]

    async def interrupted(_window_s: float) -> list[StoredMessage]:
        return left

    monkeypatch.setattr(harness.app.bot_data.services.turns, "interrupted", interrupted)
    started = time.monotonic()
    await asyncio.wait_for(answer_interrupted(harness.app, 600), 5)
    assert time.monotonic() - started < 1.0  # not 10 s (the inbox's hold) per message
    assert harness.app.update_queue.qsize() == len(left)


class RegistryModels(FakeModels):
    """Loads ``chat`` at any version of a registry folder (None: its current pointer); the
    versions in ``broken`` fail to load."""

    def __init__(self, models: Path, broken: set[str]) -> None:
        super().__init__()
        self.root, self.broken = models, broken

    def __call__(self, task: str, version: str | None) -> FakeModel:
        version = version or (self.root / task / "current").read_text().strip()
        if version in self.broken:
            raise OSError(f"Unable to open file: {task}/versions/{version}/model.weights.h5 "
                          "(truncated file)")
        return FakeModel(task, version=version)


async def test_a_current_version_that_fails_to_load_falls_back_and_admins_are_told(
        make_harness: Any, tmp_path: Path) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2", "v3"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v3\n")
    loader = RegistryModels(models, broken={"v3", "v2"})
    harness = await make_harness(loader, admin_user_ids=[1, 3], model_dir=models,
                                 preload_tasks=["chat"])
    assert (await harness.services.inference.predict("chat", "x")).version == "v1"
    for _ in range(50):
        told = [p for p in harness.api.of("sendMessage") if "failed to load at start-up"
                in str(p["text"])]
        if len(told) == 2:
            break
        await asyncio.sleep(0.02)
    assert {int(p["chat_id"]) for p in told} == {1, 3}
    assert "earlier version v1" in str(told[0]["text"]) and "v3" in str(told[0]["text"])
    assert (models / "chat" / "current").read_text().strip() == "v3"  # the pointer stays


async def test_a_promotion_writes_the_pointer_before_the_new_version_serves(
        tmp_path: Path) -> None:
    from bot.services.inference import InferenceService
    from bot.services.versions import ModelVersions

    models = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    (models / "chat" / "history.json").write_text('["v1"]')
    inference = InferenceService(RegistryModels(models, set()))
    versions = ModelVersions(inference, models)
    assert (await inference.predict("chat", "x")).version == "v1"
    seen: list[tuple[str, str]] = []
    real_reload = inference.reload

    async def spy(task: str, version: str | None = None, commit: Any = None) -> str:
        async def observed() -> None:
            assert commit is not None
            await commit()
            seen.append(((models / "chat" / "current").read_text().strip(),
                         inference.versions()["chat"]))
        return await real_reload(task, version, observed)

    inference.reload = spy  # type: ignore[method-assign]
    await versions.promote("chat", "v2")
    assert seen == [("v2", "v1")]  # pointer written while v1 still served
    assert inference.versions()["chat"] == "v2"
    await versions.rollback("chat")
    assert seen[-1] == ("v1", "v2")
    await inference.close()
