"""Evaluation of a task's predictions against references, with the task's baseline beside it.

Metrics come from sacrebleu (BLEU, chrF; the ``zh`` tokenizer for Chinese targets) and
rouge-score (ROUGE-1/2/L F1 x 100). ``distinct2`` (distinct bigrams / all bigrams of the
generated replies, Li et al. 2016) is a ratio of counts that no metric library provides.

Question answering (``evaluate_qa``): exact match of the answer after ``normalize_answer``,
recall@5, answered rate and precision when answered, beside a character n-gram TF-IDF
nearest-question baseline (scikit-learn) over the same bank, overall and on paraphrases that
share few words with the stored question. Intent routing: accuracy and a confusion table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sacrebleu
from rouge_score import rouge_scorer

from model.qa_fingerprint import normalize_answer
from model.task_specs import TaskSpec

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


# -- question answering ------------------------------------------------------------------------

NOT_IN_BANK = "<none>"  # expected answer of a question the bank cannot answer
_CJK_OR_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)


def overlap_tokens(text: str) -> set[str]:
    """Lower-cased words, and single characters for Chinese: the units of ``token_overlap``."""
    return set(_CJK_OR_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def token_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the word (Chinese: character) sets of two texts, in [0, 1]."""
    left, right = overlap_tokens(a), overlap_tokens(b)
    return len(left & right) / len(left | right) if left | right else 1.0


class CharNgramBaseline:
    """Nearest stored question by TF-IDF over character n-grams (scikit-learn); answers ranked
    by the best similarity of any of their stored questions."""

    def __init__(self, bank: Pairs, ngram_range: tuple[int, int] = (1, 3)) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.answers = [answer for _, answer in bank]
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True, lowercase=True
        )
        self.matrix = self.vectorizer.fit_transform(
            [unicodedata.normalize("NFKC", q) for q, _ in bank]
        )

    def rank(self, texts: Sequence[str], k: int = 5) -> list[list[str]]:
        """The ``k`` best distinct answers of each text, best first."""
        query = self.vectorizer.transform([unicodedata.normalize("NFKC", t) for t in texts])
        scores = (query @ self.matrix.T).toarray()
        ranked: list[list[str]] = []
        for row in scores:
            seen: list[str] = []
            for index in np.argsort(-row, kind="stable"):
                answer = self.answers[int(index)]
                if answer not in seen:
                    seen.append(answer)
                if len(seen) == k:
                    break
            ranked.append(seen)
        return ranked


def qa_metrics(
    expected: Sequence[str],
    ranked: Sequence[Sequence[str]],
    answered: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """Exact match and recall@5 over rows with an answer in the bank; answered rate and
    precision when answered over all rows (answering a ``NOT_IN_BANK`` row is wrong)."""
    keys = [normalize_answer(e) for e in expected]
    has_answer = [e != NOT_IN_BANK for e in expected]
    tops = [[normalize_answer(a) for a in row[:5]] for row in ranked]
    hits = [bool(top) and top[0] == key for top, key in zip(tops, keys, strict=True)]
    in5 = [key in top for top, key in zip(tops, keys, strict=True)]
    n_answerable = sum(has_answer)
    result: dict[str, Any] = {
        "exact_match": _share(sum(h for h, a in zip(hits, has_answer, strict=True) if a),
                              n_answerable),
        "recall_at_5": _share(sum(h for h, a in zip(in5, has_answer, strict=True) if a),
                              n_answerable),
        "n_answerable": n_answerable,
    }
    if answered is not None:
        correct = [h and a for h, a in zip(hits, has_answer, strict=True)]
        n_answered = sum(answered)
        result["answered_rate"] = _share(n_answered, len(expected))
        result["precision_when_answered"] = _share(
            sum(c for c, d in zip(correct, answered, strict=True) if d), n_answered
        )
    return result


def _share(count: float, total: int) -> float:
    return round(count / total, 4) if total else 0.0


# -- intent routing ----------------------------------------------------------------------------


def intent_metrics(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict:
    """Accuracy and a confusion table (rows: true label, columns: predicted label)."""
    confusion = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(gold, predicted, strict=True):
        confusion[g][p] += 1
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    return {"accuracy": _share(correct, len(gold)), "n": len(gold), "confusion": confusion}


def confusion_markdown(confusion: dict[str, dict[str, int]]) -> str:
    """A markdown table of a confusion matrix, true labels down, predictions across."""
    labels = list(confusion)
    lines = ["| true \\ predicted | " + " | ".join(labels) + " | recall |",
             "|---|" + "---|" * (len(labels) + 1)]
    for gold in labels:
        row = confusion[gold]
        total = sum(row.values())
        recall = f"{row[gold] / total:.2f}" if total else "-"
        cells = " | ".join(str(row[p]) for p in labels)
        lines.append(f"| **{gold}** | {cells} | {recall} |")
    return "\n".join(lines)


RankFn = Callable[[list[str]], tuple[list[list[str]], list[bool]]]
LOW_OVERLAP = 0.25  # token Jaccard below which a paraphrase "shares few words" with the bank


def low_overlap_rows(bank: Pairs, pairs: Pairs, limit: float = LOW_OVERLAP) -> list[int]:
    """Rows whose question overlaps less than ``limit`` with every stored question of its
    expected answer (rows without an answer in the bank are never low-overlap)."""
    questions: dict[str, list[str]] = {}
    for question, answer in bank:
        questions.setdefault(normalize_answer(answer), []).append(question)
    rows = []
    for i, (question, expected) in enumerate(pairs):
        stored = questions.get(normalize_answer(expected), [])
        if stored and max(token_overlap(question, s) for s in stored) < limit:
            rows.append(i)
    return rows


def evaluate_qa(rank: RankFn, bank: Pairs, pairs: Pairs) -> dict[str, Any]:
    """The model's qa metrics on ``pairs`` beside the character n-gram TF-IDF baseline over the
    same bank, overall and on the low-overlap subset."""
    questions = [q for q, _ in pairs]
    expected = [a for _, a in pairs]
    ranked, answered = rank(questions) if pairs else ([], [])
    baseline = CharNgramBaseline(bank).rank(questions) if pairs else []
    result: dict[str, Any] = {"n": len(pairs), **qa_metrics(expected, ranked, answered)}
    base = qa_metrics(expected, baseline)
    result["baseline_exact_match"] = base["exact_match"]
    result["baseline_recall_at_5"] = base["recall_at_5"]
    low = low_overlap_rows(bank, pairs)
    pick = [expected[i] for i in low]
    low_model = qa_metrics(pick, [ranked[i] for i in low], [answered[i] for i in low])
    low_base = qa_metrics(pick, [baseline[i] for i in low])
    result["low_overlap"] = {
        "n": len(low),
        "max_token_overlap": LOW_OVERLAP,
        "exact_match": low_model["exact_match"],
        "recall_at_5": low_model["recall_at_5"],
        "baseline_exact_match": low_base["exact_match"],
        "baseline_recall_at_5": low_base["recall_at_5"],
    }
    return result
