import errno
import json
import os
from pathlib import Path

import pytest

from model import registry as registry_module
from model.registry import CARD as CARD_NAME
from model.registry import Registry, RegistryError


def make_version(reg: Registry, task: str, name: str) -> str:
    with reg.new_version(task, name) as (version, staging):
        (staging / "weights.bin").write_bytes(b"w" * 10)
        Registry.write_card(staging, {"task": task, "version": version, "created_at": name})
    return version


def test_version_appears_only_when_complete(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(RuntimeError), reg.new_version("chat", "v1") as (_, staging):
        (staging / "weights.bin").write_bytes(b"half")
        raise RuntimeError("killed while writing")
    assert reg.versions("chat") == []
    with pytest.raises(RegistryError), reg.new_version("chat", "v2"):
        pass  # no card written
    assert reg.versions("chat") == []
    assert not [p for p in (tmp_path / "chat" / "versions").iterdir()]


def test_promote_and_rollback(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    make_version(reg, "chat", "v1")
    make_version(reg, "chat", "v2")
    assert reg.current("chat") is None
    reg.promote("chat", "v1")
    reg.promote("chat", "v2")
    assert reg.current("chat") == "v2"
    assert [v.version for v in reg.versions("chat") if v.is_current] == ["v2"]
    assert reg.rollback("chat") == "v1"
    assert reg.current("chat") == "v1"
    with pytest.raises(RegistryError):
        reg.rollback("chat")


def test_promote_refuses_half_written(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    make_version(reg, "chat", "v1")
    reg.promote("chat", "v1")
    broken = reg.version_dir("chat", "v2")
    broken.mkdir(parents=True)
    (broken / "weights.bin").write_bytes(b"x")
    with pytest.raises(RegistryError):
        reg.promote("chat", "v2")
    assert reg.current("chat") == "v1"


def test_crash_mid_promotion_keeps_old_current(tmp_path: Path, monkeypatch) -> None:
    reg = Registry(tmp_path)
    make_version(reg, "chat", "v1")
    make_version(reg, "chat", "v2")
    reg.promote("chat", "v1")
    real_replace = os.replace

    def crash(src: str, dst: str) -> None:
        if str(dst).endswith("current"):
            raise OSError("power lost")
        real_replace(src, dst)

    monkeypatch.setattr(registry_module.os, "replace", crash)
    with pytest.raises(OSError):
        reg.promote("chat", "v2")
    monkeypatch.setattr(registry_module.os, "replace", real_replace)
    assert reg.current("chat") == "v1"
    assert not [p for p in (tmp_path / "chat").iterdir() if p.name.endswith(".tmp")]


def test_resolve_without_current(tmp_path: Path) -> None:
    with pytest.raises(RegistryError):
        Registry(tmp_path).resolve("chat")


class DiskLog:
    """Records fsyncs (by path) and renames, in order, through monkeypatched ``os`` calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str]] = []
        real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

        def fsync(fd: int) -> None:
            self.events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
            real_fsync(fd)

        def rename(src: str, dst: str) -> None:
            real_rename(src, dst)
            self.events.append(("rename", str(dst)))

        def replace(src: str, dst: str) -> None:
            real_replace(src, dst)
            self.events.append(("rename", str(dst)))

        monkeypatch.setattr(registry_module.os, "fsync", fsync)
        monkeypatch.setattr(registry_module.os, "rename", rename)
        monkeypatch.setattr(registry_module.os, "replace", replace)

    def index(self, kind: str, path: Path | str) -> int:
        return self.events.index((kind, str(path)))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fds")
def test_a_version_is_on_disk_before_it_becomes_visible(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(tmp_path)
    disk = DiskLog(monkeypatch)
    with reg.new_version("chat", "v1") as (_, staging):
        (staging / "weights").mkdir()
        (staging / "weights" / "model.h5").write_bytes(b"w" * 100)
        Registry.write_card(staging, {"version": "v1"})
    versions = tmp_path / "chat" / "versions"
    shown = disk.index("rename", versions / "v1")
    for path in (staging / "weights" / "model.h5", staging / CARD_NAME, staging / "weights",
                 staging):
        assert disk.index("fsync", path) < shown, path  # data and folders, then the rename
    assert ("fsync", str(versions)) in disk.events[shown:]  # the rename itself made durable


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fds")
def test_the_pointer_is_durable_before_the_history(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(tmp_path)
    make_version(reg, "chat", "v1")
    make_version(reg, "chat", "v2")
    reg.promote("chat", "v1")
    for switch in (lambda: reg.promote("chat", "v2"), lambda: reg.rollback("chat")):
        disk = DiskLog(monkeypatch)
        switch()
        task_dir = tmp_path / "chat"
        pointer = disk.index("rename", task_dir / "current")
        history = disk.index("rename", task_dir / "history.json")
        assert pointer < history
        assert disk.events[pointer + 1] == ("fsync", str(task_dir))
        assert disk.events[history + 1] == ("fsync", str(task_dir))


def _crash_on(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real_replace = os.replace

    def crash(src: str, dst: str) -> None:
        if str(dst).endswith(name):
            raise OSError("power lost")
        real_replace(src, dst)

    monkeypatch.setattr(registry_module.os, "replace", crash)


def test_a_crash_between_pointer_and_history_still_rolls_back_right(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(tmp_path)
    for name in ("v0", "v1", "v2"):
        make_version(reg, "chat", name)
    reg.promote("chat", "v0")
    reg.promote("chat", "v1")
    _crash_on(monkeypatch, "history.json")
    with pytest.raises(OSError):
        reg.promote("chat", "v2")  # the pointer moved, the history did not
    monkeypatch.undo()
    assert reg.current("chat") == "v2"
    assert reg.previous("chat") == "v1"
    reg.promote("chat", "v2")  # a retried promotion completes the history
    _crash_on(monkeypatch, "history.json")
    with pytest.raises(OSError):
        reg.rollback("chat")  # back to v1 on the pointer; history still ends in v2
    monkeypatch.undo()
    assert reg.current("chat") == "v1"
    assert reg.previous("chat") == "v0"  # not v2, which was rolled back from
    assert reg.rollback("chat") == "v0"


def test_earlier_versions_newest_first(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    for name in ("v1", "v2", "v3"):
        make_version(reg, "chat", name)
    assert reg.earlier("chat", "v3") == ["v2", "v1"]
    assert reg.earlier("chat", "v1") == []


def test_retention_keeps_current_previous_pinned_and_the_newest_candidates(
        tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    for name in ("v1", "v2", "v3", "v4", "v5", "v6", "v7"):
        make_version(reg, "chat", name)
    reg.promote("chat", "v2")
    reg.promote("chat", "v4")  # current v4, previous v2
    reg.pin("chat", "v1")
    runs = tmp_path / "chat" / "runs"
    for run, status in (("r1", "done"), ("r2", "failed"), ("r3", "running")):
        (runs / run).mkdir(parents=True)
        (runs / run / "run.json").write_text(json.dumps({"status": status}))
        (runs / run / "best.weights.h5").write_bytes(b"w")
    deleted = reg.prune("chat", keep_candidates=2)
    assert sorted(p.name for p in deleted) == ["r1", "r2", "v3", "v5"]
    assert [v.version for v in reg.versions("chat")] == ["v1", "v2", "v4", "v6", "v7"]
    assert sorted(p.name for p in runs.iterdir()) == ["r3"]  # may be resumed
    assert reg.current("chat") == "v4" and reg.rollback("chat") == "v2"


def test_a_full_disk_while_writing_a_version_leaves_the_registry_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(tmp_path)
    make_version(reg, "chat", "v1")
    reg.promote("chat", "v1")

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(registry_module.os, "fsync", full)  # the card's write hits the limit
    with pytest.raises(OSError), reg.new_version("chat", "v2") as (_, staging):
        (staging / "weights.bin").write_bytes(b"w" * 10)
        Registry.write_card(staging, {"version": "v2", "created_at": "v2"})
    monkeypatch.undo()
    assert [v.version for v in reg.versions("chat")] == ["v1"] and reg.current("chat") == "v1"
    assert [p.name for p in (tmp_path / "chat" / "versions").iterdir()] == ["v1"]
