"""The qa pairs added and removed at run time, kept with the bot's data (not with the model).

Several bot processes (replicas) may share one data directory and so one overlay file. A
save therefore does not write this process's view over the file: under a file lock it reads
the file, keeps what another process wrote that this one never held (another replica's new
pair), drops what this one held and has since removed, and writes the result atomically. So
one replica's write no longer drops another's newest pair.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from model.qa_fingerprint import pair_fingerprint, pair_key
from model.registry import _atomic_write_text

OVERLAY = "qa_overlay.json"


@dataclass
class Overlay:
    """Pairs added and removed at run time, kept with the bot's data (not with the model)."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str | None]] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)  # pair fingerprints: never served again
    # what this process has held (loaded or saved): a pair of the file outside these was
    # written by another process and is kept; one inside them and gone from ``added`` (or
    # ``removed``) was dropped here and is dropped from the file too
    _held_added: set[tuple[str, str]] = field(default_factory=set, repr=False, compare=False)
    _held_removed: set[tuple[str, str | None]] = field(default_factory=set, repr=False,
                                                       compare=False)

    @classmethod
    def load(cls, directory: Path | None) -> Overlay:
        overlay = cls._read(Path(directory) / OVERLAY if directory else None)
        overlay._hold()
        return overlay

    @classmethod
    def _read(cls, path: Path | None) -> Overlay:
        if path is None or not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([(q, a) for q, a in data.get("added", [])],
                   [(q, a) for q, a in data.get("removed", [])],
                   [str(f) for f in data.get("forgotten", [])])

    def _hold(self) -> None:
        self._held_added |= {pair_key(q, a) for q, a in self.added}
        self._held_removed |= set(self.removed)

    def merged_with(self, disk: Overlay) -> Overlay:
        """This process's overlay plus what ``disk`` holds that this process never held."""
        mine = {pair_key(q, a) for q, a in self.added}
        added = list(self.added) + [
            (q, a) for q, a in disk.added
            if pair_key(q, a) not in mine and pair_key(q, a) not in self._held_added]
        removed = list(self.removed) + [
            r for r in disk.removed
            if r not in self.removed and r not in self._held_removed]
        forgotten = list(self.forgotten) + [f for f in disk.forgotten
                                            if f not in set(self.forgotten)]
        gone = set(forgotten)
        added = [(q, a) for q, a in added if pair_fingerprint(q, a) not in gone]
        return Overlay(added, removed, forgotten)

    def save(self, directory: Path) -> None:
        path = Path(directory) / OVERLAY
        with _locked(path):
            try:
                disk = self._read(path)
            except (OSError, ValueError):  # an unreadable file: this process's view replaces it
                disk = Overlay()
            merged = self.merged_with(disk)
            data = {"added": [list(p) for p in merged.added],
                    "removed": [list(p) for p in merged.removed],
                    "forgotten": merged.forgotten}
            _atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1))
        self._hold()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path``'s lock file (processes sharing the data directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
