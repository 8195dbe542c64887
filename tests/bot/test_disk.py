"""The disk: retention after switches, /status's disk use, and a full disk (ENOSPC, simulated
by a monkeypatched write) while writing a snapshot or the version pointer."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.services.inference import InferenceService
from bot.services.retention import Retention
from bot.services.snapshot import CorpusInfo, take_snapshot
from bot.services.versions import ModelVersions, SwitchFailed
from bot.storage import Database
from tests.bot.fakes import Person
from tests.bot.test_durability import RegistryModels
from tests.bot.test_retrain import make_version, seed_learning

ADMIN = Person(1, "Ada")


def disk_full(*_args: Any, **_kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return list(connection.iterdump())


async def test_a_full_disk_while_writing_a_snapshot_leaves_no_files_and_the_database_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.migrate()
    await seed_learning(db)
    before = dump(tmp_path / "bot.sqlite3")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.tsv").write_text("q1\ta1\n" * 100, encoding="utf-8")
    (corpus / "dev.tsv").write_text("dq\tda\n", encoding="utf-8")
    monkeypatch.setattr("bot.services.snapshot.shutil.copyfile", disk_full)  # dev.tsv
    with pytest.raises(OSError) as failure:
        await take_snapshot(db, "qa", CorpusInfo("qa", corpus, False), tmp_path / "snap")
    assert failure.value.errno == errno.ENOSPC
    assert not (tmp_path / "snap").exists()  # no half-written training data left behind
    await db.close()
    assert dump(tmp_path / "bot.sqlite3") == before


async def test_a_full_disk_while_writing_the_pointer_keeps_the_old_version_serving(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    (models / "chat" / "history.json").write_text('["v1"]')
    inference = InferenceService(RegistryModels(models, set()))
    versions = ModelVersions(inference, models)
    assert (await inference.predict("chat", "x")).version == "v1"
    monkeypatch.setattr("model.registry.os.fsync", disk_full)
    with pytest.raises(SwitchFailed, match="No space left"):
        await versions.promote("chat", "v2")
    monkeypatch.undo()
    assert (await inference.predict("chat", "x")).version == "v1"
    assert (models / "chat" / "current").read_text().strip() == "v1"
    assert not [p for p in (models / "chat").iterdir() if p.name.endswith(".tmp")]
    await inference.close()


async def test_switches_apply_the_retention_policy(tmp_path: Path) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2", "v3", "v4"):
        make_version(models, "chat", version)
    (models / "chat" / "current").write_text("v1\n")
    (models / "chat" / "history.json").write_text('["v1"]')
    inference = InferenceService(RegistryModels(models, set()))
    retention = Retention(models, tmp_path / "data", tmp_path / "data" / "retrain", 1)
    versions = ModelVersions(inference, models, retention=retention)
    await versions.promote("chat", "v3")  # keeps v3 (current), v1 (previous), v4 (newest other)
    assert sorted(p.name for p in (models / "chat" / "versions").iterdir()) == ["v1", "v3", "v4"]
    await inference.close()


async def test_status_shows_disk_use(make_harness: Any, tmp_path: Path) -> None:
    models = tmp_path / "models"
    make_version(models, "chat", "v1")
    (models / "chat" / "versions" / "v1" / "weights.bin").write_bytes(b"w" * 300_000)
    harness = await make_harness(admin_user_ids=[ADMIN.id], model_dir=models,
                                 bot_data_dir=tmp_path / "data")
    [status] = await harness.send(ADMIN, "/status")
    line = next(line for line in status.splitlines() if line.startswith("Disk: "))
    assert line.startswith("Disk: models 293 KiB, bot data ") and line.endswith(" free")
