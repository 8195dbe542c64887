"""The steps every load of a model version shares, whatever its kind.

``prepare_tensorflow`` quiets TensorFlow's C++ log and applies the thread settings before the
first graph runs (only the sequence-to-sequence kinds need TensorFlow to serve);
``prepare_numpy`` keeps NumPy's BLAS to one thread; ``version_dir`` installs the shipped default
of a task when the registry has none and resolves the version to load. ``model.predictor`` runs
them once for every kind; the trainers use ``prepare_tensorflow`` too. TensorFlow is imported
only when called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from model.registry import Registry, RegistryError
from model.settings import ModelSettings
from model.task_specs import PRETRAINED_DIR


def prepare_tensorflow(settings: ModelSettings) -> None:
    """Apply the thread settings (0: TensorFlow's default); quiet the C++ log unless set."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # read by TensorFlow at its import
    import tensorflow as tf

    try:
        if settings.intra_threads:
            tf.config.threading.set_intra_op_parallelism_threads(settings.intra_threads)
        if settings.inter_threads:
            tf.config.threading.set_inter_op_parallelism_threads(settings.inter_threads)
    except RuntimeError:  # already initialised; keep what is set
        pass


def prepare_numpy() -> None:
    """One BLAS thread: the NumPy forward passes (``model.rnn_numpy``) multiply small matrices
    once per time step, and waking a second BLAS thread for each costs more than it gains (on
    a busy 2-core machine a batch-1 question took 25 ms with OpenBLAS' threads, 0.3 ms without)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def ensure_default(task: str, registry: Registry) -> None:
    """Install the shipped default version of ``task`` if the registry has no current one."""
    if registry.current(task) is not None:
        return
    shipped = PRETRAINED_DIR / task
    if not (shipped / "card.json").is_file():
        raise RegistryError(
            f"no trained model for {task!r}: run `python -m model train --task {task}`"
        )
    version = registry.import_version(task, shipped)
    registry.promote(task, version)


def version_dir(task: str, settings: ModelSettings,
                version: str | None = None) -> tuple[Path, dict[str, Any]]:
    """The directory and model card of ``version`` of ``task`` (default: the current one,
    installing the shipped default first when there is none)."""
    registry = Registry(settings.model_dir)
    if version is None:
        ensure_default(task, registry)
    path = registry.resolve(task, version)
    return path, registry.card(task, path.name)
