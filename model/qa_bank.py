"""The qa answer bank: entries with cached vectors, searched with one matrix product.

Every bank entry (stored question, answer) is embedded once and cached as one row
``[q_i ; a_i]``; a query ``x`` is scored against the whole bank with one matrix product,
``(1 - w) x.q_i + w x.a_i`` (``w`` = ``answer_weight``), plus, when ``lexical_weight`` is set,
that weight times the character n-gram TF-IDF cosine of the query and the stored question (a
hybrid dense + sparse score, as in Karpukhin et al. 2020), only over entries in the query's
language (Chinese questions get Chinese answers). Answers are ranked by their best entry.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.data.clean import has_cjk
from model.qa_config import QAConfig, TextEmbedder
from model.qa_fingerprint import normalize_answer, pair_fingerprint
from model.tokenizer import normalize


class LexicalIndex:
    """Character n-gram TF-IDF of stored questions, the sparse half of the hybrid score; its
    vocabulary and IDF weights are fixed when the version is trained (fitted by scikit-learn's
    ``TfidfVectorizer``) and saved as JSON (no pickle), so a pair added at run time is indexed
    with the same n-grams.

    ``transform`` is ``TfidfVectorizer(analyzer="char_wb", sublinear_tf=True).transform`` for
    that vocabulary, written out here (tests hold the two to the same rows): importing
    scikit-learn costs one to three seconds, which a bot starting up to answer questions should
    not wait for.
    """

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray,
                 ngram_range: tuple[int, int] = (1, 3)) -> None:
        self.vocabulary = vocabulary
        self.idf = np.asarray(idf, np.float64)
        self.ngram_range = ngram_range

    @classmethod
    def fit(cls, questions: Sequence[str]) -> LexicalIndex:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True,
                                     dtype=np.float32)
        vectorizer.fit([normalize(q) for q in questions])
        return cls({str(t): int(i) for t, i in vectorizer.vocabulary_.items()},
                   vectorizer.idf_, (1, 3))

    def ngrams(self, text: str) -> list[str]:
        """The character n-grams of each word, padded with a space at both ends (``char_wb``)."""
        low, high = self.ngram_range
        found: list[str] = []
        # scikit-learn first replaces runs of two or more whitespace characters with one space;
        # str.split() cuts at any run of whitespace (the same characters as re's \s), so the
        # words are the same without that pass (and without a regex on chat text)
        for word in text.lower().split():
            word = f" {word} "
            for n in range(low, high + 1):
                found.extend(word[i : i + n] for i in range(max(len(word) - n + 1, 1)))
                if len(word) <= n:  # a short word counts once
                    break
        return found

    def transform(self, texts: Sequence[str]) -> Any:
        """Sparse (len(texts), n-grams) rows: 1 + log(count) times IDF, L2-normalised."""
        from scipy import sparse

        indptr, indices, counts = [0], [], []
        lookup = self.vocabulary.get
        for text in texts:
            row = Counter(map(lookup, self.ngrams(normalize(text))))
            row.pop(None, None)  # n-grams outside the vocabulary
            for index in sorted(row):  # type: ignore[type-var]
                indices.append(index)
                counts.append(row[index])
            indptr.append(len(indices))
        data = np.log(np.asarray(counts, np.float32)) + np.float32(1.0)
        index_array = np.asarray(indices, np.int32)
        data *= self.idf[index_array]
        matrix = sparse.csr_matrix((data, index_array, np.asarray(indptr, np.int32)),
                                   shape=(len(texts), len(self.idf)), dtype=np.float32)
        squares = np.asarray(matrix.multiply(matrix).sum(axis=1), np.float64).ravel()
        norms = np.sqrt(squares)
        norms[norms == 0.0] = 1.0
        matrix.data /= np.repeat(norms, np.diff(matrix.indptr)).astype(np.float32)
        return matrix

    def to_json(self) -> str:
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        idf = [round(float(x), 5) for x in self.idf]
        return json.dumps({"ngram_range": list(self.ngram_range), "terms": terms, "idf": idf},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> LexicalIndex:
        data = json.loads(text)
        low, high = data["ngram_range"]
        return cls({t: i for i, t in enumerate(data["terms"])},
                   np.asarray(data["idf"], np.float64), (int(low), int(high)))


# -- the answer bank ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BankEntry:
    question: str
    answer: str
    origin: str = "bank"  # "bank" (shipped with the version) or "added" (taught at run time)


@dataclass(frozen=True)
class Candidate:
    """One ranked answer: its text, the stored question that matched, score and confidence."""

    answer: str
    question: str
    score: float
    confidence: float


@dataclass(frozen=True)
class _Snapshot:
    entries: tuple[BankEntry, ...]
    vectors: np.ndarray  # (N, 2 * D): [question vector ; answer vector]
    chinese: np.ndarray  # (N,) bool
    answer_ids: np.ndarray  # (N,) int: entries with the same normalised answer share an id
    lexical: Any = None  # sparse (N, n-grams) TF-IDF rows of the questions, or None
    answer_lexical: Any = None  # the same for the answers


class AnswerBank:
    """Bank entries with cached vectors; thread-safe add/remove, one-matmul batched search.

    Readers take an immutable snapshot, so a search never sees a half-applied update.
    """

    def __init__(self, embedder: TextEmbedder, lexical: LexicalIndex | None = None) -> None:
        self.embedder = embedder
        self.lexical = lexical
        self._lock = threading.Lock()
        self._snapshot = _Snapshot((), np.zeros((0, 2 * embedder.config.output_dim), np.float32),
                                   np.zeros(0, bool), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self._snapshot.entries)

    @property
    def entries(self) -> tuple[BankEntry, ...]:
        return self._snapshot.entries

    @property
    def vectors(self) -> np.ndarray:
        return self._snapshot.vectors

    def embed(self, entries: Sequence[BankEntry]) -> np.ndarray:
        """[question vector ; answer vector] rows for ``entries``."""
        if not entries:
            return np.zeros((0, 2 * self.embedder.config.output_dim), np.float32)
        questions = self.embedder.questions([e.question for e in entries])
        answers = self.embedder.answers([e.answer for e in entries])
        return np.concatenate([questions, answers], axis=1)

    def extend(self, entries: Sequence[BankEntry], vectors: np.ndarray | None = None) -> None:
        """Append entries (embedding them unless ``vectors`` are given)."""
        rows = self.embed(entries) if vectors is None else np.asarray(vectors, np.float32)
        lexical = answer_lexical = None
        if self.lexical is not None:
            lexical = self.lexical.transform([e.question for e in entries])
            answer_lexical = self.lexical.transform([e.answer for e in entries])
        with self._lock:
            old = self._snapshot
            if lexical is not None and old.lexical is not None:
                from scipy import sparse

                lexical = sparse.vstack([old.lexical, lexical], format="csr")
                answer_lexical = sparse.vstack([old.answer_lexical, answer_lexical], format="csr")
            self._snapshot = self._build(old.entries + tuple(entries),
                                         np.concatenate([old.vectors, rows], axis=0), lexical,
                                         answer_lexical)

    def remove(self, question: str, answer: str | None = None) -> list[BankEntry]:
        """Drop every entry with this question (and answer, if given); returns the dropped ones."""
        q_key = normalize_answer(question)
        a_key = normalize_answer(answer) if answer is not None else None
        return self._drop(lambda e: normalize_answer(e.question) == q_key
                          and (a_key is None or normalize_answer(e.answer) == a_key))

    def remove_fingerprints(self, fingerprints: Set[str]) -> list[BankEntry]:
        """Drop every entry whose ``pair_fingerprint`` is in ``fingerprints``."""
        return self._drop(lambda e: pair_fingerprint(e.question, e.answer) in fingerprints)

    def _drop(self, matches: Callable[[BankEntry], bool]) -> list[BankEntry]:
        with self._lock:
            old = self._snapshot
            drop = [matches(e) for e in old.entries]
            if not any(drop):
                return []
            keep = np.flatnonzero(~np.asarray(drop))
            lexical = old.lexical[keep] if old.lexical is not None else None
            answer_lexical = old.answer_lexical[keep] if old.answer_lexical is not None else None
            self._snapshot = self._build(tuple(old.entries[i] for i in keep), old.vectors[keep],
                                         lexical, answer_lexical)
            return [e for e, d in zip(old.entries, drop, strict=True) if d]

    @staticmethod
    def _build(entries: tuple[BankEntry, ...], vectors: np.ndarray,
               lexical: Any = None, answer_lexical: Any = None) -> _Snapshot:
        ids: dict[str, int] = {}
        answer_ids = np.array([ids.setdefault(normalize_answer(e.answer), len(ids))
                               for e in entries], np.int64)
        chinese = np.array([has_cjk(e.question) for e in entries], bool)
        return _Snapshot(entries, vectors, chinese, answer_ids, lexical, answer_lexical)

    def search(self, queries: np.ndarray, texts: Sequence[str], config: QAConfig,
               k: int) -> list[list[tuple[BankEntry, float]]]:
        """For each query vector (and its text), the ``k`` best distinct answers as
        (entry, score), best first."""
        snap = self._snapshot  # one consistent view, whatever other threads do meanwhile
        if not snap.entries:
            return [[] for _ in range(len(queries))]
        w = config.answer_weight
        weighted = np.concatenate([(1.0 - w) * queries, w * queries], 1)
        scores = weighted @ snap.vectors.T  # (B, N): the one matmul over the whole bank
        if self.lexical is not None and snap.lexical is not None and (
                config.lexical_weight or config.answer_lexical_weight):
            query = self.lexical.transform(texts)
            if config.lexical_weight:
                scores = scores + config.lexical_weight * (query @ snap.lexical.T).toarray()
            if config.answer_lexical_weight and snap.answer_lexical is not None:
                scores = scores + config.answer_lexical_weight * (
                    query @ snap.answer_lexical.T).toarray()
        results = []
        for row, chinese in zip(scores, [has_cjk(t) for t in texts], strict=True):
            same_language = snap.chinese == chinese
            if same_language.any():
                row = np.where(same_language, row, -np.inf)
            top = self._distinct_top(row, snap.answer_ids, k)
            results.append([(snap.entries[i], score) for i, score in top])
        return results

    @staticmethod
    def _distinct_top(row: np.ndarray, answer_ids: np.ndarray, k: int) -> list[tuple[int, float]]:
        top = np.argsort(-row, kind="stable")[: max(8 * k, 32)]
        found: list[tuple[int, float]] = []
        seen: set[int] = set()
        for index in top:
            if not np.isfinite(row[index]) or int(answer_ids[index]) in seen:
                continue
            seen.add(int(answer_ids[index]))
            found.append((int(index), float(row[index])))
            if len(found) == k:
                break
        return found
