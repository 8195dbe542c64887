"""The encoder-decoder learns, decodes consistently, and saves/loads exactly."""

import random
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from model.seq2seq import (
    CompiledDecoder,
    ModelConfig,
    Seq2Seq,
    eager_greedy,
    masked_accuracy,
    masked_nll,
    sequence_log_prob,
)
from model.tokenizer import EOS_ID, PAD_ID
from model.train import batches

FIRST, LAST = 10, 30  # ids used as "words" of the toy task


def reverse_data(n: int, seed: int) -> tuple[list[list[int]], list[list[int]]]:
    rng = random.Random(seed)
    sources, targets = [], []
    for _ in range(n):
        seq = [rng.randrange(FIRST, LAST) for _ in range(rng.randint(3, 7))]
        sources.append([*seq, EOS_ID])
        targets.append(seq[::-1])
    return sources, targets


def pad(rows: list[list[int]]) -> np.ndarray:
    out = np.full((len(rows), max(map(len, rows))), PAD_ID, np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


@pytest.fixture(scope="module")
def reverse_model() -> tuple[Seq2Seq, float]:
    keras.utils.set_random_seed(1)
    config = ModelConfig(vocab_size=32, embed_dim=32, encoder_units=64, decoder_units=64,
                         dropout=0.0, max_target_len=12)
    model = Seq2Seq.from_model_config(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=masked_nll,
                  metrics=[masked_accuracy])
    sources, targets = reverse_data(3000, seed=0)
    rng = random.Random(0)
    start = time.monotonic()
    for _ in range(12):
        for x, y in batches(sources, targets, 64, True, rng):
            model.train_on_batch(x, y)
    return model, time.monotonic() - start


def test_tiny_model_learns_to_reverse(reverse_model: tuple[Seq2Seq, float]) -> None:
    model, seconds = reverse_model
    sources, targets = reverse_data(200, seed=99)  # unseen sequences
    decoder = CompiledDecoder(model, max_len=12, beam_size=3)
    ids, lengths, _ = (t.numpy() for t in decoder.greedy(pad(sources)))
    exact = [list(ids[i, : lengths[i] - 1]) == targets[i] and ids[i, lengths[i] - 1] == EOS_ID
             for i in range(len(targets))]
    assert np.mean(exact) >= 0.95, f"sequence accuracy {np.mean(exact):.2f}"
    assert seconds < 120


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_compiled_greedy_equals_eager(reverse_model: tuple[Seq2Seq, float],
                                      jit_compile: bool) -> None:
    model, _ = reverse_model
    source = pad(reverse_data(16, seed=5)[0])
    decoder = CompiledDecoder(model, max_len=12, jit_compile=jit_compile)
    compiled = [t.numpy() for t in decoder.greedy(source)]
    eager = eager_greedy(model, source, 12)
    np.testing.assert_array_equal(compiled[0], eager[0])
    np.testing.assert_array_equal(compiled[1], eager[1])
    np.testing.assert_allclose(compiled[2], eager[2], rtol=1e-4, atol=1e-4)


def test_beam_at_least_as_likely_as_greedy(reverse_model: tuple[Seq2Seq, float]) -> None:
    model, _ = reverse_model
    # A half-trained copy makes the search non-trivial: greedy and beam often disagree.
    rough = Seq2Seq.from_model_config(ModelConfig(vocab_size=32, embed_dim=32, encoder_units=64,
                                                  decoder_units=64, dropout=0.0))
    rough.set_weights([w + np.random.default_rng(0).normal(0, 0.3, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    source = pad(reverse_data(64, seed=7)[0])
    decoder = CompiledDecoder(rough, max_len=12, beam_size=5, alpha=0.0)
    g_ids, _g_len, g_score = (t.numpy() for t in decoder.greedy(source))
    b_ids, _b_len, b_score = (t.numpy() for t in decoder.beam(source))
    assert np.all(b_score >= g_score - 1e-4)
    # the reported scores are the model's real log-probabilities of the returned sequences
    for ids, score in ((g_ids, g_score), (b_ids, b_score)):
        np.testing.assert_allclose(sequence_log_prob(rough, source, ids), score, atol=1e-3)


def test_max_length_guard_stops_runaway_decoding() -> None:
    model = Seq2Seq.from_model_config(ModelConfig(vocab_size=32, embed_dim=8, encoder_units=8,
                                                  decoder_units=8, dropout=0.0))
    source = np.array([[11, 12, EOS_ID]], np.int32)
    ids, length, _ = (t.numpy() for t in CompiledDecoder(model, max_len=40).greedy(source))
    assert ids.shape == (1, 40)
    assert length[0] <= 2 * 3 + 10


def test_keras_save_load_round_trip(reverse_model: tuple[Seq2Seq, float], tmp_path: Path) -> None:
    model, _ = reverse_model
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    source = pad(reverse_data(8, seed=3)[0])
    target_in = np.concatenate([np.full((8, 1), 2, np.int32), source[:, :-1]], axis=1)
    np.testing.assert_array_equal(
        model({"source": source, "target_in": target_in}).numpy(),
        loaded({"source": source, "target_in": target_in}).numpy(),
    )
    for layer in (model.encoder, model.decoder, model.decoder.attention):
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_copy_mechanism_distribution_is_normalised() -> None:
    model = Seq2Seq.from_model_config(ModelConfig(vocab_size=40, embed_dim=8, encoder_units=8,
                                                  decoder_units=8, dropout=0.0, copy=True))
    source = np.array([[11, 12, 11, EOS_ID]], np.int32)
    log_probs = model({"source": source, "target_in": np.array([[2, 11]], np.int32)}).numpy()
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-4)


def _rough_copy(model: Seq2Seq, noise: float = 0.3) -> Seq2Seq:
    rough = Seq2Seq.from_model_config(ModelConfig(vocab_size=32, embed_dim=32, encoder_units=64,
                                                  decoder_units=64, dropout=0.0))
    rng = np.random.default_rng(0)
    rough.set_weights([w + rng.normal(0, noise, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    return rough


def _ngrams(row: np.ndarray, n: int) -> list[tuple[int, ...]]:
    return [tuple(int(x) for x in row[i : i + n]) for i in range(len(row) - n + 1)]


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_beam_options_block_repeats_reward_length_and_report_true_log_probs(
    reverse_model: tuple[Seq2Seq, float], jit_compile: bool
) -> None:
    model, _ = reverse_model
    rough = _rough_copy(model, noise=0.5)
    source = pad(reverse_data(32, seed=11)[0])
    plain = CompiledDecoder(rough, max_len=12, beam_size=4, alpha=0.0, jit_compile=jit_compile)
    tuned = CompiledDecoder(rough, max_len=12, beam_size=4, alpha=0.0, jit_compile=jit_compile,
                            length_bonus=2.0, no_repeat_ngram=2, antilm_weight=0.5,
                            antilm_steps=3)
    _, p_len, _ = (t.numpy() for t in plain.beam(source))
    t_ids, t_len, t_score = (t.numpy() for t in tuned.beam(source))
    # the length bonus makes replies at least as long on average
    assert t_len.mean() >= p_len.mean()
    # no bigram repeats inside a decoded sequence
    for row, length in zip(t_ids, t_len, strict=True):
        grams = _ngrams(row[:length], 2)
        assert len(grams) == len(set(grams)), row[:length]
    # the score is still the model's log-probability of the returned sequence, not the
    # search score with its bonus and anti-LM terms
    np.testing.assert_allclose(sequence_log_prob(rough, source, t_ids), t_score, atol=1e-3)

