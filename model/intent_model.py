"""The intent classifier in Keras: ``IntentClassifier``, trained by ``model.intent_train``.

It reads the message with a bidirectional GRU (``SentenceEncoder``) over its subword tokens, adds
the log of the message's length in tokens and predicts one of the labels with a softmax. A
served version runs the same arithmetic in NumPy (``model.rnn_numpy.IntentClassifierNP``,
through ``model.intent_predictor``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.encoders import SentenceEncoder
from model.intent_predictor import IntentConfig
from model.layers import PACKAGE
from model.tokenizer import PAD_ID


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

    def inference_function(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """The classifier compiled for inference: (token ids, lengths) -> probabilities."""
        spec = {"tokens": tf.TensorSpec([None, None], tf.int32),
                "length": tf.TensorSpec([None, 1], tf.float32)}
        forward = tf.function(lambda inputs: self(inputs), input_signature=[spec])
        return lambda tokens, length: np.asarray(forward({"tokens": tokens, "length": length}))

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
