"""The qa dual encoder in Keras: question and answer encoders over one shared embedding.

A question encoder and an answer encoder (``SentenceEncoder``: bidirectional GRU + pooling over
the shared subword embedding) map texts to unit vectors; ``inference_functions`` compiles them
for ``model.qa_config.TextEmbedder`` (the hyper-parameters, ``QAConfig``, live there too, free
of TensorFlow). This model is trained; a served version runs the same arithmetic in NumPy
(``model.rnn_numpy``). How the vectors are searched is ``model.qa_bank``'s job.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.encoders import SentenceEncoder
from model.layers import PACKAGE
from model.qa_config import Encode, QAConfig, TextEmbedder
from model.tokenizer import PAD_ID

__all__ = ["DualEncoder", "QAConfig", "TextEmbedder"]  # the config and embedder re-exported


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

    def inference_functions(self) -> tuple[Encode, Encode]:
        """The question and answer encoders compiled for inference: padded ids -> vectors."""
        spec = [tf.TensorSpec([None, None], tf.int32)]
        questions = tf.function(lambda ids: self.encode_questions(ids), input_signature=spec)
        answers = tf.function(lambda ids: self.encode_answers(ids), input_signature=spec)
        return (lambda ids: np.asarray(questions(ids))), (lambda ids: np.asarray(answers(ids)))

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
