"""Sentence encoders shared by the question-answering dual encoder and the intent router.

``SentenceEncoder`` is a bidirectional GRU (or LSTM) over embedded subword tokens, pooled into one
vector per text (masked mean and max over time, concatenated, projected; served without
TensorFlow by ``model.rnn_numpy``); ``ppmi_embeddings`` computes distributional word vectors
(positive pointwise mutual information + truncated SVD, Levy & Goldberg 2014) from the project's
own corpora, used to initialise the embedding tables so that a small RNN trained on a few
thousand pairs starts out knowing which subwords occur in similar contexts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.layers import PACKAGE


@keras.saving.register_keras_serializable(PACKAGE)
class SentenceEncoder(layers.Layer):
    """Embedded tokens (B, T, E) + mask (B, T) -> one vector per text (B, output_dim).

    A bidirectional recurrent layer reads the text; masked mean and max pooling over its outputs
    are concatenated and projected with ``tanh``. With ``normalize`` the output is L2-normalised
    (for cosine similarity).
    """

    def __init__(
        self,
        units: int,
        output_dim: int,
        cell: str = "gru",
        dropout: float = 0.0,
        normalize: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.output_dim = output_dim
        self.cell = cell
        self.dropout = dropout
        self.normalize = normalize
        rnn_class = {"gru": layers.GRU, "lstm": layers.LSTM}[cell]
        self.rnn = layers.Bidirectional(
            rnn_class(units, return_sequences=True), merge_mode="concat"
        )
        self.drop = layers.Dropout(dropout)
        self.projection = layers.Dense(output_dim, activation="tanh")

    def call(self, embedded: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        outputs = self.rnn(self.drop(embedded, training=training), mask=mask, training=training)
        weights = tf.cast(mask, outputs.dtype)[:, :, None]
        mean = tf.reduce_sum(outputs * weights, axis=1) / tf.maximum(
            tf.reduce_sum(weights, axis=1), 1.0
        )
        maximum = tf.reduce_max(outputs + (weights - 1.0) * 1e4, axis=1)
        vector = self.projection(self.drop(tf.concat([mean, maximum], axis=-1), training=training))
        if self.normalize:
            vector = tf.math.l2_normalize(vector, axis=-1)
        return vector

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "output_dim": self.output_dim,
            "cell": self.cell,
            "dropout": self.dropout,
            "normalize": self.normalize,
        }


def ppmi_embeddings(
    rows: Iterable[Sequence[int]],
    vocab_size: int,
    dim: int,
    window: int = 4,
    alpha: float = 0.75,
    seed: int = 13,
) -> np.ndarray:
    """(vocab_size, dim) word vectors: SVD of the positive PMI matrix of token co-occurrences.

    Counts co-occurrences within ``window`` tokens (weighted 1/distance), smooths the context
    distribution with exponent ``alpha``, keeps max(PMI, 0) and factorises it with a randomised
    truncated SVD; rows are scaled to unit variance x 0.1 (the scale of Keras' initialiser).
    Tokens never seen get small random vectors.
    """
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD

    pair_rows: list[np.ndarray] = []
    pair_cols: list[np.ndarray] = []
    pair_vals: list[np.ndarray] = []
    for row in rows:
        ids = np.asarray(row, np.int32)
        for offset in range(1, window + 1):
            if len(ids) <= offset:
                break
            pair_rows += [ids[:-offset], ids[offset:]]
            pair_cols += [ids[offset:], ids[:-offset]]
            weight = np.full(len(ids) - offset, 1.0 / offset, np.float32)
            pair_vals += [weight, weight]
    rng = np.random.default_rng(seed)
    if not pair_rows:
        return rng.normal(0, 0.05, (vocab_size, dim)).astype(np.float32)
    counts = sparse.coo_matrix(
        (np.concatenate(pair_vals), (np.concatenate(pair_rows), np.concatenate(pair_cols))),
        shape=(vocab_size, vocab_size),
    ).tocsr()
    total = counts.sum()
    word = np.asarray(counts.sum(axis=1)).ravel()
    context = np.asarray(counts.sum(axis=0)).ravel() ** alpha
    context /= context.sum()
    coo = counts.tocoo()
    pmi = np.log(coo.data * 1.0 / total) - np.log(word[coo.row] / total) - np.log(
        context[coo.col] + 1e-12
    )
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)
    svd = TruncatedSVD(n_components=dim, random_state=seed, n_iter=5)
    vectors = svd.fit_transform(ppmi) / np.sqrt(np.maximum(svd.singular_values_, 1e-6))
    vectors = vectors.astype(np.float32)
    vectors /= max(float(vectors[word > 0].std()), 1e-6)
    vectors *= 0.1
    unseen = word == 0
    vectors[unseen] = rng.normal(0, 0.05, (int(unseen.sum()), dim)).astype(np.float32)
    return vectors
