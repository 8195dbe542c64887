"""The forward pass of ``SentenceEncoder`` in NumPy, for serving without TensorFlow.

The intent router and the qa dual encoder answer most messages, and their models are small
(an embedding, one bidirectional GRU, pooling, a projection): at batch 1 to 32 a NumPy loop over
the time steps costs a fraction of a millisecond, where a ``tf.function`` call costs milliseconds
of Python and thread hand-offs, and importing TensorFlow costs seconds and 600 MB. So these two
kinds are served from the saved weights (``weights.npz``) with the arithmetic below; training
and evaluation during training keep the Keras models (``model.encoders``), and
``tests/model/test_rnn_numpy.py`` holds the two to the same outputs.

The recurrences are Keras 3's: GRU with ``reset_after`` (one input bias and one recurrent bias
per gate; gates z, r, h), LSTM with gates i, f, c, o; ``sigmoid`` and ``tanh``. Padded steps
(id ``PAD_ID``) keep the state; mean and max pooling are taken over the real tokens only, so the
backward direction can run over each row's tokens reversed and left-aligned (pooling does not
care about the order of the time steps).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

WEIGHTS = "weights.npz"


def read_weights(directory: Path) -> list[np.ndarray]:
    """The arrays of a version's ``weights.npz`` (saved in Keras' ``get_weights`` order), as
    float32."""
    with np.load(Path(directory) / WEIGHTS) as data:
        return [data[f"w{i:03d}"].astype(np.float32) for i in range(len(data.files))]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function through ``tanh`` (no overflow for any input)."""
    out: np.ndarray = np.tanh(x * np.float32(0.5))
    out *= np.float32(0.5)
    out += np.float32(0.5)
    return out


