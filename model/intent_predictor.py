"""The intent model: a small RNN classifier from free text to qa | chat | translate | summarize.

``IntentClassifier`` reads the message with a bidirectional GRU (``SentenceEncoder``) over its
subword tokens, adds the log of the message's length in tokens (a pasted paragraph is long even
when cut to ``max_len``) and predicts one of ``LABELS`` with a softmax. ``IntentPredictor``
returns the label, its probability, and for ``translate`` / ``summarize`` the text the request
is about (``extract_translation``, ``extract_summary_text`` of ``model.routing_rules``, the one
rule set the bot's fallback routing uses too).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.encoders import SentenceEncoder, pad_ids
from model.layers import PACKAGE
from model.prediction import Prediction
from model.routing_rules import (  # noqa: F401 (re-exported: the extraction of a prediction)
    MIN_CONFIDENCE,
    extract_summary_text,
    extract_translation,
    target_language,
)
from model.tokenizer import PAD_ID, Tokenizer, normalize

LABELS = ("qa", "chat", "translate", "summarize")
CONFIG = "config.json"


@dataclass
class IntentConfig:
    vocab_size: int = 4000
    embed_dim: int = 64
    units: int = 64
    hidden: int = 64
    dropout: float = 0.1
    max_len: int = 64
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    min_confidence: float = MIN_CONFIDENCE  # below it, a prediction is not sure

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntentConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@keras.saving.register_keras_serializable(PACKAGE)
class IntentClassifier(keras.Model):
    """{"tokens": (B, T) int32, "length": (B, 1) float32} -> label probabilities (B, L)."""

    def __init__(self, vocab_size: int, embed_dim: int, units: int, hidden: int,
                 n_labels: int, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.units = units
        self.hidden = hidden
        self.n_labels = n_labels
        self.dropout_rate = dropout
        self.embedding = layers.Embedding(vocab_size, embed_dim, name="embedding")
        self.encoder = SentenceEncoder(units, hidden, "gru", dropout, normalize=False,
                                       name="encoder")
        self.classifier = layers.Dense(n_labels, activation="softmax", name="classifier")

    @classmethod
    def from_config_object(cls, config: IntentConfig) -> IntentClassifier:
        model = cls(config.vocab_size, config.embed_dim, config.units, config.hidden,
                    len(config.labels), config.dropout)
        model({"tokens": tf.ones((1, 8), tf.int32), "length": tf.ones((1, 1), tf.float32)})
        return model

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        tokens = inputs["tokens"]
        vector = self.encoder(self.embedding(tokens), tokens != PAD_ID, training=training)
        return self.classifier(tf.concat([vector, inputs["length"]], axis=-1))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "units": self.units,
            "hidden": self.hidden,
            "n_labels": self.n_labels,
            "dropout": self.dropout_rate,
        }


def intent_inputs(tokenizer: Tokenizer, texts: Sequence[str], max_len: int) -> dict[str, Any]:
    """Model inputs: the first ``max_len`` tokens and log(1 + length) / log(512) of the whole."""
    rows, lengths = [], []
    for text in texts:
        ids = tokenizer.encode(text) or [PAD_ID + 1]
        rows.append(ids[:max_len])
        lengths.append(math.log1p(len(ids)) / math.log(512))
    return {"tokens": pad_ids(rows), "length": np.array(lengths, np.float32)[:, None]}


# -- prediction --------------------------------------------------------------------------------


class IntentPredictor:
    """A loaded intent version: classifier + extraction."""

    def __init__(self, model: IntentClassifier, tokenizer: Tokenizer, config: IntentConfig,
                 task: str = "intent", version: str = "candidate",
                 card: dict[str, Any] | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.task = task
        self.version = version
        self.card = card or {}
        self._lock = threading.Lock()
        spec = {"tokens": tf.TensorSpec([None, None], tf.int32),
                "length": tf.TensorSpec([None, 1], tf.float32)}
        self._forward = tf.function(lambda inputs: model(inputs), input_signature=[spec])

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), n_labels) label probabilities."""
        out = np.zeros((len(texts), len(self.config.labels)), np.float32)
        for start in range(0, len(texts), 256):
            inputs = intent_inputs(self.tokenizer, texts[start : start + 256],
                                   self.config.max_len)
            with self._lock:
                out[start : start + 256] = self._forward(inputs).numpy()
        return out

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label, confidence and the extracted text of each message (sure from the version's
        ``min_confidence`` on)."""
        texts = [normalize(str(t)) if "\n" not in str(t) else str(t).strip() for t in texts]
        probs = self.probabilities(texts) if texts else np.zeros((0, 0))
        out = []
        for text, row in zip(texts, probs, strict=True):
            label = self.config.labels[int(np.argmax(row))]
            payload, target = text, None
            if label == "translate":
                payload, target = extract_translation(text)
            elif label == "summarize":
                payload = extract_summary_text(text)
            confidence = float(row.max())
            out.append(Prediction(payload, confidence, self.task, self.version,
                                  confidence >= self.config.min_confidence, label, target))
        return out

    def warm_up(self, max_batch: int) -> None:
        """Trace the classifier on one short text."""
        self.predict(["hello"])


# -- version files -----------------------------------------------------------------------------


def save_intent(predictor: IntentPredictor, directory: Path) -> int:
    from model.artifact import save_weights

    size = save_weights(predictor.model, directory)
    (Path(directory) / CONFIG).write_text(json.dumps(predictor.config.to_dict(), indent=2),
                                          encoding="utf-8")
    predictor.tokenizer.save(directory)
    return size


def load_intent_dir(directory: Path, task: str = "intent", version: str | None = None,
                    card: dict[str, Any] | None = None) -> IntentPredictor:
    from model.artifact import load_weights_into

    directory = Path(directory)
    config = IntentConfig.from_dict(json.loads((directory / CONFIG).read_text(encoding="utf-8")))
    model = IntentClassifier.from_config_object(config)
    load_weights_into(model, directory)
    if card is None and (directory / "card.json").is_file():
        card = json.loads((directory / "card.json").read_text(encoding="utf-8"))
    name = version or str((card or {}).get("version") or directory.name)
    return IntentPredictor(model, Tokenizer.load(directory), config, task, name, card)

