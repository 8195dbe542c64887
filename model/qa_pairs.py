"""Training pairs of the qa dual encoder, and the sampler that draws its batches.

* question -> answer: every bank pair, and chat turns -> replies (response selection, as in
  Lowe et al. 2015), scored with the answer encoder;
* question -> other phrasing, scored with the question encoder: questions of the bank that share
  an answer, "pivot" paraphrases from the parallel corpus (English strings with the same Chinese
  translation, and the reverse; Bannard & Callison-Burch 2005), and noisy copies of bank
  questions (a word dropped, two neighbours swapped).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from model.evaluate import normalize_answer

Pairs = list[tuple[str, str]]


def same_answer_pairs(bank: Sequence[tuple[str, str]], cap: int = 6) -> list[tuple[str, str, str]]:
    """(question, other question, group) for bank questions that share an answer."""
    groups: dict[str, list[str]] = defaultdict(list)
    for question, answer in bank:
        if question not in groups[normalize_answer(answer)]:
            groups[normalize_answer(answer)].append(question)
    out: list[tuple[str, str, str]] = []
    for key, questions in groups.items():
        for a in questions[:cap]:
            out.extend((a, b, key) for b in questions[:cap] if b != a)
    return out


def pivot_paraphrases(pairs: Sequence[tuple[str, str]], limit: int, max_words: int = 12,
                      seed: int = 13) -> list[tuple[str, str, str]]:
    """Paraphrase pairs through a pivot: sources with one translation, and targets with one
    source, that differ after normalisation. ``(text, other text, group)``."""
    by_target: dict[str, set[str]] = defaultdict(set)
    by_source: dict[str, set[str]] = defaultdict(set)
    for source, target in pairs:
        if len(source.split()) <= max_words and len(target) <= 4 * max_words:
            by_target[normalize_answer(target)].add(source)
            by_source[normalize_answer(source)].add(target)
    out: list[tuple[str, str, str]] = []
    for pivot, texts in [*by_target.items(), *by_source.items()]:
        distinct = {normalize_answer(t): t for t in texts}
        if 2 <= len(distinct) <= 6:
            values = sorted(distinct.values())
            out.extend((a, b, "pivot:" + pivot) for a in values for b in values if a != b)
    random.Random(seed).shuffle(out)
    return out[:limit]


def noisy_copy(text: str, rng: random.Random) -> str:
    """Drop one word (Chinese: one character) and maybe swap two neighbours."""
    units = list(text) if " " not in text.strip() else text.split()
    if len(units) >= 3:
        del units[rng.randrange(len(units))]
    if len(units) >= 3 and rng.random() < 0.5:
        i = rng.randrange(len(units) - 1)
        units[i], units[i + 1] = units[i + 1], units[i]
    return ("" if " " not in text.strip() else " ").join(units)


def lexical_neighbours(questions: Sequence[str], k: int = 3) -> list[list[int]]:
    """For each question, the ``k`` most similar other questions by character n-gram TF-IDF:
    hard negatives that make a batch hold look-alike questions with different answers."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)\
        .fit_transform(questions)
    neighbours = []
    for start in range(0, len(questions), 512):
        scores = (matrix[start : start + 512] @ matrix.T).toarray()
        for offset, row in enumerate(scores):
            row[start + offset] = -1.0
            neighbours.append([int(i) for i in np.argsort(-row)[:k]])
    return neighbours


class PairSampler:
    """Random batches of (question, answer) and (question, paraphrase) pairs with group ids.

    Bank examples come in small clusters of look-alike questions (``lexical_neighbours``), so
    that in-batch negatives include hard ones, not only unrelated questions.
    """

    def __init__(self, bank: Pairs, chat: Pairs, paraphrases: list[tuple[str, str, str]],
                 seed: int, cluster: int = 4, real_share: float = 1 / 3) -> None:
        self.rng = random.Random(seed)
        self.real_share = real_share
        self.bank = bank
        self.chat = chat
        self.paraphrases = paraphrases
        self.cluster = cluster
        self.neighbours = lexical_neighbours([q for q, _ in bank], cluster - 1)

    def _bank_indices(self, size: int) -> list[int]:
        picks: list[int] = []
        while len(picks) < size:
            seed = self.rng.randrange(len(self.bank))
            picks.extend([seed, *self.neighbours[seed]][: size - len(picks)])
        return picks

    def answer_batch(self, size: int) -> tuple[list[str], list[str], list[str]]:
        """Half bank pairs (in look-alike clusters), half chat turn -> reply pairs."""
        picks = [self.bank[i] for i in self._bank_indices(size // 2 if self.chat else size)]
        picks += [self.rng.choice(self.chat) for _ in range(size - len(picks))]
        return [q for q, _ in picks], [a for _, a in picks], [normalize_answer(a) for _, a in picks]

    def paraphrase_batch(self, size: int) -> tuple[list[str], list[str], list[str]]:
        """``real_share`` other phrasings (bank, AIML and pivot), the rest noisy copies of bank
        questions."""
        left, right, groups = [], [], []
        n_real = int(size * self.real_share) if self.paraphrases else 0
        for a, b, group in (self.rng.choice(self.paraphrases) for _ in range(n_real)):
            left.append(a)
            right.append(b)
            groups.append(group)
        for index in self._bank_indices(size - n_real):
            question, answer = self.bank[index]
            left.append(question)
            right.append(noisy_copy(question, self.rng))
            groups.append(normalize_answer(answer))
        return left, right, groups
