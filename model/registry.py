"""Versions of each task's model on disk, their model cards, and an atomic ``current`` pointer.

Layout under the registry root (``MODEL_DIR``)::

    <task>/versions/<version>/       one trained version: weights, tokenizer, card.json, curve.png
    <task>/versions/.staging-*/      a version being written; never listed, never promoted
    <task>/current                   the serving version's name (replaced atomically)
    <task>/history.json              promotions in order, for rollback
    <task>/pinned.json               versions that retention never deletes
    <task>/runs/<stamp>/             a training run's checkpoints and best weights (model.train)

A version directory only appears (by ``os.rename`` of its staging directory) once everything in
it is written, and ``promote`` refuses a directory without a card, so a crash at any point leaves
the previous ``current`` in place. "Written" means on disk: every file of a version and the
staging directory itself are fsynced before the rename, and the parent directory after it, and
the pointer and ``history.json`` are each replaced atomically (temporary file, fsync, rename,
fsync of the directory), so a power loss cannot leave a pointer to a version whose weights
are still in the page cache. The pointer is written before ``history.json``: a crash between
the two leaves a history without its newest entry, which ``previous`` reads correctly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CARD = "card.json"


class RegistryError(RuntimeError):
    """A version is missing, incomplete, or a promotion/rollback is impossible."""


@dataclass(frozen=True)
class VersionInfo:
    task: str
    version: str
    path: Path
    card: dict[str, Any]
    is_current: bool


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file created or renamed in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file under ``root``, then every directory, deepest first."""
    directories = []
    for folder, _subdirs, files in os.walk(root):
        directories.append(Path(folder))
        for name in files:
            with open(Path(folder) / name, "rb") as handle:
                os.fsync(handle.fileno())
    for directory in reversed(directories):
        fsync_dir(directory)


def _atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same directory, fsync, rename over ``path``, and fsync
    the directory (the rename itself is durable only then)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def is_version_name(name: str) -> bool:
    """A plain directory name under ``versions/``: no path, not hidden (staging)."""
    return bool(name) and not name.startswith(".") and "/" not in name and "\\" not in name


def new_version_name() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"v{stamp}-{uuid.uuid4().hex[:6]}"


