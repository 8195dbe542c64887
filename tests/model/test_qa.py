"""The qa dual encoder: learning on a tiny bank, run-time add/remove, "not sure", save/load, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model.data.readers import write_tsv
from model.evaluate import (
    NOT_IN_BANK,
    CharNgramBaseline,
    evaluate_qa,
    low_overlap_rows,
    normalize_answer,
    token_overlap,
)
from model.qa_bank import BankEntry, LexicalIndex
from model.qa_calibration import choose_threshold, qa_rank_fn
from model.qa_contrastive import ContrastiveTrainer
from model.qa_encoder import DualEncoder, QAConfig
from model.qa_files import load_qa_dir, save_qa
from model.qa_fingerprint import forget_in_versions, pair_fingerprint
from model.qa_pairs import PairSampler, noisy_copy, same_answer_pairs
from model.qa_predictor import QAPredictor
from model.registry import Registry
from model.task_specs import PRETRAINED_DIR
from model.tokenizer import Tokenizer, TokenizerSpec
from tests.model.seeding import DATA_SEED, seeded

pytestmark = pytest.mark.tf  # builds or trains TensorFlow models

REPO = Path(__file__).resolve().parents[2]
BANK = [
    ("what colour is the sky", "blue"),
    ("how many legs does a spider have", "eight"),
    ("what is the capital of france", "paris"),
    ("who wrote hamlet", "shakespeare"),
    ("what do cows drink", "water"),
    ("which planet is red", "mars"),
    ("what is frozen water called", "ice"),
    ("what animal says meow", "a cat"),
    ("天空是什么颜色", "蓝色"),
    ("蜘蛛有几条腿", "八条"),
    ("法国的首都是哪里", "巴黎"),
    ("谁写了哈姆雷特", "莎士比亚"),
]
TINY = QAConfig(embed_dim=24, units=24, output_dim=32, dropout=0.0, max_question_len=16,
                max_answer_len=8, answer_weight=0.0, lexical_weight=0.0)


@pytest.fixture(scope="module")
def tiny() -> QAPredictor:
    """A tiny dual encoder trained for a few seconds on the synthetic bank (RNN only)."""
    seeded(3)
    texts = [t for pair in BANK for t in pair] * 4
    tokenizer = Tokenizer.train(texts, TokenizerSpec(vocab_size=400))
    config = replace(TINY, vocab_size=tokenizer.vocab_size)
    model = DualEncoder.from_config_object(config)
    sampler = PairSampler(BANK, [], same_answer_pairs(BANK), seed=3 + DATA_SEED, cluster=2)
    trainer = ContrastiveTrainer(model, tokenizer, config, sampler, batch_size=12,
                                 learning_rate=1e-2)
    trainer.run(60)
    predictor = QAPredictor(model, tokenizer, config)
    predictor.set_bank(BANK, lexical=LexicalIndex.fit([q for q, _ in BANK]))
    return predictor


def test_tiny_dual_encoder_retrieves_the_right_answer(tiny: QAPredictor) -> None:
    import random

    rng = random.Random(0)
    queries = [noisy_copy(q, rng) for q, _ in BANK]  # a word dropped: not the stored text
    ranked = tiny.rank(queries)
    top1 = [row[0].answer for row in ranked]
    hits = sum(got == want for got, (_, want) in zip(top1, BANK, strict=True))
    assert hits >= len(BANK) - 2, list(zip(queries, top1, strict=True))
    for row in ranked:  # distinct answers, best first, confidences in [0, 1]
        assert len({c.answer for c in row}) == len(row)
        assert all(0.0 <= c.confidence <= 1.0 for c in row)
        assert [c.score for c in row] == sorted((c.score for c in row), reverse=True)


def test_chinese_questions_get_chinese_answers(tiny: QAPredictor) -> None:
    for row in tiny.rank(["蜘蛛有几条腿", "天空什么颜色"]):
        assert all(c.answer in {a for _, a in BANK[8:]} for c in row)


def test_added_pair_is_retrievable_at_once_and_removal_forgets_it(
    tiny: QAPredictor, tmp_path: Path
) -> None:
    predictor = QAPredictor(tiny.model, tiny.tokenizer, tiny.config)
    predictor.set_bank(BANK, lexical=tiny.bank.lexical)
    predictor.apply_overlay(tmp_path)
    question, answer = "what is the password of the castle gate", "swordfish"
    predictor.add_pair(question, answer)
    assert len(predictor.bank) == len(BANK) + 1
    [best] = predictor.rank([question], k=1)
    assert best[0].answer == answer and best[0].question == question
    # persisted beside the bot's data: a fresh predictor sees the pair
    again = QAPredictor(tiny.model, tiny.tokenizer, tiny.config)
    again.set_bank(BANK, lexical=tiny.bank.lexical)
    again.apply_overlay(tmp_path)
    assert again.rank([question], k=1)[0][0].answer == answer

    assert predictor.remove_pair(question) == 1
    assert answer not in {c.answer for c in predictor.rank([question], k=20)[0]}
    # removing a shipped pair is remembered too
    assert predictor.remove_pair("who wrote hamlet", "shakespeare") == 1
    fresh = QAPredictor(tiny.model, tiny.tokenizer, tiny.config)
    fresh.set_bank(BANK, lexical=tiny.bank.lexical)
    fresh.apply_overlay(tmp_path)
    answers = {c.answer for c in fresh.rank(["who wrote hamlet"], k=20)[0]}
    assert "shakespeare" not in answers and answer not in answers


def test_below_threshold_the_prediction_is_not_sure(tiny: QAPredictor) -> None:
    unsure = QAPredictor(tiny.model, tiny.tokenizer, replace(tiny.config, threshold=1.01))
    unsure.bank = tiny.bank
    [p] = unsure.predict(["who wrote hamlet"])
    assert not p.sure and p.text == "" and p.closest_answer  # the best guess is still reported
    sure = QAPredictor(tiny.model, tiny.tokenizer, replace(tiny.config, threshold=0.0))
    sure.bank = tiny.bank
    [p] = sure.predict(["who wrote hamlet"])
    assert p.sure and p.text == p.closest_answer
    [row] = sure.answers(["who wrote hamlet"])
    assert row[0].answer == p.text and len(row) >= 2  # the runners-up are ranked too
    [empty] = sure.predict([""])
    assert not empty.sure and empty.confidence == 0.0


def test_forgotten_pairs_leave_the_bank_and_every_version_loaded_later(
    tiny: QAPredictor, tmp_path: Path
) -> None:
    """``forget`` drops shipped and added pairs by fingerprint and keeps only fingerprints in
    the overlay; ``forget_in_versions`` rewrites the banks a model directory ships."""
    user_dir, version = tmp_path / "user", tmp_path / "models" / "qa" / "versions" / "v1"
    predictor = QAPredictor(tiny.model, tiny.tokenizer, tiny.config)
    predictor.set_bank(BANK, lexical=tiny.bank.lexical)
    predictor.apply_overlay(user_dir)
    predictor.add_pair("what is the secret of zorblax", "zorblax knows")
    fingerprints = [pair_fingerprint("What is the secret of zorblax?", "zorblax knows"),
                    pair_fingerprint("who wrote hamlet", "Shakespeare.")]
    assert predictor.forget(fingerprints) == 2
    assert predictor.forget(fingerprints) == 0  # idempotent
    overlay = (user_dir / "qa_overlay.json").read_text(encoding="utf-8")
    assert "zorblax" not in overlay and "hamlet" not in overlay
    later = QAPredictor(tiny.model, tiny.tokenizer, tiny.config)  # a version loaded later
    later.set_bank(BANK, lexical=tiny.bank.lexical)
    later.apply_overlay(user_dir)
    assert len(later.bank) == len(BANK) - 1
    assert "shakespeare" not in {c.answer for c in later.rank(["who wrote hamlet"], k=20)[0]}

    shipped = QAPredictor(tiny.model, tiny.tokenizer, tiny.config)  # a version's files:
    shipped.set_bank(BANK, lexical=tiny.bank.lexical)  # rewritten without the pair,
    version.mkdir(parents=True)  # the vectors in step
    save_qa(shipped, version)
    assert forget_in_versions(tmp_path / "models", "qa", fingerprints) == 1
    assert forget_in_versions(tmp_path / "models", "qa", fingerprints) == 0
    assert "hamlet" not in (version / "bank.jsonl").read_text(encoding="utf-8")
    assert np.load(version / "bank_vectors.npy").shape[0] == len(BANK) - 1
    loaded = load_qa_dir(version)
    assert len(loaded.bank) == len(BANK) - 1
    assert loaded.rank(["what colour is the sky"], k=1)[0][0].answer == "blue"


def test_save_load_identity(tiny: QAPredictor, tmp_path: Path) -> None:
    hybrid = QAPredictor(tiny.model, tiny.tokenizer, replace(tiny.config, lexical_weight=0.5))
    hybrid.set_bank(BANK, lexical=tiny.bank.lexical)
    save_qa(hybrid, tmp_path)
    loaded = load_qa_dir(tmp_path)
    queries = ["what colour is the sky", "谁写了哈姆雷特", "how many legs"]
    before, after = hybrid.rank(queries), loaded.rank(queries)
    assert [[c.answer for c in r] for r in before] == [[c.answer for c in r] for r in after]
    for r1, r2 in zip(before, after, strict=True):
        np.testing.assert_allclose([c.score for c in r1], [c.score for c in r2], atol=2e-2)
    assert loaded.config == hybrid.config


def test_metrics_and_baseline() -> None:
    assert normalize_answer("  Ｐａｒｉｓ. ") == "paris"
    assert normalize_answer("巴黎。") == "巴黎"
    assert token_overlap("who wrote hamlet", "who penned hamlet") == pytest.approx(0.5)
    baseline = CharNgramBaseline(BANK)
    assert baseline.rank(["what colour is the sky?"])[0][0] == "blue"
    pairs = [("who penned hamlet", "Shakespeare."), ("weather tomorrow", NOT_IN_BANK)]
    assert low_overlap_rows(BANK, pairs) == []

    def rank(texts: list[str]) -> tuple[list[list[str]], list[bool]]:
        return [["shakespeare", "paris"], ["paris"]], [True, True]

    result = evaluate_qa(rank, BANK, pairs)
    assert result["exact_match"] == 1.0 and result["n_answerable"] == 1
    assert result["answered_rate"] == 1.0 and result["precision_when_answered"] == 0.5


def test_threshold_reaches_the_target_precision() -> None:
    confidences = [0.95, 0.9, 0.85, 0.6, 0.55, 0.3, 0.2, 0.1]
    correct = [True, True, True, True, False, True, False, False]
    threshold, precision = choose_threshold(confidences, correct, 0.9, min_answered=2)
    assert threshold == pytest.approx(0.56) and precision == 1.0


@pytest.mark.skipif(not (PRETRAINED_DIR / "qa" / "card.json").is_file(),
                    reason="no shipped qa version")
def test_shipped_qa_answers_paraphrases_in_both_languages() -> None:
    predictor = load_qa_dir(PRETRAINED_DIR / "qa")
    card = json.loads((PRETRAINED_DIR / "qa" / "card.json").read_text(encoding="utf-8"))
    assert predictor.config.threshold == card["threshold"]
    questions = ["who is the author of the hobbit", "Debian 是什么"]
    english, chinese = predictor.predict(questions)
    assert predictor.answers(questions)[0][0].question == "who wrote the hobbit"
    assert english.version == card["version"]
    assert "Debian" in chinese.closest_answer
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese.closest_answer)


def test_evaluate_cli_prints_qa_json(tiny: QAPredictor, tmp_path: Path) -> None:
    models = tmp_path / "models"
    registry = Registry(models)
    with registry.new_version("qa") as (version, staging):
        save_qa(tiny, staging)
        Registry.write_card(staging, {"task": "qa", "version": version,
                                      "threshold": tiny.config.threshold})
    registry.promote("qa", version)
    data = tmp_path / "eval.tsv"
    write_tsv(data, [("what colour is the sky", "blue"), ("who wrote hamlet", "shakespeare"),
                     ("what is the weather tomorrow", NOT_IN_BANK)])
    env = {**os.environ, "TF_INTRA_THREADS": "1", "TF_INTER_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "model", "--model-dir", str(models), "evaluate", "--task", "qa",
         "--data", str(data), "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("exact_match", "recall_at_5", "answered_rate", "precision_when_answered",
                "baseline_exact_match", "n", "version", "low_overlap", "threshold"):
        assert key in result, key
    assert result["n"] == 3 and result["version"] == version
    assert 0.0 <= result["exact_match"] <= 1.0


def test_applying_the_overlay_again_neither_duplicates_nor_revives_pairs(
    tiny: QAPredictor, tmp_path: Path
) -> None:
    """A hot swap re-applies the overlay to the new model when the old one changed it while
    the new one loaded (bot/services/inference.py): the result must be what a fresh load gives."""
    def loaded() -> QAPredictor:
        predictor = QAPredictor(tiny.model, tiny.tokenizer, tiny.config)
        predictor.set_bank(BANK, lexical=tiny.bank.lexical)
        predictor.apply_overlay(tmp_path)
        return predictor

    old = loaded()
    old.add_pair("what is the password of the castle gate", "swordfish")
    old.add_pair("which bridge is the oldest", "the stone bridge")
    new = loaded()  # the new version loads with both pairs
    old.remove_pair("which bridge is the oldest")  # meanwhile, through the serving model
    old.add_pair("where is the key", "under the mat")
    new.apply_overlay(tmp_path)
    added = sorted((e.question, e.answer) for e in new.bank.entries if e.origin == "added")
    assert added == [("what is the password of the castle gate", "swordfish"),
                     ("where is the key", "under the mat")]
    assert len(new.bank) == len(BANK) + 2
    def key(e: BankEntry) -> tuple[str, str, str]:
        return e.question, e.answer, e.origin

    assert sorted(map(key, new.bank.entries)) == sorted(map(key, loaded().bank.entries))


def test_rank_fn_reports_answers_and_flags(tiny: QAPredictor) -> None:
    ranked, answered = qa_rank_fn(tiny)(["who wrote hamlet", ""])
    assert ranked[0][0] and isinstance(answered[0], bool)
    [p] = tiny.predict(["who wrote hamlet"])
    assert ranked[0][0] == p.closest_answer and answered[0] == p.sure
    assert ranked[1] == [] and answered[1] is False  # an empty question gets no answer


def test_add_missing_adds_only_pairs_the_bank_lacks(tiny: QAPredictor, tmp_path: Path) -> None:
    predictor = QAPredictor(tiny.model, tiny.tokenizer, tiny.config)
    predictor.set_bank(BANK, lexical=tiny.bank.lexical)
    predictor.apply_overlay(tmp_path)
    predictor.add_pair("what is the password of the castle gate", "swordfish")
    size = len(predictor.bank)
    pairs = [BANK[0], ("What is the password of the castle gate?", "swordfish"),
             ("which bridge is the oldest", "the stone bridge"),
             ("which bridge is the oldest", "the stone bridge")]
    assert predictor.add_missing(pairs) == 1
    assert len(predictor.bank) == size + 1
    assert predictor.add_missing(pairs) == 0
    again = QAPredictor(tiny.model, tiny.tokenizer, tiny.config)
    again.set_bank(BANK, lexical=tiny.bank.lexical)
    again.apply_overlay(tmp_path)
    assert again.rank(["which bridge is the oldest"], k=1)[0][0].answer == "the stone bridge"


def test_answer_side_lexical_score_follows_adds_and_removals(tiny: QAPredictor) -> None:
    # Only the TF-IDF similarity to the stored answer decides: the question-side term is off and
    # the RNN's cosine (within [-1, 1], so it moves a score by at most 2) is outweighed 100 to 1,
    # whatever the tiny model learnt (the 5-seed check found a data order where weight 1 was not).
    config = replace(tiny.config, answer_weight=0.0, lexical_weight=1e-9,
                     answer_lexical_weight=100.0)
    predictor = QAPredictor(tiny.model, tiny.tokenizer, config)
    predictor.set_bank(BANK, lexical=tiny.bank.lexical)
    query = "the frozen ice cave of the north"  # shares words with the answer "ice" only
    assert predictor.rank([query], k=1)[0][0].answer == "ice"
    predictor.add_pair("what is the polar bear's home", "the north, a frozen ice cave")
    assert predictor.rank([query], k=1)[0][0].answer == "the north, a frozen ice cave"
    assert predictor.remove_pair("what is the polar bear's home") == 1
    assert predictor.rank([query], k=1)[0][0].answer == "ice"
    # the answer-side rows stay aligned with the entries after a removal in the middle
    predictor.remove_pair("what colour is the sky")
    snap = predictor.bank._snapshot
    assert snap.answer_lexical.shape[0] == len(snap.entries) == snap.lexical.shape[0]
    assert predictor.rank(["paris paris"], k=1)[0][0].answer == "paris"
