"""Choosing the qa serving settings on the dev set: score weights, calibration, threshold.

``dev_weights`` picks the answer and lexical weights of the hybrid score, ``calibrate`` fits a
logistic calibration of (score, margin) and the threshold reaching a target precision, and
``qa_rank_fn`` gives ``evaluate_qa`` the ranked answers of a predictor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from model.evaluate import NOT_IN_BANK, normalize_answer
from model.qa_pairs import Pairs

if TYPE_CHECKING:
    from model.qa_predictor import QAPredictor

RankFn = Callable[[list[str]], tuple[list[list[str]], list[bool]]]

ANSWER_WEIGHTS = (0.0, 0.15, 0.3, 0.45, 0.6)
LEXICAL_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
ANSWER_LEXICAL_WEIGHTS = (0.0, 0.5, 1.0, 2.0)


def dev_weights(predictor: QAPredictor, bank: Pairs, dev: Pairs,
                lexical_weights: Sequence[float] = LEXICAL_WEIGHTS,
                answer_lexical_weights: Sequence[float] = ANSWER_LEXICAL_WEIGHTS,
                ) -> tuple[float, float, float]:
    """Re-embed the bank; the (exact match, answer weight, lexical weight) best on dev (the
    best answer-lexical weight is set in the predictor's config too)."""
    from model.evaluate import qa_metrics
    from model.tokenizer import normalize

    predictor.set_bank(bank)
    answerable = [(q, a) for q, a in dev if a != NOT_IN_BANK]
    texts = [normalize(q) for q, _ in answerable]
    queries = predictor.embedder.questions(texts)  # once: only the weights change below
    best = (-1.0, 0.0, 0.0, 0.0)
    for lexical in lexical_weights:
        for answer_lexical in answer_lexical_weights if lexical else (0.0,):
            for weight in ANSWER_WEIGHTS:
                predictor.config = replace(predictor.config, answer_weight=weight,
                                           lexical_weight=lexical,
                                           answer_lexical_weight=answer_lexical)
                hits = predictor.bank.search(queries, texts, predictor.config, 5)
                ranked = [[entry.answer for entry, _ in row] for row in hits]
                score = qa_metrics([a for _, a in answerable], ranked)["exact_match"]
                if score > best[0]:
                    best = (score, weight, lexical, answer_lexical)
    predictor.config = replace(predictor.config, answer_weight=best[1], lexical_weight=best[2],
                               answer_lexical_weight=best[3])
    return best[0], best[1], best[2]


def fit_calibration(predictor: QAPredictor, dev: Pairs) -> tuple[float, float, float]:
    """Logistic regression of "the top answer is right" on (score, margin) over the dev set."""
    from sklearn.linear_model import LogisticRegression

    features, labels = [], []
    for (_, expected), row in zip(dev, predictor.rank([q for q, _ in dev]), strict=True):
        if not row:
            continue
        margin = row[0].score - (row[1].score if len(row) > 1 else -1.0)
        features.append([row[0].score, margin])
        labels.append(int(expected != NOT_IN_BANK
                          and normalize_answer(row[0].answer) == normalize_answer(expected)))
    if len(set(labels)) < 2:
        return predictor.config.calibration
    fit = LogisticRegression(C=10.0).fit(np.array(features), np.array(labels))
    a, b = (float(x) for x in fit.coef_[0])
    return (round(a, 4), round(b, 4), round(float(fit.intercept_[0]), 4))


def choose_threshold(confidences: Sequence[float], correct: Sequence[bool],
                     target_precision: float, min_answered: int = 5) -> tuple[float, float]:
    """The lowest threshold whose answers on dev reach ``target_precision``; (threshold,
    precision). Falls back to the threshold of the best precision when none reaches it."""
    conf = np.asarray(confidences, float)
    ok = np.asarray(correct, bool)
    best: tuple[float, float] | None = None
    fallback = (0.99, 0.0)
    for threshold in np.round(np.arange(0.05, 0.991, 0.01), 2):
        answered = conf >= threshold
        if answered.sum() < min_answered:
            continue
        precision = float(ok[answered].mean())
        if precision > fallback[1]:
            fallback = (float(threshold), precision)
        if best is None and precision >= target_precision:
            best = (float(threshold), precision)
    return best or fallback


def calibrate(predictor: QAPredictor, dev: Pairs, target_precision: float) -> dict[str, float]:
    """Fit the calibration and the threshold on ``dev``; store both in the predictor's config."""
    calibration = fit_calibration(predictor, dev)
    predictor.config = replace(predictor.config, calibration=calibration)
    predictions = predictor.predict([q for q, _ in dev])
    correct = [e != NOT_IN_BANK and normalize_answer(p.closest_answer) == normalize_answer(e)
               for p, (_, e) in zip(predictions, dev, strict=True)]
    threshold, precision = choose_threshold([p.confidence for p in predictions], correct,
                                            target_precision)
    predictor.config = replace(predictor.config, threshold=threshold)
    return {"threshold": threshold, "dev_precision_at_threshold": round(precision, 4),
            "target_precision": target_precision}


def qa_rank_fn(predictor: QAPredictor) -> RankFn:
    """``evaluate_qa``'s rank function for a ``QAPredictor``: the ranked answers of each text
    and whether the best one is sure (the same rule as ``QAPredictor.predict``)."""

    def rank(texts: list[str]) -> tuple[list[list[str]], list[bool]]:
        rows = predictor.answers(texts)
        ranked = [[c.answer for c in row] if row and row[0].answer else [] for row in rows]
        return ranked, [bool(row) and row[0].confidence >= predictor.threshold for row in rows]

    return rank
