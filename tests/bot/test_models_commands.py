"""/models, /promote, /rollback and /retrain through PTB's Application on fake models and a real
registry folder: what admins see, what the serving model becomes, what the audit log says."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.services.retrain import ActiveRun
from tests.bot.conftest import BotHarness, HarnessFactory
from tests.bot.fakes import Person
from tests.bot.test_retrain import VersionedModels, make_version

ADMIN = Person(1, "Ada")
OTHER = Person(2, "Bob")


async def start(make_harness: HarnessFactory, tmp_path: Path) -> tuple[BotHarness, Path]:
    models = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    (models / "chat" / "history.json").write_text('["v1"]')
    harness = await make_harness(VersionedModels(), admin_user_ids=[ADMIN.id], model_dir=models)
    return harness, models


async def test_models_lists_versions_with_the_current_one_marked(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    harness, _ = await start(make_harness, tmp_path)
    [listing] = await harness.send(ADMIN, "/models chat")
    assert listing.splitlines() == ["chat (current: v1)", "* v1  v1  bleu 1.5",
                                    "  v2  v2  bleu 1.5"]
    assert await harness.send(ADMIN, "/models poetry") == [
        "Usage: /models [TASK] with TASK one of: intent, qa, chat, translate-en-zh, "
        "translate-zh-en, summarize"]
    assert await harness.send(OTHER, "/models") == [
        "Sorry, only the bot's admins can use this command."]


async def test_promote_and_rollback_swap_the_serving_model(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    harness, models = await start(make_harness, tmp_path)
    assert await harness.send(OTHER, "hi") == ["chat:hi"]
    assert (await harness.services.inference.predict("chat", "x")).version == "v1"
    assert await harness.send(ADMIN, "/promote chat v2") == ["chat: now serving v2."]
    assert (await harness.services.inference.predict("chat", "x")).version == "v2"
    assert (models / "chat" / "current").read_text().strip() == "v2"
    assert await harness.send(ADMIN, "/promote chat v7") == [
        "chat has no version 'v7'. Its versions: v1, v2."]
    assert await harness.send(ADMIN, "/promote chat") == ["Usage: /promote TASK VERSION"]
    assert await harness.send(OTHER, "/rollback chat") == [
        "Sorry, only the bot's admins can use this command."]
    assert (models / "chat" / "current").read_text().strip() == "v2"  # nothing ran
    assert await harness.send(ADMIN, "/rollback chat") == ["chat: now serving v1."]
    assert (await harness.services.inference.predict("chat", "x")).version == "v1"
    rows = await harness.rows("SELECT action, allowed, outcome FROM audit_log ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("promote", 1, "promoted chat v2"),
        ("promote", 1, "refused: no version 'v7'"),
        ("promote", 1, "usage"),
        ("rollback", 0, "refused: not an admin"),
        ("rollback", 1, "rolled back chat to v1"),
    ]


async def test_retrain_while_one_runs_says_so_and_starts_nothing(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    harness, _ = await start(make_harness, tmp_path)
    retrain = harness.services.retrain
    assert await harness.send(ADMIN, "/retrain poetry") == [
        "Usage: /retrain [TASK] with TASK one of: intent, qa, chat, translate-en-zh, "
        "translate-zh-en, summarize"]
    hold = asyncio.Event()

    async def occupy() -> None:  # a run in progress holds the service's turn
        async with retrain._lock:
            retrain.active = ActiveRun("qa", 7, "training", 0.42)
            await hold.wait()

    running = asyncio.create_task(occupy())
    await asyncio.sleep(0)
    assert await harness.send(ADMIN, "/retrain chat") == [
        "A retrain of qa is running (training 42%). Try again when it is done."]
    hold.set()
    await running
    assert await harness.rows("SELECT id FROM retrain_runs") == []


async def test_every_admin_is_told_when_a_version_fails_to_load(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    loader = VersionedModels()
    loader.broken.add("v2")
    harness = await make_harness(loader, admin_user_ids=[ADMIN.id, 3], model_dir=models)
    assert (await harness.services.inference.predict("chat", "x")).version == "v1"
    *announced, answer = await harness.send(ADMIN, "/promote chat v2")
    assert answer == ("chat: not switched (RuntimeError: weights are corrupt). "
                      "v1 keeps serving.")
    assert len(announced) == 2  # to each admin, before the reply
    told = {int(p["chat_id"]): str(p["text"]) for p in harness.api.of("sendMessage")
            if str(p["text"]).startswith("Version v2 of chat failed to load")}
    assert set(told) == {ADMIN.id, 3} and "v1 keeps serving" in told[3]
    assert (await harness.services.inference.predict("chat", "x")).version == "v1"
    assert (models / "chat" / "current").read_text().strip() == "v1"
