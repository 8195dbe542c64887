"""The one encoder-decoder used by translation, chat and summarization, and its decoders.

``Seq2Seq`` is a Keras model: shared token embedding -> bidirectional GRU encoder -> GRU
decoder with Luong attention (optionally with a copy mechanism). ``call`` is the teacher-forced
training pass. ``CompiledDecoder`` wraps greedy and beam-search decoding, each compiled as one
``tf.function`` with a fixed input signature around a ``tf.while_loop``, so a whole batch of
requests is decoded in a single graph call. ``eager_greedy`` is the naive step-by-step loop kept
for benchmarks and tests.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.layers import PACKAGE, AttentionDecoder, BiGRUEncoder
from model.seq2seq_config import ModelConfig
from model.tokenizer import BOS_ID, EOS_ID, PAD_ID


@keras.saving.register_keras_serializable(PACKAGE)
class Seq2Seq(keras.Model):
    """Encoder-decoder with attention; inputs {"source": (B, S), "target_in": (B, T)} int32."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        encoder_units: int,
        decoder_units: int,
        dropout: float = 0.0,
        copy: bool = False,
        combine_activation: str = "tanh",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.encoder_units = encoder_units
        self.decoder_units = decoder_units
        self.dropout_rate = dropout
        self.copy = copy
        self.combine_activation = combine_activation
        self.embedding = layers.Embedding(vocab_size, embed_dim, name="embedding")
        self.encoder = BiGRUEncoder(encoder_units, decoder_units, dropout, name="encoder")
        self.decoder = AttentionDecoder(vocab_size, decoder_units, copy, dropout,
                                        combine_activation, name="decoder")

    @classmethod
    def from_model_config(cls, config: ModelConfig) -> Seq2Seq:
        model = cls(
            vocab_size=config.vocab_size,
            embed_dim=config.embed_dim,
            encoder_units=config.encoder_units,
            decoder_units=config.decoder_units,
            dropout=config.dropout,
            copy=config.copy,
            combine_activation=config.combine_activation,
        )
        model.build_graph()
        return model

    def build_graph(self) -> None:
        """Create every weight by running one tiny batch (also needed before loading weights)."""
        dummy = np.array([[5, 6, EOS_ID]], dtype=np.int32)
        self({"source": dummy, "target_in": dummy}, training=False)

    def encode(
        self, source: tf.Tensor, training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        mask = tf.not_equal(source, PAD_ID)
        memory, state = self.encoder(self.embedding(source), mask=mask, training=training)
        return memory, state, mask

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        source = tf.cast(inputs["source"], tf.int32)
        target_in = tf.cast(inputs["target_in"], tf.int32)
        memory, state, mask = self.encode(source, training)
        # BOS (=2) is never PAD, so the first target step is always unmasked.
        target_mask = tf.not_equal(target_in, PAD_ID)
        return self.decoder(
            self.embedding(target_in),
            state,
            memory,
            mask,
            source,
            target_mask=target_mask,
            training=training,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "encoder_units": self.encoder_units,
            "decoder_units": self.decoder_units,
            "dropout": self.dropout_rate,
            "copy": self.copy,
            "combine_activation": self.combine_activation,
        }


def masked_nll(y_true: tf.Tensor, log_probs: tf.Tensor) -> tf.Tensor:
    """Mean negative log-likelihood of the target tokens, ignoring padding."""
    y_true = tf.cast(y_true, tf.int32)
    picked = tf.gather(log_probs, y_true, batch_dims=2)
    mask = tf.cast(tf.not_equal(y_true, PAD_ID), log_probs.dtype)
    return -tf.reduce_sum(picked * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def masked_accuracy(y_true: tf.Tensor, log_probs: tf.Tensor) -> tf.Tensor:
    y_true = tf.cast(y_true, tf.int32)
    hit = tf.cast(tf.equal(tf.argmax(log_probs, axis=-1, output_type=tf.int32), y_true), tf.float32)
    mask = tf.cast(tf.not_equal(y_true, PAD_ID), tf.float32)
    return tf.reduce_sum(hit * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def sequence_log_prob(model: Seq2Seq, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Total log-probability of each target (ids without BOS, ending with EOS) given its source."""
    target = np.asarray(target, dtype=np.int32)
    target_in = np.concatenate([np.full((len(target), 1), BOS_ID, np.int32), target[:, :-1]], 1)
    target_in[target_in == EOS_ID] = PAD_ID  # anything after EOS is padding
    log_probs = model({"source": source, "target_in": target_in}, training=False).numpy()
    picked = np.take_along_axis(log_probs, target[..., None], axis=-1)[..., 0]
    return np.asarray((picked * (target != PAD_ID)).sum(axis=1))


def _never_emitted(vocab: int) -> tf.Tensor:
    """(vocab,) additive mask: -1e9 on PAD and BOS, which are inputs, never outputs (a noisy
    model can give them probability; emitting one would end up as a silent hole in the text)."""
    return tf.constant(np.where(np.isin(np.arange(vocab), [PAD_ID, BOS_ID]), -1e9, 0.0),
                       tf.float32)


def _utf8_start(rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """No continuation byte owed (the range is unused until one is)."""
    return (tf.zeros([rows], tf.int32), tf.fill([rows], 0x80), tf.fill([rows], 0xBF))


def _length_penalty(length: tf.Tensor, alpha: float) -> tf.Tensor:
    """GNMT length normalisation ((5 + |Y|) / 6) ** alpha."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


class CompiledDecoder:
    """Greedy and beam-search decoding of a ``Seq2Seq``, each one compiled graph per call.

    Both take a padded batch of source ids (B, S) and return (ids (B, L), lengths (B,),
    sum of token log-probs (B,)). ``max_len`` bounds the output buffer; each source also gets a
    guard of ``length_ratio * S + 10`` steps so degenerate loops stop early.

    ``utf8`` (``model.tokenizer.utf8_tables`` of the model's tokenizer) constrains both searches
    to byte-fallback pieces that form whole UTF-8 characters: the probability mass goes to
    well-formed text instead of being cut away after decoding. ``coverage_penalty`` (beam only)
    charges re-attending to source positions already covered (See et al. 2017).
    """

    def __init__(
        self,
        model: Seq2Seq,
        max_len: int,
        beam_size: int = 4,
        alpha: float = 0.6,
        length_ratio: float = 2.0,
        jit_compile: bool = False,
        length_bonus: float = 0.0,
        no_repeat_ngram: int = 0,
        antilm_weight: float = 0.0,
        antilm_steps: int = 0,
        coverage_penalty: float = 0.0,
        utf8: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.model = model
        self.max_len = int(max_len)
        self.beam_size = int(beam_size)
        self.alpha = float(alpha)
        self.length_bonus = float(length_bonus)
        self.no_repeat_ngram = int(no_repeat_ngram)
        self.antilm_weight = float(antilm_weight)
        self.antilm_steps = int(antilm_steps)
        self.coverage_penalty = float(coverage_penalty)
        # ``model.tokenizer.utf8_tables`` of the model's tokenizer: emit only whole characters
        self.utf8 = ({name: tf.constant(table) for name, table in utf8.items()}
                     if utf8 is not None else None)
        self.length_ratio = float(length_ratio)
        signature = [tf.TensorSpec([None, None], tf.int32, name="source")]
        self.greedy = tf.function(self._greedy, input_signature=signature, jit_compile=jit_compile)
        self.beam = tf.function(self._beam, input_signature=signature, jit_compile=jit_compile)

    def _limit(self, source: tf.Tensor) -> tf.Tensor:
        length = tf.shape(source)[1]
        guard = tf.cast(self.length_ratio * tf.cast(length, tf.float32), tf.int32) + 10
        return tf.minimum(guard, self.max_len)

    def _utf8_ban(self, due: tf.Tensor, low: tf.Tensor, high: tf.Tensor) -> tf.Tensor:
        """(rows, vocab) additive mask that keeps byte pieces forming whole UTF-8 characters:
        while ``due`` continuation bytes are owed (rows with ``due`` > 0) only a continuation
        byte in [``low``, ``high``] may follow; otherwise no continuation byte and no byte that
        starts no valid sequence may."""
        assert self.utf8 is not None
        byte, cont, never = self.utf8["byte"], self.utf8["cont"], self.utf8["never"]
        in_range = tf.logical_and(
            tf.logical_and(byte[None, :] >= low[:, None], byte[None, :] <= high[:, None]),
            cont[None, :])
        free = tf.logical_not(tf.logical_or(cont, never))[None, :]
        allowed = tf.where((due > 0)[:, None], in_range, free)
        return tf.where(allowed, 0.0, -1e9)

    def _utf8_next(self, due: tf.Tensor, chosen: tf.Tensor
                   ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The UTF-8 state (continuation bytes owed, range of the next one) after ``chosen``."""
        assert self.utf8 is not None
        owed = due > 0
        new_due = tf.where(owed, due - 1, tf.gather(self.utf8["need"], chosen))
        low = tf.where(owed, 0x80, tf.gather(self.utf8["low"], chosen))
        high = tf.where(owed, 0xBF, tf.gather(self.utf8["high"], chosen))
        return new_due, low, high

    def _greedy(self, source: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        model = self.model
        batch = tf.shape(source)[0]
        memory, state, mask = model.encode(source)
        keys = model.decoder.attention.project_keys(memory)
        limit = self._limit(source)
        positions = tf.range(self.max_len)
        never = _never_emitted(model.vocab_size)

        def cond(t: tf.Tensor, *rest: Any) -> tf.Tensor:
            finished = rest[3]
            return tf.logical_and(t < limit, tf.logical_not(tf.reduce_all(finished)))

        def body(t, token, state, seqs, finished, score, length, utf8_state):
            log_probs, state = model.decoder.step(
                model.embedding(token), state, keys, memory, mask, source
            )
            search = log_probs + never
            if self.utf8 is not None:
                search += self._utf8_ban(*utf8_state)
            best = tf.argmax(search, axis=-1, output_type=tf.int32)
            if self.utf8 is not None:
                utf8_state = self._utf8_next(utf8_state[0], best)
            best_lp = tf.gather(log_probs, best, batch_dims=1)
            best = tf.where(finished, PAD_ID, best)
            score += tf.where(finished, 0.0, best_lp)
            length += tf.cast(tf.logical_not(finished), tf.int32)
            seqs += tf.cast(tf.equal(positions, t), tf.int32)[None, :] * best[:, None]
            finished = tf.logical_or(finished, tf.equal(best, EOS_ID))
            return t + 1, best, state, seqs, finished, score, length, utf8_state

        init = (
            tf.constant(0),
            tf.fill([batch], BOS_ID),
            state,
            tf.zeros([batch, self.max_len], tf.int32),
            tf.zeros([batch], tf.bool),
            tf.zeros([batch], tf.float32),
            tf.zeros([batch], tf.int32),
            _utf8_start(batch),
        )
        _, _, _, seqs, _, score, length, _ = tf.while_loop(cond, body, init)
        return seqs, length, score

    def _repeat_ban(self, seqs: tf.Tensor, t: tf.Tensor, log_probs: tf.Tensor) -> tf.Tensor:
        """-1e9 on every token that would repeat an n-gram (n = ``no_repeat_ngram``) the beam
        already holds: an XLA-friendly fixed-size scatter over all earlier positions."""
        n = self.no_repeat_ngram
        rows, width = tf.shape(seqs)[0], self.max_len - n + 1
        match = tf.ones([rows, width], tf.bool)
        for i in range(n - 1):
            last = tf.gather(seqs, tf.maximum(t - n + 1 + i, 0), axis=1)
            match = tf.logical_and(match, tf.equal(seqs[:, i : i + width], last[:, None]))
        valid = tf.range(width) <= t - n  # the banned token seqs[j + n - 1] is already written
        match = tf.logical_and(match, valid[None, :])
        banned = seqs[:, n - 1 : n - 1 + width]
        row_ids = tf.tile(tf.range(rows)[:, None], [1, width])
        indices = tf.reshape(tf.stack([row_ids, banned], axis=-1), [-1, 2])
        updates = tf.reshape(tf.where(match, -1e9, 0.0), [-1])
        return tf.tensor_scatter_nd_add(log_probs, indices, updates)

    def _beam(self, source: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        model = self.model
        k = self.beam_size
        batch = tf.shape(source)[0]
        vocab = model.vocab_size
        memory, state, mask = model.encode(source)
        keys = model.decoder.attention.project_keys(memory)

        def tile(x: tf.Tensor) -> tf.Tensor:  # (B, ...) -> (B * K, ...), beams of one row adjacent
            return tf.repeat(x, k, axis=0)

        memory, keys, mask, state, tiled_source = (
            tile(memory), tile(keys), tile(mask), tile(state), tile(source)
        )
        # Anti-language-model (Li et al. 2016, MMI-antiLM): the same decoder given an empty
        # source approximates p(T); subtracting it over the first tokens favours replies that
        # depend on the message over ones that fit any message.
        antilm = self.antilm_weight > 0.0 and self.antilm_steps > 0
        null_source, null_memory, null_state, null_mask = tiled_source, memory, state, mask
        null_keys = keys
        if antilm:
            null_source = tf.fill([batch * k, 1], EOS_ID)
            null_memory, null_state, null_mask = model.encode(null_source)
            null_keys = model.decoder.attention.project_keys(null_memory)
        limit = self._limit(source)
        positions = tf.range(self.max_len)
        # Only the first beam is live at the start, so the first step yields K distinct tokens.
        first = tf.concat([tf.zeros([1]), tf.fill([k - 1], -1e9)], axis=0)
        scores = tf.reshape(tf.tile(first[None, :], [batch, 1]), [-1])
        eos_row = tf.one_hot(EOS_ID, vocab, on_value=0.0, off_value=-1e9)
        never = _never_emitted(vocab)

        def cond(t: tf.Tensor, *rest: Any) -> tf.Tensor:
            finished = rest[3]
            return tf.logical_and(t < limit, tf.logical_not(tf.reduce_all(finished)))

        def body(t, token, state, seqs, finished, scores, length, logp, lm_state, utf8_state,
                 coverage):
            embedded = model.embedding(token)
            if self.coverage_penalty > 0.0:
                log_probs, new_state, weights = model.decoder.step_with_attention(
                    embedded, state, keys, memory, mask, tiled_source
                )
            else:
                log_probs, new_state = model.decoder.step(
                    embedded, state, keys, memory, mask, tiled_source
                )
            search = log_probs + never
            if self.utf8 is not None:
                search += self._utf8_ban(*utf8_state)
            if self.coverage_penalty > 0.0:
                # See et al. (2017)'s coverage loss as a search penalty: attending again to
                # source positions already attended to (sum_i min(a_t,i, c_t,i)) costs
                # ``coverage_penalty`` nats per unit of overlap, so a hypothesis that re-reads
                # what it has already summarized ranks lower than one that moves on.
                overlap = tf.reduce_sum(tf.minimum(weights, coverage), axis=-1)
                search -= self.coverage_penalty * overlap[:, None]
                coverage = coverage + weights
            if antilm:
                lm_log_probs, lm_state = model.decoder.step(
                    embedded, lm_state, null_keys, null_memory, null_mask, null_source
                )
                weight = tf.where(t < self.antilm_steps, self.antilm_weight, 0.0)
                search = search - weight * lm_log_probs
            if self.no_repeat_ngram > 1:
                search = self._repeat_ban(seqs, t, search)
            # A finished beam can only be extended by EOS at no cost (its score stays put); a live
            # one earns ``length_bonus`` per token during the search, so long hypotheses are not
            # pruned before the final length normalisation can see them.
            search = tf.where(finished[:, None], eos_row[None, :], search + self.length_bonus)
            step_lp = tf.where(finished[:, None], 0.0, log_probs)
            total = tf.reshape(scores[:, None] + search, [batch, k * vocab])
            top_scores, top_index = tf.math.top_k(total, k=k)
            parent = top_index // vocab + tf.range(batch)[:, None] * k
            parent = tf.reshape(parent, [-1])
            chosen = tf.reshape(top_index % vocab, [-1])
            logp = tf.gather(logp, parent) + tf.gather_nd(
                step_lp, tf.stack([parent, chosen], axis=-1)
            )
            was_finished = tf.gather(finished, parent)
            chosen = tf.where(was_finished, PAD_ID, chosen)
            seqs = tf.gather(seqs, parent)
            seqs += tf.cast(tf.equal(positions, t), tf.int32)[None, :] * chosen[:, None]
            length = tf.gather(length, parent) + tf.cast(tf.logical_not(was_finished), tf.int32)
            finished = tf.logical_or(was_finished, tf.equal(chosen, EOS_ID))
            state = tf.gather(new_state, parent)
            if antilm:
                lm_state = tf.gather(lm_state, parent)
            if self.utf8 is not None:
                utf8_state = self._utf8_next(tf.gather(utf8_state[0], parent), chosen)
            if self.coverage_penalty > 0.0:
                coverage = tf.gather(coverage, parent)
            return (t + 1, chosen, state, seqs, finished, tf.reshape(top_scores, [-1]), length,
                    logp, lm_state, utf8_state, coverage)

        init = (
            tf.constant(0),
            tf.fill([batch * k], BOS_ID),
            state,
            tf.zeros([batch * k, self.max_len], tf.int32),
            tf.zeros([batch * k], tf.bool),
            scores,
            tf.zeros([batch * k], tf.int32),
            tf.zeros([batch * k], tf.float32),
            null_state,
            _utf8_start(batch * k),
            tf.zeros_like(tf.cast(mask, tf.float32)) if self.coverage_penalty > 0.0
            else tf.zeros([batch * k, 1]),
        )
        _, _, _, seqs, _, scores, length, logp, _, _, _ = tf.while_loop(cond, body, init)
        # Rank finished beams by the search score (log-prob, anti-LM term and length bonus),
        # length-normalised; report the plain log-probability as the confidence.
        bonus = self.length_bonus * tf.cast(length, tf.float32)
        normalized = (scores - bonus) / _length_penalty(tf.maximum(length, 1), self.alpha) + bonus
        best = tf.argmax(tf.reshape(normalized, [batch, k]), axis=-1, output_type=tf.int32)
        pick = best + tf.range(batch) * k
        return tf.gather(seqs, pick), tf.gather(length, pick), tf.gather(logp, pick)


def eager_greedy(
    model: Seq2Seq, source: np.ndarray, max_len: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Naive decoding: one eager Keras call per step, the loop in Python (benchmark baseline)."""
    source_t = tf.constant(source, tf.int32)
    memory, state, mask = model.encode(source_t)
    keys = model.decoder.attention.project_keys(memory)
    batch = source.shape[0]
    token = tf.fill([batch], BOS_ID)
    seqs = np.zeros((batch, max_len), np.int32)
    finished = np.zeros(batch, bool)
    score = np.zeros(batch, np.float32)
    length = np.zeros(batch, np.int32)
    never = _never_emitted(model.vocab_size).numpy()
    for t in range(min(max_len, int(2.0 * source.shape[1]) + 10)):
        log_probs, state = model.decoder.step(
            model.embedding(token), state, keys, memory, mask, source_t
        )
        lp = log_probs.numpy()
        best = (lp + never).argmax(-1).astype(np.int32)
        score += np.where(finished, 0.0, lp[np.arange(batch), best])
        best[finished] = PAD_ID
        length += ~finished
        seqs[:, t] = best
        finished |= best == EOS_ID
        if finished.all():
            break
        token = tf.constant(best)
    return seqs, length, score
