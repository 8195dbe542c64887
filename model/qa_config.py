"""The qa dual encoder's settings (``QAConfig``) and its batched text embedding
(``TextEmbedder``), free of TensorFlow.

``TextEmbedder`` runs whatever encoder the predictor holds: the Keras ``DualEncoder`` while
training (compiled ``tf.function``s, ``model.qa_encoder``), or its NumPy forward pass when a
version is served (``model.rnn_numpy``), so the bot answers questions without importing
TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from model.token_rows import encode_texts, pad_ids
from model.tokenizer import Tokenizer

Encode = Callable[[np.ndarray], np.ndarray]


@dataclass
class QAConfig:
    """Hyper-parameters of the dual encoder and the serving settings chosen on the dev set."""

    vocab_size: int = 8000
    embed_dim: int = 128
    units: int = 128
    output_dim: int = 256
    cell: str = "gru"
    dropout: float = 0.1
    max_question_len: int = 32
    max_answer_len: int = 32
    answer_weight: float = 0.3  # weight of question->answer similarity vs question->question
    lexical_weight: float = 0.0  # weight of the character n-gram TF-IDF similarity (hybrid)
    answer_lexical_weight: float = 0.0  # the same TF-IDF similarity against the stored answer
    calibration: tuple[float, float, float] = (10.0, 10.0, -7.0)  # a*score + b*margin + c
    threshold: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QAConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "calibration" in known:
            known["calibration"] = tuple(known["calibration"])
        return cls(**known)


class QAWeights(Protocol):
    """What a qa predictor needs of its model: the weights (to save a version) and the two
    encoders as functions of padded token ids (Keras' ``DualEncoder`` or ``DualEncoderNP``)."""

    def get_weights(self) -> list[np.ndarray]: ...

    def inference_functions(self) -> tuple[Encode, Encode]: ...


class TextEmbedder:
    """Batched encoding of question and answer texts to vectors (inference only)."""

    def __init__(self, model: QAWeights, tokenizer: Tokenizer, config: QAConfig,
                 batch_size: int = 256) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.batch_size = batch_size
        self._questions, self._answers = model.inference_functions()

    def questions(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._questions, texts, self.config.max_question_len)

    def answers(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._answers, texts, self.config.max_answer_len)

    def _run(self, fn: Encode, texts: Sequence[str], max_len: int) -> np.ndarray:
        rows = encode_texts(self.tokenizer, texts, max_len)
        order = np.argsort([len(r) for r in rows], kind="stable")  # similar lengths together
        out = np.zeros((len(rows), self.config.output_dim), np.float32)
        for start in range(0, len(rows), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = fn(pad_ids([rows[i] for i in chunk]))
        return out