class Registry:
    """Model versions of every task under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- layout ------------------------------------------------------------------------------
    def task_dir(self, task: str) -> Path:
        return self.root / task

    def version_dir(self, task: str, version: str) -> Path:
        return self.task_dir(task) / "versions" / version

    def tasks(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "versions").is_dir())

    # -- writing versions --------------------------------------------------------------------
    @contextlib.contextmanager
    def new_version(self, task: str, version: str | None = None) -> Iterator[tuple[str, Path]]:
        """Yield (name, staging dir); on a clean exit the directory becomes a version atomically.

        The caller must write ``card.json`` into the directory; a version without one is rejected.
        On an exception the staging directory is removed and nothing becomes visible.
        """
        name = version or new_version_name()
        versions = self.task_dir(task) / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=versions, prefix=f".staging-{name}-"))
        try:
            yield name, staging
            if not (staging / CARD).is_file():
                raise RegistryError(f"version {name} of {task} has no {CARD}")
            fsync_tree(staging)  # weights, tokenizer, card and the folder, before it is visible
            os.rename(staging, versions / name)
            fsync_dir(versions)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def import_version(self, task: str, source_dir: Path) -> str:
        """Copy a complete version directory (e.g. the shipped default) into the registry."""
        card = json.loads((Path(source_dir) / CARD).read_text(encoding="utf-8"))
        name = str(card.get("version") or new_version_name())
        if self.version_dir(task, name).is_dir():
            return name
        with self.new_version(task, name) as (_, staging):
            for item in Path(source_dir).iterdir():
                if item.is_file():
                    shutil.copy2(item, staging / item.name)
        return name

    @staticmethod
    def write_card(directory: Path, card: dict[str, Any]) -> None:
        _atomic_write_text(Path(directory) / CARD, json.dumps(card, indent=2, ensure_ascii=False))

    # -- reading -----------------------------------------------------------------------------
    def card(self, task: str, version: str) -> dict[str, Any]:
        if not is_version_name(version):  # "/tmp/x", "../..", ".staging-*": no version's name
            raise RegistryError(f"{task} has no complete version {version!r}")
        path = self.version_dir(task, version) / CARD
        if not path.is_file():
            raise RegistryError(f"{task} has no complete version {version!r}")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def versions(self, task: str) -> list[VersionInfo]:
        directory = self.task_dir(task) / "versions"
        if not directory.is_dir():
            return []
        current = self.current(task)
        found = []
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or not (path / CARD).is_file():
                continue
            card = self.card(task, path.name)
            found.append(VersionInfo(task, path.name, path, card, path.name == current))
        found.sort(key=lambda info: (str(info.card.get("created_at", "")), info.version))
        return found

    def check_version(self, task: str, version: str) -> None:
        """Raise unless ``version`` is one of ``versions(task)``; the error names them."""
        names = [info.version for info in self.versions(task)]
        if version not in names:
            raise RegistryError(f"{task} has no complete version {version!r}; its versions: "
                                f"{', '.join(names) or 'none'}")

    def current(self, task: str) -> str | None:
        pointer = self.task_dir(task) / "current"
        if not pointer.is_file():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        return name or None

    def resolve(self, task: str, version: str | None = None) -> Path:
        """Directory of ``version`` (default: current) of ``task``; raises if there is none."""
        name = version or self.current(task)
        if name is None:
            raise RegistryError(f"task {task!r} has no current version in {self.root}")
        self.card(task, name)  # completeness check
        return self.version_dir(task, name)

    def history(self, task: str) -> list[str]:
        path = self.task_dir(task) / "history.json"
        if not path.is_file():
            return []
        return list(json.loads(path.read_text(encoding="utf-8")))

    # -- switching ---------------------------------------------------------------------------
    def promote(self, task: str, version: str) -> None:
        """Make ``version`` current (atomic rename of the pointer file), then record it.

        Only a name ``versions`` lists is taken: not a path, not a staging directory, not a
        version without a card."""
        self.check_version(task, version)
        history = self.history(task)
        _atomic_write_text(self.task_dir(task) / "current", version + "\n")
        if not history or history[-1] != version:
            history.append(version)
        _atomic_write_text(self.task_dir(task) / "history.json", json.dumps(history, indent=1))

    def _back_from(self, task: str) -> list[str]:
        """The history up to the version before the current one (whose directory is complete).

        Entries after the last occurrence of the current version are dropped: they are what a
        rollback that stopped between writing the pointer and the history left behind."""
        history = self.history(task)
        current = self.current(task)
        if current in history:
            del history[len(history) - history[::-1].index(current):]
        while history and history[-1] == current:
            history.pop()
        while history and not (self.version_dir(task, history[-1]) / CARD).is_file():
            history.pop()
        return history

    def previous(self, task: str) -> str | None:
        """The version ``rollback`` would return to, if any."""
        history = self._back_from(task)
        return history[-1] if history else None

    def earlier(self, task: str, version: str) -> list[str]:
        """Complete versions created before ``version``, newest first (a fallback's order)."""
        found = self.versions(task)
        names = [info.version for info in found]
        if version not in names:
            return names[::-1]
        return names[: names.index(version)][::-1]

    def rollback(self, task: str) -> str:
        """Return to the version promoted before the current one; returns its name."""
        history = self._back_from(task)
        if not history:
            raise RegistryError(f"{task} has no earlier version to roll back to")
        previous = history[-1]
        _atomic_write_text(self.task_dir(task) / "current", previous + "\n")
        _atomic_write_text(self.task_dir(task) / "history.json", json.dumps(history, indent=1))
        return previous

    # -- retention ---------------------------------------------------------------------------
    def pinned(self, task: str) -> list[str]:
        path = self.task_dir(task) / "pinned.json"
        return list(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else []

    def pin(self, task: str, version: str, pinned: bool = True) -> None:
        """Keep ``version`` whatever the retention policy says (or stop keeping it)."""
        self.check_version(task, version)
        names = [name for name in self.pinned(task) if name != version]
        if pinned:
            names.append(version)
        _atomic_write_text(self.task_dir(task) / "pinned.json", json.dumps(names, indent=1))

    def expendable(self, task: str, keep_candidates: int) -> list[Path]:
        """What the retention policy deletes: every version except the current, the previous,
        the pinned and the ``keep_candidates`` newest others; and the folders of training runs
        that finished or failed (their checkpoints and best weights; a run still marked running
        may be resumed, so it stays)."""
        keep = {self.current(task), self.previous(task), *self.pinned(task)}
        others = [info for info in self.versions(task) if info.version not in keep]
        doomed = [info.path for info in others[: max(len(others) - keep_candidates, 0)]]
        runs = self.task_dir(task) / "runs"
        for run in sorted(runs.iterdir()) if runs.is_dir() else []:
            meta = run / "run.json"
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                if meta.is_file() and json.loads(meta.read_text())["status"] != "running":
                    doomed.append(run)
        return doomed

    def prune(self, task: str, keep_candidates: int) -> list[Path]:
        """Delete what ``expendable`` lists; returns the deleted paths."""
        doomed = self.expendable(task, keep_candidates)
        for path in doomed:
            shutil.rmtree(path, ignore_errors=True)
        return doomed
