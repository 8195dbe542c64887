import os
from pathlib import Path

import pytest

from model import registry as registry_module
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
