"""Disk retention: what the bot keeps of model versions, training runs and snapshots, and how
much disk they use.

Kept: each task's current and previous version, its pinned versions (``Registry.pin``) and the
``RETAIN_CANDIDATES`` newest other versions. Deleted: every other version, the folders of
training runs that finished or failed (step checkpoints, best weights), and training snapshots
that no running retrain uses. It runs at start-up and after every switch and retrain run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiskUse:
    models_bytes: int  # every task's versions and runs
    data_bytes: int  # the bot's data folder (database, overlay, snapshots)
    free_bytes: int  # left on the file system of the bot's data


def _size(root: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):  # deleted meanwhile
                total += (Path(folder) / name).lstat().st_size
    return total


class Retention:
    """The retention policy (module docstring) over the registry and the snapshot folder."""

    def __init__(self, model_dir: Path, data_dir: Path, snapshots: Path,
                 keep_candidates: int) -> None:
        self.model_dir = model_dir
        self.data_dir = data_dir
        self.snapshots = snapshots
        self.keep_candidates = keep_candidates
        self._lock = asyncio.Lock()

    async def prune(self, snapshots: bool = False) -> list[Path]:
        """Delete what the policy does not keep; snapshots too when no retrain runs."""
        async with self._lock:
            deleted = await asyncio.to_thread(self._prune, snapshots)
        for path in deleted:
            log.info("retention: deleted %s", path)
        return deleted

    def _prune(self, snapshots: bool) -> list[Path]:
        from model.api import open_registry

        registry = open_registry(self.model_dir)
        deleted = []
        for task in registry.tasks():
            deleted += registry.prune(task, self.keep_candidates)
        if snapshots and self.snapshots.is_dir():
            for snapshot in sorted(self.snapshots.iterdir()):
                shutil.rmtree(snapshot, ignore_errors=True)
                deleted.append(snapshot)
        return deleted

    async def disk_use(self) -> DiskUse:
        return await asyncio.to_thread(self._disk_use)

    def _disk_use(self) -> DiskUse:
        from model.api import open_registry

        models = open_registry(self.model_dir).root
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return DiskUse(_size(models) if models.is_dir() else 0, _size(self.data_dir),
                       shutil.disk_usage(self.data_dir).free)