class BiRNN:
    """A bidirectional GRU or LSTM (Keras weights: forward kernel, recurrent kernel, bias, then
    the same for the backward direction); ``pooled`` gives the masked mean and max of its
    outputs over time, concatenated (forward, backward)."""

    def __init__(self, cell: str, weights: Sequence[np.ndarray]) -> None:
        if cell not in ("gru", "lstm"):
            raise ValueError(f"unknown cell {cell!r}")
        self.cell = cell
        fk, fr, fb, bk, br, bb = weights
        self.units = fr.shape[0]
        self.kernel = np.stack([fk, bk])  # (2, E, G*U)
        self.recurrent = np.stack([fr, br])  # (2, U, G*U)
        if cell == "gru":  # (2, 3U) input bias, (2, 1, 3U) recurrent bias
            self.bias = np.stack([fb[0], bb[0]])
            self.recurrent_bias = np.stack([fb[1], bb[1]])[:, None, :]
        else:
            self.bias = np.stack([fb, bb])
            self.recurrent_bias = np.zeros((2, 1, self.recurrent.shape[2]), np.float32)

    def pooled(self, embedded: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """(2, B, T, E) embedded tokens (forward, and each row reversed) and (B,) lengths (>= 1)
        -> (B, 4U): [mean forward, mean backward, max forward, max backward]."""
        _, batch, steps, width = embedded.shape
        u = self.units
        inputs = np.empty((2, batch * steps, self.kernel.shape[2]), np.float32)
        for d in (0, 1):
            np.dot(embedded[d].reshape(batch * steps, width), self.kernel[d], out=inputs[d])
        inputs += self.bias[:, None, :]
        inputs = inputs.reshape(2, batch, steps, -1)
        h = np.zeros((2, batch, u), np.float32)
        c = np.zeros((2, batch, u), np.float32)
        inner = np.empty((2, batch, self.recurrent.shape[2]), np.float32)
        total = np.zeros((2, batch, u), np.float32)
        best = np.full((2, batch, u), -np.inf, np.float32)
        for t in range(steps):
            x = inputs[:, :, t]
            for d in (0, 1):
                np.dot(h[d], self.recurrent[d], out=inner[d])
            inner += self.recurrent_bias
            if self.cell == "gru":
                zr = _sigmoid(x[..., : 2 * u] + inner[..., : 2 * u])
                z = zr[..., :u]
                candidate = np.tanh(x[..., 2 * u :] + zr[..., u:] * inner[..., 2 * u :])
                new_h = candidate + z * (h - candidate)  # z * h + (1 - z) * candidate
                new_c = c
            else:
                gates = x + inner
                i_f = _sigmoid(gates[..., : 2 * u])
                o = _sigmoid(gates[..., 3 * u :])
                new_c = i_f[..., u:] * c + i_f[..., :u] * np.tanh(gates[..., 2 * u : 3 * u])
                new_h = o * np.tanh(new_c)
            live = (t < lengths)[None, :, None]
            if live.all():
                h, c = new_h, new_c
                total += new_h
                np.maximum(best, new_h, out=best)
            else:
                h = np.where(live, new_h, h)
                c = np.where(live, new_c, c)
                total += np.where(live, new_h, np.float32(0.0))
                np.maximum(best, np.where(live, new_h, np.float32(-np.inf)), out=best)
        mean = total / lengths[None, :, None].astype(np.float32)
        return np.concatenate([mean[0], mean[1], best[0], best[1]], axis=-1)


class SentenceEncoderNP:
    """``model.encoders.SentenceEncoder`` at inference: token ids -> one vector per text."""

    def __init__(self, embedding: np.ndarray, cell: str, weights: Sequence[np.ndarray],
                 normalize: bool) -> None:
        self.embedding = embedding
        self.rnn = BiRNN(cell, weights[:6])
        self.projection, self.projection_bias = weights[6], weights[7]
        self.normalize = normalize

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """(B, T) int token ids, right-padded with 0 -> (B, output_dim) float32."""
        from model.tokenizer import PAD_ID

        ids = np.asarray(ids)
        real = ids != PAD_ID
        lengths = np.maximum(real.sum(axis=1), 1)
        steps = int(lengths.max()) if len(ids) else 1
        ids = ids[:, :steps]
        # each row's tokens reversed, then left-aligned: the backward direction's input
        positions = lengths[:, None] - 1 - np.arange(steps)[None, :]
        reverse = np.take_along_axis(ids, np.maximum(positions, 0), axis=1)
        reverse = np.where(positions >= 0, reverse, PAD_ID)
        embedded = self.embedding[np.stack([ids, reverse])]  # (2, B, T, E)
        pooled = self.rnn.pooled(embedded, lengths)
        # Keras' order: concat(mean, max), each (forward, backward)
        vector = np.tanh(pooled @ self.projection + self.projection_bias)
        if self.normalize:  # tf.math.l2_normalize: x / sqrt(max(sum(x^2), 1e-12))
            norm = np.sqrt(np.maximum((vector * vector).sum(axis=-1, keepdims=True), 1e-12))
            vector = vector / norm
        return np.asarray(vector, np.float32)


class DualEncoderNP:
    """``model.qa_encoder.DualEncoder`` at inference, from its weights (Keras' order: the shared
    embedding, the question encoder's eight arrays, the answer encoder's eight)."""

    def __init__(self, weights: Sequence[np.ndarray], cell: str = "gru") -> None:
        if len(weights) != 17:
            raise ValueError(f"a dual encoder has 17 weight arrays, not {len(weights)}")
        self.weights = list(weights)
        embedding = weights[0]
        self.questions = SentenceEncoderNP(embedding, cell, weights[1:9], normalize=True)
        self.answers = SentenceEncoderNP(embedding, cell, weights[9:17], normalize=True)

    def get_weights(self) -> list[np.ndarray]:
        return list(self.weights)

    def inference_functions(self) -> tuple[Callable[[np.ndarray], np.ndarray],
                                           Callable[[np.ndarray], np.ndarray]]:
        return self.questions, self.answers


class IntentClassifierNP:
    """``model.intent_predictor.IntentClassifier`` at inference: (the shared embedding, the
    encoder's eight arrays, the classifier's kernel and bias)."""

    def __init__(self, weights: Sequence[np.ndarray]) -> None:
        if len(weights) != 11:
            raise ValueError(f"an intent classifier has 11 weight arrays, not {len(weights)}")
        self.weights = list(weights)
        self.encoder = SentenceEncoderNP(weights[0], "gru", weights[1:9], normalize=False)
        self.kernel, self.bias = weights[9], weights[10]

    def get_weights(self) -> list[np.ndarray]:
        return list(self.weights)

    def inference_function(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        return self.probabilities

    def probabilities(self, tokens: np.ndarray, length: np.ndarray) -> np.ndarray:
        """(B, T) token ids and (B, 1) scaled lengths -> (B, labels) softmax probabilities."""
        vector = self.encoder(tokens)
        logits = np.concatenate([vector, np.asarray(length, np.float32)], -1) @ self.kernel
        logits = logits + self.bias
        logits = logits - logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=-1, keepdims=True), np.float32)
