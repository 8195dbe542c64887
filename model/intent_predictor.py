"""The intent router: from free text to qa | chat | translate | summarize, without TensorFlow.

The classifier (``model.intent_model.IntentClassifier``, Keras, trained by
``model.intent_train``) reads the message with a bidirectional GRU over its subword tokens, adds
the log of the message's length in tokens (a pasted paragraph is long even when cut to
``max_len``) and predicts one of ``LABELS`` with a softmax. ``IntentPredictor`` returns the
label, its probability, and for ``translate`` / ``summarize`` the text the request is about
(``extract_translation``, ``extract_summary_text`` of ``model.routing_rules``, the one rule set
the bot's fallback routing uses too). A loaded version runs the classifier's NumPy forward pass
(``model.rnn_numpy``), so routing needs no TensorFlow.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from model.prediction import Prediction, note_request
from model.rnn_numpy import IntentClassifierNP, read_weights
from model.routing_rules import (  # noqa: F401 (re-exported: the extraction of a prediction)
    MIN_CONFIDENCE,
    extract_summary_text,
    extract_translation,
    target_language,
)
from model.token_rows import pad_ids
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


def intent_inputs(tokenizer: Tokenizer, texts: Sequence[str], max_len: int) -> dict[str, Any]:
    """Model inputs: the first ``max_len`` tokens and log(1 + length) / log(512) of the whole."""
    rows, lengths = [], []
    for text in texts:
        ids = tokenizer.encode(text) or [PAD_ID + 1]
        rows.append(ids[:max_len])
        lengths.append(math.log1p(len(ids)) / math.log(512))
    return {"tokens": pad_ids(rows), "length": np.array(lengths, np.float32)[:, None]}


# -- prediction --------------------------------------------------------------------------------


class IntentWeights(Protocol):
    """What the predictor needs of its classifier: the weights (to save a version) and the
    forward pass, (B, T) token ids and (B, 1) lengths -> (B, labels) probabilities (Keras'
    ``IntentClassifier`` or ``IntentClassifierNP``)."""

    def get_weights(self) -> list[np.ndarray]: ...

    def inference_function(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]: ...


class IntentPredictor:
    """A loaded intent version: classifier + extraction."""

    def __init__(self, model: IntentWeights, tokenizer: Tokenizer, config: IntentConfig,
                 task: str = "intent", version: str = "candidate",
                 card: dict[str, Any] | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.task = task
        self.version = version
        self.card = card or {}
        self._lock = threading.Lock()
        self._forward = model.inference_function()

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), n_labels) label probabilities."""
        out = np.zeros((len(texts), len(self.config.labels)), np.float32)
        for start in range(0, len(texts), 256):
            inputs = intent_inputs(self.tokenizer, texts[start : start + 256],
                                   self.config.max_len)
            with self._lock:
                out[start : start + 256] = self._forward(inputs["tokens"], inputs["length"])
        return out

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label, confidence and the extracted text of each message (sure from the version's
        ``min_confidence`` on)."""
        note_request()
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
    directory = Path(directory)
    config = IntentConfig.from_dict(json.loads((directory / CONFIG).read_text(encoding="utf-8")))
    model = IntentClassifierNP(read_weights(directory))
    if card is None and (directory / "card.json").is_file():
        card = json.loads((directory / "card.json").read_text(encoding="utf-8"))
    name = version or str((card or {}).get("version") or directory.name)
    return IntentPredictor(model, Tokenizer.load(directory), config, task, name, card)

