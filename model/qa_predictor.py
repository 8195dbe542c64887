"""A loaded qa version: dual encoder, tokenizer, answer bank and the run-time overlay.

The encoder is Keras' ``DualEncoder`` while training and its NumPy forward pass
(``model.rnn_numpy.DualEncoderNP``) when a version is loaded to serve: this module needs no
TensorFlow.

The bank ranks the answers of a question (``model.qa_bank``); the confidence of the best one is
a logistic calibration, fitted on the dev set, of its score and its margin over the next
different answer. Below ``threshold`` (chosen on the dev set, in the model card) the prediction
says it is not sure. Pairs taught at run time are embedded at once (no retraining) and
persisted, with removals, in a caller-provided directory (the bot's data), separately from the
model version (``model.qa_overlay``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.prediction import Prediction, note_request
from model.qa_bank import AnswerBank, BankEntry, Candidate, LexicalIndex
from model.qa_config import QAConfig, QAWeights, TextEmbedder
from model.qa_fingerprint import normalize_answer, pair_fingerprint, pair_key
from model.qa_overlay import Overlay
from model.tokenizer import Tokenizer, normalize


def calibrated(config: QAConfig, score: float, margin: float) -> float:
    """Confidence in [0, 1]: logistic function of the score and the margin to the next answer."""
    a, b, c = config.calibration
    z = a * score + b * margin + c
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


class QAPredictor:
    """A loaded qa version: dual encoder, tokenizer, answer bank and the run-time overlay."""

    def __init__(self, model: QAWeights, tokenizer: Tokenizer, config: QAConfig,
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
            forgotten = set(self._overlay.forgotten)
            if forgotten:
                self.bank.remove_fingerprints(forgotten)
            wanted = {pair_key(q, a): (q, a) for q, a in self._overlay.added
                      if pair_fingerprint(q, a) not in forgotten}
            held = set()
            for entry in self.bank.entries:
                key = pair_key(entry.question, entry.answer)
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
            key = pair_key(question, answer)
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
            held = {pair_key(e.question, e.answer) for e in self.bank.entries}
            missing: dict[tuple[str, str], tuple[str, str]] = {}
            for question, answer in pairs:
                question, answer = normalize(question), normalize(answer)
                key = pair_key(question, answer)
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

    def forget(self, fingerprints: Sequence[str]) -> int:
        """Remove the pairs with these ``pair_fingerprint``s, shipped or added, and keep the
        fingerprints (not the words) in the overlay so that no version loaded later serves
        them either; returns how many entries were removed. Idempotent."""
        wanted = set(fingerprints)
        if not wanted:
            return 0
        removed = self.bank.remove_fingerprints(wanted)
        with self._overlay_lock:
            added = [p for p in self._overlay.added if pair_fingerprint(*p) not in wanted]
            new = sorted(wanted - set(self._overlay.forgotten))
            if new or len(added) != len(self._overlay.added):
                self._overlay.added = added
                self._overlay.forgotten.extend(new)
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

    def answers(self, texts: Sequence[str], k: int = 5) -> list[list[Candidate]]:
        """``rank``, with no candidates for an empty text."""
        return [row if normalize(str(text)) else []
                for text, row in zip(texts, self.rank(texts, k), strict=True)]

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Answer each text; below ``threshold`` the prediction is not sure (empty ``text``,
        the best answer still in ``closest_answer``)."""
        note_request()
        out = []
        for row in self.answers(texts):
            if not row:
                out.append(Prediction("", 0.0, self.task, self.version, sure=False))
                continue
            best = row[0]
            sure = best.confidence >= self.config.threshold
            out.append(Prediction(best.answer if sure else "", best.confidence, self.task,
                                  self.version, sure, closest_answer=best.answer))
        return out

    def warm_up(self, max_batch: int) -> None:
        """Trace the question encoder on one short text."""
        self.predict(["hello"])
