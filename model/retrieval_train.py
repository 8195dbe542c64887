"""Train the qa dual encoder contrastively, calibrate it on the dev set, write a registry version.

    train_qa(QATrainOptions(budget_minutes=8))

Training pairs (all built from the project's corpora; the hand-written paraphrases are never
trained on):

* question -> answer: every bank pair, and chat turns -> replies (response selection, as in
  Lowe et al. 2015), scored with the answer encoder;
* question -> other phrasing, scored with the question encoder: questions of the bank that share
  an answer, "pivot" paraphrases from the parallel corpus (English strings with the same Chinese
  translation, and the reverse; Bannard & Callison-Burch 2005), and noisy copies of bank
  questions (a word dropped, two neighbours swapped).

The loss is the in-batch softmax (InfoNCE) in both directions with a fixed temperature; entries
of the batch that share an answer are masked, not counted as negatives. The embedding starts from
PPMI-SVD vectors of the same corpora. Every ``eval_every`` steps the paraphrase dev set picks the
best weights and the answer weight; then a logistic calibration of (score, margin) and the
threshold reaching ``target_precision`` on dev are fitted and written into the model card.
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from model.evaluate import NOT_IN_BANK, evaluate_qa, normalize_answer
from model.registry import Registry
from model.tasks import REPO_ROOT, default_data_dir, default_model_dir, get_task
from model.tokenizer import Tokenizer, TokenizerSpec
from model.train import TrainResult

log = logging.getLogger(__name__)
Pairs = list[tuple[str, str]]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "qa"
ANSWER_WEIGHTS = (0.0, 0.15, 0.3, 0.45, 0.6)
LEXICAL_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
ANSWER_LEXICAL_WEIGHTS = (0.0, 0.5, 1.0, 2.0)


@dataclass
class QATrainOptions:
    task: str = "qa"
    data_dir: Path | None = None  # folder with train.tsv (the bank) and test.tsv
    dev_file: Path | None = None  # paraphrase dev set (default: tests/fixtures/qa, both dev files)
    test_file: Path | None = None  # paraphrase test set, reported in the card
    low_overlap_test_file: Path | None = None  # low-overlap paraphrase test set, also reported
    corpora_dir: Path | None = None  # corpus cache with tasks/chat and tasks/translate-en-zh
    model_dir: Path | None = None
    budget_minutes: float = 7.0
    max_steps: int = 100_000
    batch_size: int = 64
    learning_rate: float = 2e-3
    scale: float = 20.0  # inverse softmax temperature of the contrastive loss
    eval_every: int = 250
    chat_pairs: int = 30_000
    pivot_pairs: int = 30_000
    srai_repeat: int = 5  # oversample the AIML question paraphrases (chat-domain, hand-written)
    real_share: float = 1 / 3  # share of real paraphrases in a paraphrase batch (rest: noisy)
    vocab_size: int = 8000
    freeze_embedding: bool = False  # True keeps the PPMI-SVD vectors as they are
    ppmi_texts: int = 120_000  # extra monolingual corpus texts (chat, descriptions) for PPMI
    target_precision: float = 0.9
    overrides: dict[str, Any] = field(default_factory=dict)
    promote: str = "auto"
    seed: int = 13
    verbose: int = 1


# -- training pairs ----------------------------------------------------------------------------


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


# -- the training loop -------------------------------------------------------------------------


def _group_ids(groups: Sequence[str]) -> np.ndarray:
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(g, len(ids)) for g in groups], np.int32)


def make_train_step(model: Any, optimizer: Any, scale: float) -> Any:
    """A compiled step: InfoNCE over question->answer and question->paraphrase batches."""
    import tensorflow as tf

    def contrastive(left: tf.Tensor, right: tf.Tensor, groups: tf.Tensor) -> tf.Tensor:
        logits = scale * tf.matmul(left, right, transpose_b=True)
        n = tf.shape(logits)[0]
        duplicate = tf.logical_and(groups[:, None] == groups[None, :],
                                   tf.logical_not(tf.eye(n, dtype=tf.bool)))
        logits = tf.where(duplicate, -1e4, logits)
        labels = tf.range(n)
        loss = tf.keras.losses.sparse_categorical_crossentropy
        forward = loss(labels, logits, from_logits=True)
        backward = loss(labels, tf.transpose(logits), from_logits=True)
        return tf.reduce_mean(forward + backward) / 2.0

    spec = tf.TensorSpec([None, None], tf.int32)
    group_spec = tf.TensorSpec([None], tf.int32)

    @tf.function(input_signature=[spec, spec, group_spec, spec, spec, group_spec])
    def step(q: tf.Tensor, a: tf.Tensor, qa_groups: tf.Tensor, p: tf.Tensor, p2: tf.Tensor,
             pp_groups: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            qa_loss = contrastive(model.encode_questions(q, training=True),
                                  model.encode_answers(a, training=True), qa_groups)
            pp_loss = contrastive(model.encode_questions(p, training=True),
                                  model.encode_questions(p2, training=True), pp_groups)
            total = qa_loss + pp_loss
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return qa_loss, pp_loss

    return step


class ContrastiveTrainer:
    """Compiled contrastive training steps on batches drawn from a ``PairSampler``."""

    def __init__(self, model: Any, tokenizer: Tokenizer, config: Any, sampler: PairSampler,
                 batch_size: int = 64, learning_rate: float = 2e-3, scale: float = 20.0) -> None:
        import keras

        self.tokenizer = tokenizer
        self.config = config
        self.sampler = sampler
        self.batch_size = batch_size
        optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
        self.step = make_train_step(model, optimizer, scale)
        self.steps = 0

    def _ids(self, texts: list[str], max_len: int) -> np.ndarray:
        from model.encoders import encode_texts, pad_ids

        return pad_ids(encode_texts(self.tokenizer, texts, max_len))

    def run(self, steps: int) -> float:
        """Train ``steps`` steps; returns the mean loss (question->answer + paraphrase)."""
        losses = []
        q_len, a_len = self.config.max_question_len, self.config.max_answer_len
        for _ in range(steps):
            q, a, qa_groups = self.sampler.answer_batch(self.batch_size)
            p, p2, pp_groups = self.sampler.paraphrase_batch(self.batch_size)
            qa_loss, pp_loss = self.step(
                self._ids(q, q_len), self._ids(a, a_len), _group_ids(qa_groups),
                self._ids(p, q_len), self._ids(p2, q_len), _group_ids(pp_groups))
            losses.append(float(qa_loss) + float(pp_loss))
            self.steps += 1
        return float(np.mean(losses)) if losses else float("nan")


def dev_weights(predictor: Any, bank: Pairs, dev: Pairs,
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


def fit_calibration(predictor: Any, dev: Pairs) -> tuple[float, float, float]:
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


def calibrate(predictor: Any, dev: Pairs, target_precision: float) -> dict[str, float]:
    """Fit the calibration and the threshold on ``dev``; store both in the predictor's config."""
    calibration = fit_calibration(predictor, dev)
    predictor.config = replace(predictor.config, calibration=calibration)
    predictions = predictor.predict([q for q, _ in dev])
    correct = [e != NOT_IN_BANK and normalize_answer(p.answer) == normalize_answer(e)
               for p, (_, e) in zip(predictions, dev, strict=True)]
    threshold, precision = choose_threshold([p.confidence for p in predictions], correct,
                                            target_precision)
    predictor.config = replace(predictor.config, threshold=threshold)
    return {"threshold": threshold, "dev_precision_at_threshold": round(precision, 4),
            "target_precision": target_precision}


