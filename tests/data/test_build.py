"""build_all on fake sources (fixtures only, no network): manifest, reuse, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.data import build
from model.data.__main__ import main
from model.data.chat import chatterbot_chat_rows, chitchat_rows
from model.data.readers import read_tsv
from model.data.sources import Fetched, SourceSpec


def _fake_sources(fixtures: Path, calls: list[str]) -> tuple[SourceSpec, ...]:
    def chitchat(_f: Fetched) -> list[tuple[str, str, str]]:
        calls.append("chitchat")
        return chitchat_rows(fixtures / "chitchat.json")

    def chatterbot(_f: Fetched) -> list[tuple[str, str, str]]:
        calls.append("chatterbot")
        return chatterbot_chat_rows([fixtures / "chatterbot" / "english" / "greetings.yml"])

    def broken(_f: Fetched) -> list[tuple[str, str, str]]:
        raise RuntimeError("boom")

    return (
        SourceSpec("fake-chitchat", "chat", "MIT", chitchat),
        SourceSpec("fake-chatterbot", "chat", "BSD-3-Clause", chatterbot),
        SourceSpec("fake-broken", "summarize", "none", broken),
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, fixtures: Path) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(build, "SOURCES", _fake_sources(fixtures, calls))
    return calls


def test_build_writes_sources_tasks_and_manifest(tmp_path: Path, fake: list[str]) -> None:
    manifest = build.build_all(tmp_path)
    assert fake == ["chitchat", "chatterbot"]
    source = manifest["sources"]["fake-chitchat"]
    assert source["pairs"] == 3 and source["licence"] == "MIT"
    assert source["sha256"] == build.sha256_file(tmp_path / "sources" / "fake-chitchat.tsv")
    assert "fake-broken" in manifest["failed"] and "boom" in manifest["failed"]["fake-broken"]
    task = manifest["tasks"]["chat"]
    assert set(task["splits"]) == {"train", "dev", "test"}
    total = 0
    for split in task["splits"].values():
        path = tmp_path / split["path"]
        assert split["pairs"] == len(read_tsv(path)) if split["pairs"] else path.read_text() == ""
        total += split["pairs"]
    assert total == 3 + 6
    on_disk = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    assert on_disk["sources"]["fake-chatterbot"]["pairs"] == 6
    assert "task chat" in (tmp_path / "STATUS.txt").read_text("utf-8")


def test_second_build_reuses_cache(tmp_path: Path, fake: list[str]) -> None:
    first = build.build_all(tmp_path)
    fake.clear()
    second = build.build_all(tmp_path)
    assert fake == []  # nothing re-extracted
    assert second["sources"]["fake-chitchat"]["built"] == first["sources"]["fake-chitchat"]["built"]
    assert second["tasks"]["chat"]["built"] == first["tasks"]["chat"]["built"]
    assert "cached" in (tmp_path / "STATUS.txt").read_text("utf-8")


def test_checksum_mismatch_or_force_rebuilds(tmp_path: Path, fake: list[str]) -> None:
    build.build_all(tmp_path)
    fake.clear()
    (tmp_path / "sources" / "fake-chitchat.tsv").write_text("tampered\tfile\tg\n", "utf-8")
    build.build_all(tmp_path)
    assert fake == ["chitchat"]
    fake.clear()
    build.build_all(tmp_path, only={"fake-chatterbot"}, force=True)
    assert fake == ["chatterbot"]


def test_only_rejects_unknown_source(tmp_path: Path, fake: list[str]) -> None:
    with pytest.raises(ValueError, match="unknown source"):
        build.build_all(tmp_path, only={"nope"})


def test_cli(tmp_path: Path, fake: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["build", "--cache", str(tmp_path), "--only", "fake-chitchat"])
    assert status == 0
    out = capsys.readouterr().out
    assert "fake-chitchat" in out and "manifest" in out
    assert main(["build", "--cache", str(tmp_path), "--only", "nope"]) == 2


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODEL_DATA_DIR", str(tmp_path))
    assert build.default_cache_dir() == tmp_path
    monkeypatch.delenv("MODEL_DATA_DIR")
    repo = Path(build.__file__).resolve().parents[2]
    assert build.default_cache_dir() == repo / "data" / "corpora"
