"""The NumPy forward passes (``model.rnn_numpy``) against the Keras models they serve.

Tiny random models (GRU and LSTM, every length from one token to the padded width) must give
Keras' outputs to 1e-5; the shipped qa and intent versions must give the same answers and labels
as their Keras models; and loading either kind must not import TensorFlow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.rnn_numpy import DualEncoderNP, IntentClassifierNP, read_weights
from model.task_specs import PRETRAINED_DIR
from model.token_rows import pad_ids
from tests.model.seeding import seeded

REPO = Path(__file__).resolve().parents[2]


def _rows(vocab: int, lengths: list[int]) -> np.ndarray:
    rng = np.random.default_rng(7)
    return pad_ids([list(rng.integers(4, vocab, n)) for n in lengths])


@pytest.mark.tf
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_dual_encoder_matches_keras(cell: str) -> None:
    import tensorflow as tf

    from model.qa_encoder import DualEncoder, QAConfig

    seeded(5)
    config = QAConfig(vocab_size=300, embed_dim=12, units=10, output_dim=16, cell=cell)
    model = DualEncoder.from_config_object(config)
    # non-zero biases, so that a bias in the wrong place shows
    model.set_weights([w + np.random.default_rng(i).normal(0, 0.3, w.shape).astype(np.float32)
                       for i, w in enumerate(model.get_weights())])
    fast = DualEncoderNP(model.get_weights(), cell)
    for lengths in ([1], [5], [1, 2, 3, 8, 9, 16, 7], [16] * 3):
        ids = _rows(config.vocab_size, lengths)
        np.testing.assert_allclose(fast.questions(ids),
                                   model.encode_questions(tf.constant(ids)).numpy(), atol=1e-5)
        np.testing.assert_allclose(fast.answers(ids),
                                   model.encode_answers(tf.constant(ids)).numpy(), atol=1e-5)


@pytest.mark.tf
def test_intent_classifier_matches_keras() -> None:
    import tensorflow as tf

    from model.intent_model import IntentClassifier
    from model.intent_predictor import IntentConfig

    seeded(6)
    config = IntentConfig(vocab_size=200, embed_dim=8, units=8, hidden=8)
    model = IntentClassifier.from_config_object(config)
    model.set_weights([w + np.random.default_rng(i).normal(0, 0.3, w.shape).astype(np.float32)
                       for i, w in enumerate(model.get_weights())])
    fast = IntentClassifierNP(model.get_weights())
    ids = _rows(config.vocab_size, [1, 4, 9, 30, 2])
    length = np.linspace(0.1, 0.9, len(ids), dtype=np.float32)[:, None]
    expected = model({"tokens": tf.constant(ids), "length": tf.constant(length)}).numpy()
    np.testing.assert_allclose(fast.probabilities(ids, length), expected, atol=1e-5)


def test_wrong_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="17 weight arrays"):
        DualEncoderNP([np.zeros((2, 2), np.float32)] * 11)
    with pytest.raises(ValueError, match="11 weight arrays"):
        IntentClassifierNP([np.zeros((2, 2), np.float32)] * 17)


QA = PRETRAINED_DIR / "qa"
INTENT = PRETRAINED_DIR / "intent"


@pytest.mark.tf
@pytest.mark.skipif(not (QA / "card.json").is_file(), reason="no shipped qa version")
def test_shipped_qa_answers_as_its_keras_model() -> None:
    from model.qa_encoder import DualEncoder
    from model.qa_files import load_qa_dir, read_bank
    from model.qa_predictor import QAPredictor

    served = load_qa_dir(QA)
    keras_model = DualEncoder.from_config_object(served.config)
    keras_model.set_weights(read_weights(QA))
    reference = QAPredictor(keras_model, served.tokenizer, served.config)
    reference.set_bank([(e.question, e.answer) for e in served.bank.entries],
                       served.bank.vectors, served.bank.lexical)
    bank = read_bank(QA)
    texts = [q for q, _ in bank[::8]] + [f"please tell me: {q.lower()}" for q, _ in bank[3::16]]
    texts += ["what is python?", "如何安装软件包？", "hello", ""]
    got, want = served.predict(texts), reference.predict(texts)
    assert [(p.text, p.sure, p.closest_answer) for p in got] == [
        (p.text, p.sure, p.closest_answer) for p in want]
    np.testing.assert_allclose([p.confidence for p in got], [p.confidence for p in want],
                               atol=1e-4)
    np.testing.assert_allclose(served.embedder.answers(texts[:20]),
                               reference.embedder.answers(texts[:20]), atol=1e-5)


@pytest.mark.tf
@pytest.mark.skipif(not (INTENT / "card.json").is_file(), reason="no shipped intent version")
def test_shipped_router_labels_as_its_keras_model() -> None:
    from model.intent_model import IntentClassifier
    from model.intent_predictor import IntentPredictor, load_intent_dir
    from model.intent_train import HELDOUT, read_heldout

    served = load_intent_dir(INTENT)
    keras_model = IntentClassifier.from_config_object(served.config)
    keras_model.set_weights(read_weights(INTENT))
    reference = IntentPredictor(keras_model, served.tokenizer, served.config, served.task,
                                served.version)
    texts = [row.text for row in read_heldout(HELDOUT)]
    np.testing.assert_allclose(served.probabilities(texts), reference.probabilities(texts),
                               atol=1e-5)
    got, want = served.predict(texts), reference.predict(texts)
    assert [(p.label, p.text, p.target_lang, p.sure) for p in got] == [
        (p.label, p.text, p.target_lang, p.sure) for p in want]


@pytest.mark.skipif(not (QA / "card.json").is_file() or not (INTENT / "card.json").is_file(),
                    reason="no shipped qa or intent version")
def test_loading_qa_and_intent_imports_no_tensorflow(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from model.api import ModelSettings, load\n"
        f"settings = ModelSettings(model_dir=Path({str(tmp_path)!r}))\n"
        "qa, intent = load('qa', settings), load('intent', settings)\n"
        "[answer] = qa.predict(['how do I install a package?'])\n"
        "[route] = intent.predict(['translate to Chinese: good morning'])\n"
        "print(json.dumps([route.label, answer.confidence > 0,\n"
        "                  [m for m in ('tensorflow', 'keras') if m in sys.modules]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["translate", True, []]


def test_lexical_index_transform_matches_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from model.qa_bank import LexicalIndex
    from model.tokenizer import normalize

    questions = ["how do I install a package?", "what is the capital of France",
                 "蜘蛛有几条腿", "I", "a  b\tc", "Upper CASE words, and punctuation!!"]
    index = LexicalIndex.fit(questions)
    again = LexicalIndex.from_json(index.to_json())
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True,
                                dtype=np.float32).fit([normalize(q) for q in questions])
    texts = [*questions, "", "zzz", "How to INSTALL packages", "法国的首都", "x y z x y z"]
    want = reference.transform([normalize(t) for t in texts])
    for lexical in (index, again):
        got = lexical.transform(texts)
        assert got.shape == want.shape
        np.testing.assert_allclose(got.toarray(), want.toarray(), atol=1e-5)
