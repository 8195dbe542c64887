"""Question answering by retrieval: an RNN dual encoder over an answer bank.

A question encoder and an answer encoder (``SentenceEncoder``: bidirectional GRU + pooling over
the shared subword embedding) map texts to unit vectors. Every bank entry (stored question,
answer) is embedded once and cached as one row ``[q_i ; a_i]``; a query ``x`` is scored against
the whole bank with one matrix product, ``(1 - w) x.q_i + w x.a_i`` (``w`` = ``answer_weight``),
plus, when ``lexical_weight`` is set, that weight times the character n-gram TF-IDF cosine of
the query and the stored question (a hybrid dense + sparse score, as in Karpukhin et al. 2020),
only over entries in the query's language (Chinese questions get Chinese answers). Answers are
ranked by their best entry; the confidence of the best one is a logistic calibration, fitted on
the dev set, of its score and its margin over the next different answer. Below ``threshold``
(chosen on the dev set, in the model card) the prediction says it is not sure.

Pairs taught at run time are embedded at once (no retraining) and persisted, with removals, in a
caller-provided directory (the bot's data), separately from the model version.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.data.clean import has_cjk
from model.encoders import SentenceEncoder, encode_texts, pad_ids
from model.evaluate import normalize_answer
from model.layers import PACKAGE
from model.registry import _atomic_write_text
from model.tokenizer import PAD_ID, Tokenizer, normalize

CONFIG = "config.json"
WEIGHTS = "weights.npz"
BANK = "bank.jsonl"
BANK_VECTORS = "bank_vectors.npy"
LEXICAL = "lexical.json"
OVERLAY = "qa_overlay.json"


@dataclass
class QAConfig:
    """Hyper-parameters of the dual encoder and the serving settings chosen on the dev set."""

    vocab_size: int = 8000
    embed_dim: int = 128
    units: int = 128
    output_dim: int = 256
    cell: str = "gru"
    dropout: float = 0.1
    max_question_len: int = 32
    max_answer_len: int = 32
    answer_weight: float = 0.3  # weight of question->answer similarity vs question->question
    lexical_weight: float = 0.0  # weight of the character n-gram TF-IDF similarity (hybrid)
    answer_lexical_weight: float = 0.0  # the same TF-IDF similarity against the stored answer
    calibration: tuple[float, float, float] = (10.0, 10.0, -7.0)  # a*score + b*margin + c
    threshold: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QAConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "calibration" in known:
            known["calibration"] = tuple(known["calibration"])
        return cls(**known)


@keras.saving.register_keras_serializable(PACKAGE)
class DualEncoder(keras.Model):
    """Question and answer encoders over one shared token embedding."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        units: int,
        output_dim: int,
        cell: str = "gru",
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.units = units
        self.output_dim = output_dim
        self.cell = cell
        self.dropout_rate = dropout
        self.embedding = layers.Embedding(vocab_size, embed_dim, name="embedding")
        self.question_encoder = SentenceEncoder(units, output_dim, cell, dropout, name="question")
        self.answer_encoder = SentenceEncoder(units, output_dim, cell, dropout, name="answer")

    @classmethod
    def from_config_object(cls, config: QAConfig) -> DualEncoder:
        model = cls(config.vocab_size, config.embed_dim, config.units, config.output_dim,
                    config.cell, config.dropout)
        dummy = tf.ones((1, 8), tf.int32)
        model({"question": dummy, "answer": dummy})
        return model

    def encode_questions(self, ids: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.question_encoder(self.embedding(ids), ids != PAD_ID, training=training)

    def encode_answers(self, ids: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.answer_encoder(self.embedding(ids), ids != PAD_ID, training=training)

    def call(
        self, inputs: dict[str, tf.Tensor], training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor]:
        return (self.encode_questions(inputs["question"], training),
                self.encode_answers(inputs["answer"], training))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "units": self.units,
            "output_dim": self.output_dim,
            "cell": self.cell,
            "dropout": self.dropout_rate,
        }


class TextEmbedder:
    """Batched, compiled encoding of question and answer texts to vectors (inference only)."""

    def __init__(self, model: DualEncoder, tokenizer: Tokenizer, config: QAConfig,
                 batch_size: int = 256) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.batch_size = batch_size
        spec = [tf.TensorSpec([None, None], tf.int32)]
        self._questions = tf.function(lambda ids: model.encode_questions(ids), input_signature=spec)
        self._answers = tf.function(lambda ids: model.encode_answers(ids), input_signature=spec)

    def questions(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._questions, texts, self.config.max_question_len)

    def answers(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._answers, texts, self.config.max_answer_len)

    def _run(self, fn: Any, texts: Sequence[str], max_len: int) -> np.ndarray:
        rows = encode_texts(self.tokenizer, texts, max_len)
        order = np.argsort([len(r) for r in rows], kind="stable")  # similar lengths together
        out = np.zeros((len(rows), self.config.output_dim), np.float32)
        for start in range(0, len(rows), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = fn(pad_ids([rows[i] for i in chunk])).numpy()
        return out


class LexicalIndex:
    """Character n-gram TF-IDF of stored questions (scikit-learn), the sparse half of the hybrid
    score; its vocabulary and IDF weights are fixed when the version is trained and saved as
    JSON (no pickle), so a pair added at run time is indexed with the same n-grams."""

    def __init__(self, vectorizer: Any) -> None:
        self.vectorizer = vectorizer

    @classmethod
    def fit(cls, questions: Sequence[str]) -> LexicalIndex:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True,
                                     dtype=np.float32)
        vectorizer.fit([normalize(q) for q in questions])
        return cls(vectorizer)

    def transform(self, texts: Sequence[str]) -> Any:
        """Sparse (len(texts), n-grams) L2-normalised rows."""
        return self.vectorizer.transform([normalize(t) for t in texts])

    def to_json(self) -> str:
        terms = sorted(self.vectorizer.vocabulary_, key=self.vectorizer.vocabulary_.get)
        idf = [round(float(x), 5) for x in self.vectorizer.idf_]
        return json.dumps({"ngram_range": [1, 3], "terms": terms, "idf": idf},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> LexicalIndex:
        from sklearn.feature_extraction.text import TfidfVectorizer

        data = json.loads(text)
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(data["ngram_range"]),
                                     sublinear_tf=True, dtype=np.float32,
                                     vocabulary={t: i for i, t in enumerate(data["terms"])})
        vectorizer.idf_ = np.asarray(data["idf"], np.float64)
        return cls(vectorizer)


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


def _pair_key(question: str, answer: str) -> tuple[str, str]:
    return normalize_answer(question), normalize_answer(answer)


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
        with self._lock:
            old = self._snapshot
            drop = [normalize_answer(e.question) == q_key
                    and (a_key is None or normalize_answer(e.answer) == a_key)
                    for e in old.entries]
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


# -- persistence of run-time changes -----------------------------------------------------------


@dataclass
class Overlay:
    """Pairs added and removed at run time, kept with the bot's data (not with the model)."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str | None]] = field(default_factory=list)

    @classmethod
    def load(cls, directory: Path | None) -> Overlay:
        path = Path(directory) / OVERLAY if directory else None
        if path is None or not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([(q, a) for q, a in data.get("added", [])],
                   [(q, a) for q, a in data.get("removed", [])])

    def save(self, directory: Path) -> None:
        data = {"added": [list(p) for p in self.added], "removed": [list(p) for p in self.removed]}
        text = json.dumps(data, ensure_ascii=False, indent=1)
        _atomic_write_text(Path(directory) / OVERLAY, text)


# -- the predictor -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QAPrediction:
    """The answer to one question. ``text`` is the answer when ``sure``, else empty."""

    text: str
    confidence: float
    task: str
    version: str
    answer: str = ""  # the best answer even when not sure
    question: str = ""  # the stored question it matched
    sure: bool = False
    runner_ups: tuple[Candidate, ...] = ()


def calibrated(config: QAConfig, score: float, margin: float) -> float:
    """Confidence in [0, 1]: logistic function of the score and the margin to the next answer."""
    a, b, c = config.calibration
    z = a * score + b * margin + c
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


class QAPredictor:
    """A loaded qa version: dual encoder, tokenizer, answer bank and the run-time overlay."""

    def __init__(self, model: DualEncoder, tokenizer: Tokenizer, config: QAConfig,
                 task: str = "qa", version: str = "candidate", card: dict[str, Any] | None = None,
                 user_dir: Path | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.task = task
        self.version = version
        self.card = card or {}
        self.user_dir = Path(user_dir) if user_dir else None
        self.embedder = TextEmbedder(model, tokenizer, config)
        self.bank = AnswerBank(self.embedder)
        self._encode_lock = threading.Lock()
        self._overlay_lock = threading.Lock()
        self._overlay = Overlay()

    @property
    def threshold(self) -> float:
        return self.config.threshold

    # -- bank ----------------------------------------------------------------------------------
    def set_bank(self, pairs: Sequence[tuple[str, str]], vectors: np.ndarray | None = None,
                 lexical: LexicalIndex | None = None) -> None:
        """Replace the shipped bank (before the overlay is applied); ``lexical`` defaults to
        the current bank's index."""
        self.bank = AnswerBank(self.embedder, lexical or self.bank.lexical)
        self.bank.extend([BankEntry(q, a) for q, a in pairs], vectors)

    def apply_overlay(self, user_dir: Path | None) -> None:
        """Make the bank hold what the run-time overlay in ``user_dir`` says; idempotent, so it
        can be applied again after a hot swap: a pair added earlier is not added twice, and one
        no longer in the overlay (removed meanwhile through another model) is dropped."""
        self.user_dir = Path(user_dir) if user_dir else None
        with self._overlay_lock:
            self._overlay = Overlay.load(self.user_dir)
            for question, answer in self._overlay.removed:
                self.bank.remove(question, answer)
            wanted = {_pair_key(q, a): (q, a) for q, a in self._overlay.added}
            held = set()
            for entry in self.bank.entries:
                key = _pair_key(entry.question, entry.answer)
                if entry.origin != "added":
                    continue
                if key in wanted:
                    held.add(key)
                else:
                    self.bank.remove(entry.question, entry.answer)
            added = [BankEntry(q, a, "added") for key, (q, a) in wanted.items() if key not in held]
            if added:
                with self._encode_lock:
                    self.bank.extend(added)

    def add_pair(self, question: str, answer: str) -> None:
        """Make ``question -> answer`` retrievable at once (one pair embedded, no retraining)."""
        question, answer = normalize(question), normalize(answer)
        if not question or not answer:
            raise ValueError("a question and an answer are both needed")
        with self._encode_lock:
            self.bank.extend([BankEntry(question, answer, "added")])
        with self._overlay_lock:
            key = _pair_key(question, answer)
            self._overlay.removed = [
                r for r in self._overlay.removed
                if not (normalize_answer(r[0]) == key[0]
                        and (r[1] is None or normalize_answer(r[1]) == key[1]))
            ]
            self._overlay.added.append((question, answer))
            self._persist()

    def add_missing(self, pairs: Sequence[tuple[str, str]]) -> int:
        """Add the pairs the bank does not hold yet (embedded in one batch); returns how many.

        Used at start-up to bring pairs taught while this model was not loaded into the bank.
        """
        with self._overlay_lock:
            held = {_pair_key(e.question, e.answer) for e in self.bank.entries}
            missing: dict[tuple[str, str], tuple[str, str]] = {}
            for question, answer in pairs:
                question, answer = normalize(question), normalize(answer)
                key = _pair_key(question, answer)
                if question and answer and key not in held:
                    missing.setdefault(key, (question, answer))
            if not missing:
                return 0
            with self._encode_lock:
                self.bank.extend([BankEntry(q, a, "added") for q, a in missing.values()])
            questions = {key[0] for key in missing}
            self._overlay.removed = [r for r in self._overlay.removed
                                     if normalize_answer(r[0]) not in questions]
            self._overlay.added.extend(missing.values())
            self._persist()
        return len(missing)

    def remove_pair(self, question: str, answer: str | None = None) -> int:
        """Forget the entries with this question (and answer); returns how many were removed."""
        removed = self.bank.remove(question, answer)
        with self._overlay_lock:
            q_key = normalize_answer(question)
            a_key = normalize_answer(answer) if answer is not None else None
            self._overlay.added = [
                p for p in self._overlay.added
                if not (normalize_answer(p[0]) == q_key
                        and (a_key is None or normalize_answer(p[1]) == a_key))
            ]
            if any(e.origin == "bank" for e in removed):
                self._overlay.removed.append((question, answer))
            self._persist()
        return len(removed)

    def _persist(self) -> None:
        if self.user_dir is not None:
            self.user_dir.mkdir(parents=True, exist_ok=True)
            self._overlay.save(self.user_dir)

    # -- prediction ----------------------------------------------------------------------------
    def rank(self, texts: Sequence[str], k: int = 5) -> list[list[Candidate]]:
        """The ``k`` best distinct answers of each text, with calibrated confidences."""
        texts = [normalize(str(t)) for t in texts]
        if not texts:
            return []
        with self._encode_lock:
            queries = self.embedder.questions(texts)
        found = self.bank.search(queries, texts, self.config, k + 1)
        return [self._candidates(hits, k) for hits in found]

    def _candidates(self, hits: list[tuple[BankEntry, float]], k: int) -> list[Candidate]:
        scores = [score for _, score in hits]
        out = []
        for j, (entry, score) in enumerate(hits[:k]):
            best_other = max((s for i, s in enumerate(scores) if i != j), default=-1.0)
            confidence = calibrated(self.config, score, score - best_other)
            out.append(Candidate(entry.answer, entry.question, score, confidence))
        return out

    def predict(self, texts: Sequence[str], k: int = 5) -> list[QAPrediction]:
        """Answer each text; below ``threshold`` the prediction is not sure (empty ``text``)."""
        out = []
        for text, candidates in zip(texts, self.rank(texts, k), strict=True):
            if not normalize(str(text)) or not candidates:
                out.append(QAPrediction("", 0.0, self.task, self.version))
                continue
            best = candidates[0]
            sure = best.confidence >= self.config.threshold
            out.append(QAPrediction(best.answer if sure else "", best.confidence, self.task,
                                    self.version, best.answer, best.question, sure,
                                    tuple(candidates[1:])))
        return out


# -- version files -----------------------------------------------------------------------------


def save_qa(predictor: QAPredictor, directory: Path) -> int:
    """Write config, float16 weights, tokenizer and the bank (pairs + vectors); returns bytes."""
    from model.artifact import save_weights

    directory = Path(directory)
    size = save_weights(predictor.model, directory)
    (directory / CONFIG).write_text(json.dumps(predictor.config.to_dict(), indent=2),
                                    encoding="utf-8")
    predictor.tokenizer.save(directory)
    shipped = [e for e in predictor.bank.entries if e.origin == "bank"]
    with (directory / BANK).open("w", encoding="utf-8") as handle:
        for entry in shipped:
            handle.write(json.dumps([entry.question, entry.answer], ensure_ascii=False) + "\n")
    index = [i for i, e in enumerate(predictor.bank.entries) if e.origin == "bank"]
    np.save(directory / BANK_VECTORS, predictor.bank.vectors[index].astype(np.float16))
    if predictor.bank.lexical is not None:
        (directory / LEXICAL).write_text(predictor.bank.lexical.to_json(), encoding="utf-8")
    return size + (directory / BANK_VECTORS).stat().st_size


def read_bank(directory: Path) -> list[tuple[str, str]]:
    lines = (Path(directory) / BANK).read_text(encoding="utf-8").splitlines()
    return [(q, a) for q, a in (json.loads(line) for line in lines if line.strip())]


def _read_card(directory: Path) -> dict[str, Any]:
    path = Path(directory) / "card.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}


def load_qa_dir(directory: Path, task: str = "qa", version: str | None = None,
                card: dict[str, Any] | None = None,
                user_dir: Path | None = None) -> QAPredictor:
    """Build the predictor of a version directory: model, tokenizer, bank, run-time overlay."""
    from model.artifact import load_weights_into

    directory = Path(directory)
    config = QAConfig.from_dict(json.loads((directory / CONFIG).read_text(encoding="utf-8")))
    model = DualEncoder.from_config_object(config)
    load_weights_into(model, directory)
    card = card if card is not None else _read_card(directory)
    predictor = QAPredictor(model, Tokenizer.load(directory), config, task,
                            version or str(card.get("version") or directory.name), card)
    pairs = read_bank(directory)
    vectors = None
    if (directory / BANK_VECTORS).is_file():
        cached = np.load(directory / BANK_VECTORS).astype(np.float32)
        vectors = cached if cached.shape == (len(pairs), 2 * config.output_dim) else None
    lexical = None
    if (directory / LEXICAL).is_file():
        lexical = LexicalIndex.from_json((directory / LEXICAL).read_text(encoding="utf-8"))
    predictor.set_bank(pairs, vectors, lexical)
    predictor.embedder.answers(["warm-up"])  # trace now, so the first add_pair is fast
    predictor.apply_overlay(user_dir)
    return predictor


def load_qa(task: str, version: str | None = None, model_dir: Path | str | None = None,
            user_dir: Path | str | None = None) -> QAPredictor:
    """Load the current (or a named) qa version from the registry, with the run-time overlay
    kept in ``user_dir`` (without one, pairs added or removed live in memory only)."""
    from model.predictor import configure_threads, ensure_default
    from model.registry import Registry
    from model.tasks import default_model_dir

    configure_threads()
    registry = Registry(Path(model_dir) if model_dir else default_model_dir())
    if version is None:
        ensure_default(task, registry)
    path = registry.resolve(task, version)
    return load_qa_dir(path, task, path.name, registry.card(task, path.name),
                       Path(user_dir) if user_dir else None)

