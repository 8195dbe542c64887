"""The qa dual encoder: question and answer encoders over one shared embedding, and their
hyper-parameters (``QAConfig``, also the serving settings chosen on the dev set).

A question encoder and an answer encoder (``SentenceEncoder``: bidirectional GRU + pooling over
the shared subword embedding) map texts to unit vectors; ``TextEmbedder`` runs them batched and
compiled for inference. How the vectors are searched is ``model.qa_bank``'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.encoders import SentenceEncoder, encode_texts, pad_ids
from model.layers import PACKAGE
from model.tokenizer import PAD_ID, Tokenizer


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


@keras.saving.register_keras_serializable(PACKAGE)
class DualEncoder(keras.Model):
    """Question and answer encoders over one shared token embedding."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        units: int,
        output_dim: int,
        cell: str = "gru",
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.units = units
        self.output_dim = output_dim
        self.cell = cell
        self.dropout_rate = dropout
        self.embedding = layers.Embedding(vocab_size, embed_dim, name="embedding")
        self.question_encoder = SentenceEncoder(units, output_dim, cell, dropout, name="question")
        self.answer_encoder = SentenceEncoder(units, output_dim, cell, dropout, name="answer")

    @classmethod
    def from_config_object(cls, config: QAConfig) -> DualEncoder:
        model = cls(config.vocab_size, config.embed_dim, config.units, config.output_dim,
                    config.cell, config.dropout)
        dummy = tf.ones((1, 8), tf.int32)
        model({"question": dummy, "answer": dummy})
        return model

    def encode_questions(self, ids: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.question_encoder(self.embedding(ids), ids != PAD_ID, training=training)

    def encode_answers(self, ids: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.answer_encoder(self.embedding(ids), ids != PAD_ID, training=training)

    def call(
        self, inputs: dict[str, tf.Tensor], training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor]:
        return (self.encode_questions(inputs["question"], training),
                self.encode_answers(inputs["answer"], training))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "units": self.units,
            "output_dim": self.output_dim,
            "cell": self.cell,
            "dropout": self.dropout_rate,
        }


class TextEmbedder:
    """Batched, compiled encoding of question and answer texts to vectors (inference only)."""

    def __init__(self, model: DualEncoder, tokenizer: Tokenizer, config: QAConfig,
                 batch_size: int = 256) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.batch_size = batch_size
        spec = [tf.TensorSpec([None, None], tf.int32)]
        self._questions = tf.function(lambda ids: model.encode_questions(ids), input_signature=spec)
        self._answers = tf.function(lambda ids: model.encode_answers(ids), input_signature=spec)

    def questions(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._questions, texts, self.config.max_question_len)

    def answers(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._answers, texts, self.config.max_answer_len)

    def _run(self, fn: Any, texts: Sequence[str], max_len: int) -> np.ndarray:
        rows = encode_texts(self.tokenizer, texts, max_len)
        order = np.argsort([len(r) for r in rows], kind="stable")  # similar lengths together
        out = np.zeros((len(rows), self.config.output_dim), np.float32)
        for start in range(0, len(rows), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = fn(pad_ids([rows[i] for i in chunk])).numpy()
        return out
