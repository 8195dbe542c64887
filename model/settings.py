"""Where models and corpora live and how TensorFlow runs: one frozen record, passed as an argument.

The bot builds ``ModelSettings`` from its own settings; the command lines (``python -m model``,
the promotion gate, the trainers they start) build it from the environment with
``settings_from_env``, the one place in ``model`` that reads these variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = REPO_ROOT / "data" / "models"
DEFAULT_DATA_DIR = REPO_ROOT / "data" / "corpora"


@dataclass(frozen=True)
class ModelSettings:
    """What loading a model needs to know besides the task and the version."""

    model_dir: Path = DEFAULT_MODEL_DIR  # the registry root
    data_dir: Path = DEFAULT_DATA_DIR  # the corpus cache (<data_dir>/tasks/<corpus>)
    intra_threads: int = 0  # TensorFlow CPU threads; 0: TensorFlow's choice
    inter_threads: int = 0
    xla: bool = True  # XLA-compiled decoding: 2-3x faster per request (bench/decode.py)
    qa_user_dir: Path | None = None  # qa pairs added at run time; None: kept in memory only


def settings_from_env(model_dir: Path | str | None = None,
                      environ: Mapping[str, str] | None = None) -> ModelSettings:
    """``MODEL_DIR``, ``MODEL_DATA_DIR``, ``TF_INTRA_THREADS``, ``TF_INTER_THREADS`` and
    ``MODEL_XLA`` (unset or empty: the defaults); ``model_dir`` (a command-line flag) wins."""
    env = os.environ if environ is None else environ
    return ModelSettings(
        model_dir=Path(model_dir or env.get("MODEL_DIR") or DEFAULT_MODEL_DIR),
        data_dir=Path(env.get("MODEL_DATA_DIR") or DEFAULT_DATA_DIR),
        intra_threads=int(env.get("TF_INTRA_THREADS") or 0),
        inter_threads=int(env.get("TF_INTER_THREADS") or 0),
        xla=(env.get("MODEL_XLA") or "1") != "0",
    )


def default_model_dir() -> Path:
    """Registry root of the command lines: ``MODEL_DIR`` or ``<repo>/data/models``."""
    return settings_from_env().model_dir


def default_data_dir() -> Path:
    """Corpus cache of the command lines: ``MODEL_DATA_DIR`` or ``<repo>/data/corpora``."""
    return settings_from_env().data_dir
