"""Reading and writing the files of one model version (weights, config, tokenizer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np

from model.seq2seq import ModelConfig, Seq2Seq
from model.tokenizer import Tokenizer

WEIGHTS = "weights.npz"
CONFIG = "config.json"


class Weighted(Protocol):
    """A Keras model, or a NumPy forward pass holding a version's weights."""

    def get_weights(self) -> list[np.ndarray]: ...


def save_weights(model: Weighted, directory: Path, dtype: str = "float16") -> int:
    """Write a model's weights in compact ``dtype``; returns the file size in bytes."""
    directory = Path(directory)
    arrays: dict[str, Any] = {f"w{i:03d}": w.astype(dtype)
                              for i, w in enumerate(model.get_weights())}
    np.savez_compressed(directory / WEIGHTS, **arrays)
    return (directory / WEIGHTS).stat().st_size


def save_model(model: Seq2Seq, config: ModelConfig, directory: Path, dtype: str = "float16") -> int:
    """Write weights (compact ``dtype``) and config; returns the size of the weights in bytes."""
    size = save_weights(model, directory, dtype)
    (Path(directory) / CONFIG).write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    return size


def load_weights_into(model: keras.Model, directory: Path) -> None:
    with np.load(Path(directory) / WEIGHTS) as data:
        weights = [data[f"w{i:03d}"].astype(np.float32) for i in range(len(data.files))]
    model.set_weights(weights)


def load_config(directory: Path) -> ModelConfig:
    data: dict[str, Any] = json.loads((Path(directory) / CONFIG).read_text(encoding="utf-8"))
    return ModelConfig.from_dict(data)


def load_model(directory: Path) -> tuple[Seq2Seq, Tokenizer, ModelConfig]:
    """Build the model of a version directory and load its weights and tokenizer."""
    config = load_config(directory)
    model = Seq2Seq.from_model_config(config)
    load_weights_into(model, directory)
    return model, Tokenizer.load(directory), config