def qa_rank_fn(predictor: Any) -> Any:
    """``evaluate_qa``'s rank function for a ``QAPredictor``."""

    def rank(texts: list[str]) -> tuple[list[list[str]], list[bool]]:
        predictions = predictor.predict(texts)
        ranked = [[p.answer, *(c.answer for c in p.runner_ups)] if p.answer else []
                  for p in predictions]
        return ranked, [p.sure for p in predictions]

    return rank


# -- data --------------------------------------------------------------------------------------


def _read(path: Path, limit: int | None = None, seed: int = 13) -> Pairs:
    from model.data.readers import read_tsv

    if not path.is_file():
        return []
    pairs = read_tsv(path)
    if limit is not None and len(pairs) > limit:
        pairs = random.Random(seed).sample(pairs, limit)
    return pairs


@dataclass
class QAData:
    bank: Pairs
    dev: Pairs
    test: Pairs
    verbatim_test: Pairs
    chat: Pairs
    paraphrases: list[tuple[str, str, str]]
    tokenizer_texts: list[str]
    parallel: Pairs  # English-Chinese pairs: cross-lingual positives and pseudo-bilingual PPMI
    ppmi_texts: list[str]  # more monolingual text for the PPMI-SVD embeddings only
    low_overlap_test: Pairs = field(default_factory=list)  # hand-written, few shared words


