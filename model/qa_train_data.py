"""What the qa trainer reads: its options, the bank, the dev and test sets, and the pairs and
texts built from the project's corpora (the hand-written paraphrases are never trained on)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.evaluate import normalize_answer
from model.qa_pairs import Pairs, pivot_paraphrases, same_answer_pairs
from model.settings import REPO_ROOT, default_data_dir
from model.tokenizer import Tokenizer

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "qa"


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
