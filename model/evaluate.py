"""Evaluation of a task's predictions against references, with the task's baseline beside it.

Metrics come from sacrebleu (BLEU, chrF; the ``zh`` tokenizer for Chinese targets) and
rouge-score (ROUGE-1/2/L F1 x 100). ``distinct2`` (distinct bigrams / all bigrams of the
generated replies, Li et al. 2016) is a ratio of counts that no metric library provides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sacrebleu
from rouge_score import rouge_scorer

from model.tasks import TaskSpec

Pairs = Sequence[tuple[str, str]]
PredictFn = Callable[[list[str]], list[str]]


def translation_metrics(hyps: Sequence[str], refs: Sequence[str], target_lang: str) -> dict:
    tokenize = "zh" if target_lang == "zh" else "13a"
    bleu = sacrebleu.corpus_bleu(list(hyps), [list(refs)], tokenize=tokenize)
    chrf = sacrebleu.corpus_chrf(list(hyps), [list(refs)])
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2)}


def rouge_metrics(hyps: Sequence[str], refs: Sequence[str]) -> dict:
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for hyp, ref in zip(hyps, refs, strict=True):
        scores = scorer.score(ref, hyp)
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = max(len(hyps), 1)
    return {key: round(100.0 * value / n, 2) for key, value in totals.items()}


def distinct_n(hyps: Sequence[str], n: int = 2) -> float:
    grams: list[tuple[str, ...]] = []
    for hyp in hyps:
        words = hyp.lower().split()
        grams.extend(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def chat_metrics(hyps: Sequence[str], refs: Sequence[str]) -> dict:
    bleu = sacrebleu.corpus_bleu(list(hyps), [list(refs)], tokenize="13a")
    return {"bleu": round(bleu.score, 2), "distinct2": distinct_n(hyps, 2)}


def lead_n(text: str, n: int) -> str:
    return " ".join(text.split()[:n])


class RetrievalBaseline:
    """Nearest-neighbour chat baseline: reply with the answer to the most similar training turn
    (TF-IDF cosine over word unigrams and bigrams, scikit-learn)."""

    def __init__(self, bank: Pairs, max_size: int = 200_000) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        bank = list(bank)[:max_size]
        self.replies = [reply for _, reply in bank]
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        self.matrix = self.vectorizer.fit_transform([turn for turn, _ in bank])

    def predict(self, texts: Sequence[str]) -> list[str]:
        query = self.vectorizer.transform(list(texts))
        best = (query @ self.matrix.T).argmax(axis=1)
        return [self.replies[int(i)] for i in best.A1]


def score(spec: TaskSpec, hyps: Sequence[str], refs: Sequence[str]) -> dict:
    if spec.kind == "translate":
        return translation_metrics(hyps, refs, spec.target_lang)
    if spec.kind == "summarize":
        return rouge_metrics(hyps, refs)
    return chat_metrics(hyps, refs)


def evaluate_pairs(
    spec: TaskSpec,
    predict: PredictFn,
    pairs: Pairs,
    bank: Pairs | None = None,
) -> dict[str, Any]:
    """Metrics of ``predict`` on ``pairs`` plus the task's baseline on the same pairs."""
    sources = [source for source, _ in pairs]
    refs = [ref for _, ref in pairs]
    hyps = predict(sources) if sources else []
    result: dict[str, Any] = {"task": spec.name, "n": len(pairs), **score(spec, hyps, refs)}
    if spec.kind == "summarize" and pairs:
        for n in (8, 10):
            lead = rouge_metrics([lead_n(s, n) for s in sources], refs)
            result[f"baseline_lead{n}_rougeL"] = lead["rougeL"]
            result[f"baseline_lead{n}_rouge1"] = lead["rouge1"]
    if spec.kind == "chat" and pairs and bank:
        retrieved = RetrievalBaseline(bank).predict(sources)
        base = chat_metrics(retrieved, refs)
        result["baseline_retrieval_bleu"] = base["bleu"]
        result["baseline_retrieval_distinct2"] = base["distinct2"]
    return result