def load_qa_data(options: QATrainOptions, data_dir: Path) -> QAData:
    corpora = Path(options.corpora_dir or default_data_dir())
    bank = list(dict.fromkeys(_read(data_dir / "train.tsv")))
    if not bank:
        raise FileNotFoundError(
            f"no qa bank in {data_dir}; build the corpora with `python -m model data build`"
        )
    if options.dev_file:
        dev = _read(Path(options.dev_file))
    else:  # select and calibrate on both dev sets: close and low-overlap paraphrases
        dev = _read(FIXTURES / "paraphrases-dev.tsv") + _read(FIXTURES / "low-overlap-dev.tsv")
    if not dev:
        dev = _read(data_dir / "dev.tsv")
    chat = _read(corpora / "tasks" / "chat" / "train.tsv", options.chat_pairs, options.seed)
    parallel = _read(corpora / "tasks" / "translate-en-zh" / "train.tsv", 150_000, options.seed)
    pivots = pivot_paraphrases(parallel, options.pivot_pairs, seed=options.seed)
    short = [(e, z) for e, z in parallel if len(e.split()) <= 16]
    crosslingual = [(e, z, "x:" + normalize_answer(e)) for e, z in short[: options.pivot_pairs]]
    srai = [(a, b, "srai:" + normalize_answer(b)) for a, b in
            _read(corpora / "tasks" / "qa-paraphrase" / "train.tsv")]
    paraphrases = same_answer_pairs(bank) + pivots + crosslingual + srai * options.srai_repeat
    sample = random.Random(options.seed).sample(parallel, min(len(parallel), 30_000))
    texts = ([t for pair in bank for t in pair] + [t for pair in chat for t in pair]
             + [t for pair in sample for t in pair])
    monolingual = [t for t, _ in _read(corpora / "tasks" / "chat" / "train.tsv",
                                       options.ppmi_texts // 2, options.seed + 1)]
    monolingual += [s for s, _ in _read(corpora / "tasks" / "summarize" / "train.tsv",
                                        options.ppmi_texts // 2, options.seed + 1)]
    low_test = _read(Path(options.low_overlap_test_file or FIXTURES / "low-overlap-test.tsv"))
    return QAData(bank, dev, _read(Path(options.test_file or FIXTURES / "paraphrases-test.tsv")),
                  _read(data_dir / "test.tsv"), chat, paraphrases, texts, parallel, monolingual,
                  low_test)


def pseudo_bilingual_rows(tokenizer: Tokenizer, pairs: Sequence[tuple[str, str]],
                          seed: int) -> list[list[int]]:
    """Token rows of each translation pair merged and shuffled (Vulic & Moens 2015), so that
    co-occurrence links an English subword with the Chinese ones of its translations, and
    Chinese words with the same English translations end up close."""
    rng = random.Random(seed)
    rows = []
    for english, chinese in pairs:
        merged = tokenizer.encode(english, 32) + tokenizer.encode(chinese, 32)
        rng.shuffle(merged)
        rows.append(merged)
    return rows


# -- train -------------------------------------------------------------------------------------


def train_qa(options: QATrainOptions) -> TrainResult:
    """Train, select on dev, calibrate, evaluate and write a new qa version."""
    import keras

    from model.encoders import encode_texts, ppmi_embeddings
    from model.predictor import configure_threads
    from model.retrieval import DualEncoder, LexicalIndex, QAConfig, QAPredictor

    configure_threads()
    started = time.monotonic()
    spec = get_task(options.task)
    keras.utils.set_random_seed(options.seed)
    data_dir = Path(options.data_dir or default_data_dir() / "tasks" / spec.corpus)
    data = load_qa_data(options, data_dir)
    tokenizer = Tokenizer.train(data.tokenizer_texts, TokenizerSpec(vocab_size=options.vocab_size))
    config = QAConfig.from_dict({**QAConfig().to_dict(), **options.overrides,
                                 "vocab_size": tokenizer.vocab_size})
    model = DualEncoder.from_config_object(config)
    rows = encode_texts(tokenizer, data.tokenizer_texts + data.ppmi_texts, 64)
    rows += pseudo_bilingual_rows(tokenizer, data.parallel, options.seed)
    model.embedding.set_weights([ppmi_embeddings(rows, config.vocab_size, config.embed_dim)])
    model.embedding.trainable = not options.freeze_embedding
    log.info("qa: data and embeddings ready after %.0f s", time.monotonic() - started)

    sampler = PairSampler(data.bank, data.chat, data.paraphrases, options.seed,
                          real_share=options.real_share)
    trainer = ContrastiveTrainer(model, tokenizer, config, sampler, options.batch_size,
                                 options.learning_rate, options.scale)
    predictor = QAPredictor(model, tokenizer, config, spec.name)
    predictor.set_bank(data.bank, lexical=LexicalIndex.fit([q for q, _ in data.bank]))
    budget = options.budget_minutes * 60
    fit_start = time.monotonic()
    best: dict[str, Any] = {"exact_match": -1.0}
    history: list[dict[str, float]] = []
    while trainer.steps < options.max_steps and time.monotonic() - fit_start < budget:
        loss = trainer.run(min(options.eval_every, options.max_steps - trainer.steps))
        exact, weight, _ = dev_weights(predictor, data.bank, data.dev, (0.0,))
        point = {"step": trainer.steps, "loss": round(loss, 4), "dev_exact_match_rnn": exact,
                 "answer_weight": weight, "seconds": round(time.monotonic() - fit_start, 1)}
        history.append(point)
        if options.verbose:
            print(f"[qa] {point}", flush=True)
        if exact > best["exact_match"]:
            best = {"exact_match": exact, "step": trainer.steps, "weights": model.get_weights()}
    fit_seconds = time.monotonic() - fit_start
    if "weights" in best:
        model.set_weights(best["weights"])
    return _finish(options, spec.name, predictor, data, data_dir, started, fit_seconds,
                   trainer.steps, history, best.get("step"))


def _roundtrip_float16(predictor: Any) -> None:
    """Serve what will be shipped: weights rounded to float16, bank re-embedded with them."""
    predictor.model.set_weights([w.astype(np.float16).astype(np.float32)
                                 for w in predictor.model.get_weights()])


def _finish(options: QATrainOptions, task: str, predictor: Any, data: QAData, data_dir: Path,
            started: float, fit_seconds: float, steps: int, history: list[dict[str, float]],
            best_step: int | None) -> TrainResult:
    from model.retrieval import save_qa
    from model.train import _sha256

    _roundtrip_float16(predictor)
    rank = qa_rank_fn(predictor)
    _, rnn_weight, _ = dev_weights(predictor, data.bank, data.dev, (0.0,))
    rnn_only = {name: evaluate_qa(rank, data.bank, pairs)
                for name, pairs in (("dev", data.dev), ("test", data.test),
                                    ("test_low_overlap", data.low_overlap_test)) if pairs}
    dev_weights(predictor, data.bank, data.dev)  # hybrid: answer and lexical weights on dev
    calibration = calibrate(predictor, data.dev, options.target_precision)
    metrics = {
        "dev": evaluate_qa(rank, data.bank, data.dev),
        "test": evaluate_qa(rank, data.bank, data.test) if data.test else {},
        "test_low_overlap": evaluate_qa(rank, data.bank, data.low_overlap_test)
        if data.low_overlap_test else {},
        "test_verbatim": evaluate_qa(rank, data.bank, data.verbatim_test)
        if data.verbatim_test else {},
        "rnn_only": {"answer_weight": rnn_weight, **rnn_only},
    }
    registry = Registry(options.model_dir or default_model_dir())
    with registry.new_version(task) as (version, staging):
        predictor.version = version
        size = save_qa(predictor, staging)
        manifest = Path(options.corpora_dir or default_data_dir()) / "manifest.json"
        card = {
            "task": task,
            "version": version,
            "description": get_task(task).description,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {
                "dir": str(data_dir),
                "manifest_sha256": _sha256(manifest) if manifest.is_file() else None,
                "bank_pairs": len(data.bank),
                "chat_pairs": len(data.chat),
                "paraphrase_pairs": len(data.paraphrases),
                "srai_pairs": sum(1 for *_, g in data.paraphrases if g.startswith("srai:")),
                "dev_file": str(options.dev_file or
                                "tests/fixtures/qa/{paraphrases,low-overlap}-dev.tsv"),
                "dev_pairs": len(data.dev),
                "test_pairs": len(data.test),
            },
            "tokenizer": {"type": "sentencepiece-unigram",
                          "vocab_size": predictor.tokenizer.vocab_size, "byte_fallback": True},
            "hyperparameters": {**predictor.config.to_dict(), "batch_size": options.batch_size,
                                "learning_rate": options.learning_rate, "scale": options.scale},
            "parameters": int(predictor.model.count_params()),
            "weights_bytes": size,
            "weights_dtype": "float16",
            "threshold": predictor.config.threshold,
            "calibration": calibration,
            "training": {"seconds": round(time.monotonic() - started, 1),
                         "fit_seconds": round(fit_seconds, 1), "steps": steps,
                         "best_step": best_step, "budget_minutes": options.budget_minutes,
                         "history": history},
            "metrics": metrics,
        }
        Registry.write_card(staging, card)
    promote = options.promote == "yes" or (options.promote == "auto"
                                           and registry.current(task) is None)
    if promote:
        registry.promote(task, version)
    return TrainResult(task, version, registry.version_dir(task, version), card, promote)
