"""The contrastive training step of the qa dual encoder.

The loss is the in-batch softmax (InfoNCE) in both directions with a fixed temperature; entries
of the batch that share an answer are masked, not counted as negatives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model.qa_pairs import PairSampler
from model.tokenizer import Tokenizer


def _group_ids(groups: Sequence[str]) -> np.ndarray:
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(g, len(ids)) for g in groups], np.int32)


def make_train_step(model: Any, optimizer: Any, scale: float) -> Any:
    """A compiled step: InfoNCE over question->answer and question->paraphrase batches."""
    import tensorflow as tf

    def contrastive(left: tf.Tensor, right: tf.Tensor, groups: tf.Tensor) -> tf.Tensor:
        logits = scale * tf.matmul(left, right, transpose_b=True)
        n = tf.shape(logits)[0]
        duplicate = tf.logical_and(groups[:, None] == groups[None, :],
                                   tf.logical_not(tf.eye(n, dtype=tf.bool)))
        logits = tf.where(duplicate, -1e4, logits)
        labels = tf.range(n)
        loss = tf.keras.losses.sparse_categorical_crossentropy
        forward = loss(labels, logits, from_logits=True)
        backward = loss(labels, tf.transpose(logits), from_logits=True)
        return tf.reduce_mean(forward + backward) / 2.0

    spec = tf.TensorSpec([None, None], tf.int32)
    group_spec = tf.TensorSpec([None], tf.int32)

    @tf.function(input_signature=[spec, spec, group_spec, spec, spec, group_spec])
    def step(q: tf.Tensor, a: tf.Tensor, qa_groups: tf.Tensor, p: tf.Tensor, p2: tf.Tensor,
             pp_groups: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            qa_loss = contrastive(model.encode_questions(q, training=True),
                                  model.encode_answers(a, training=True), qa_groups)
            pp_loss = contrastive(model.encode_questions(p, training=True),
                                  model.encode_questions(p2, training=True), pp_groups)
            total = qa_loss + pp_loss
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return qa_loss, pp_loss

    return step


class ContrastiveTrainer:
    """Compiled contrastive training steps on batches drawn from a ``PairSampler``."""

    def __init__(self, model: Any, tokenizer: Tokenizer, config: Any, sampler: PairSampler,
                 batch_size: int = 64, learning_rate: float = 2e-3, scale: float = 20.0) -> None:
        import keras

        self.tokenizer = tokenizer
        self.config = config
        self.sampler = sampler
        self.batch_size = batch_size
        optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
        self.step = make_train_step(model, optimizer, scale)
        self.steps = 0

    def _ids(self, texts: list[str], max_len: int) -> np.ndarray:
        from model.token_rows import encode_texts, pad_ids

        return pad_ids(encode_texts(self.tokenizer, texts, max_len))

    def run(self, steps: int) -> float:
        """Train ``steps`` steps; returns the mean loss (question->answer + paraphrase)."""
        losses = []
        q_len, a_len = self.config.max_question_len, self.config.max_answer_len
        for _ in range(steps):
            q, a, qa_groups = self.sampler.answer_batch(self.batch_size)
            p, p2, pp_groups = self.sampler.paraphrase_batch(self.batch_size)
            qa_loss, pp_loss = self.step(
                self._ids(q, q_len), self._ids(a, a_len), _group_ids(qa_groups),
                self._ids(p, q_len), self._ids(p2, q_len), _group_ids(pp_groups))
            losses.append(float(qa_loss) + float(pp_loss))
            self.steps += 1
        return float(np.mean(losses)) if losses else float("nan")
