"""A run killed while writing a checkpoint resumes from what is intact."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from model.train import _drop_unreadable_checkpoints


def _h5(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["w"] = np.arange(4)


def test_half_written_checkpoints_are_dropped_intact_ones_kept(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _h5(run / "best.weights.h5")
    _h5(run / "backup" / "latest.weights.h5")
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 1}')
    _drop_unreadable_checkpoints(run)
    assert (run / "best.weights.h5").is_file() and (run / "backup" / "latest.weights.h5").is_file()

    data = (run / "backup" / "latest.weights.h5").read_bytes()
    (run / "backup" / "latest.weights.h5").write_bytes(data[: len(data) // 3])  # killed mid-write
    (run / "best.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)
    _drop_unreadable_checkpoints(run)
    assert not (run / "backup").exists()  # the step backup goes whole, metadata included
    assert not (run / "best.weights.h5").exists()
