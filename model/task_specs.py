"""The named tasks the project trains and serves, with their default hyper-parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.seq2seq_config import ModelConfig

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


@dataclass(frozen=True)
class ExtraCorpus:
    """Training pairs mixed into a task's own training split (never into dev or test): the
    corpus' ``train.tsv`` (same column order as the task's corpus; swapped with the task),
    at most ``cap`` pairs (a fixed sample), each repeated ``repeats`` times per epoch. This is
    how a source gets its own weight."""

    corpus: str  # folder under <data>/tasks/
    repeats: int = 1
    cap: int | None = None


# Everyday sentences are few (chatterbot-aligned): repeated; dictionary glosses are phrases,
# not sentences: a fixed sample, so the technical sentences still dominate. Back-translated
# pairs (model.backtranslate) have a synthetic Chinese side, so they only train zh -> en.
EVERYDAY = ExtraCorpus("translate-everyday", repeats=8)
DICTIONARY = ExtraCorpus("translate-dictionary", repeats=1, cap=30_000)
BACKTRANSLATED = ExtraCorpus("translate-backtranslated", repeats=1)
# General-domain sentences (model/data/sentences.py): Tatoeba (~55k), the HSK example
# sentences (~4k, everyday topics, repeated) and Wesnoth's dialogue (~12k, game register).
TATOEBA = ExtraCorpus("translate-tatoeba", repeats=1)
HSK_SENTENCES = ExtraCorpus("translate-hsk", repeats=3)
GAMES = ExtraCorpus("translate-games", repeats=1)


@dataclass(frozen=True)
class TaskSpec:
    """What a task learns (which corpus, which direction) and how it is trained by default."""

    name: str
    corpus: str  # folder under <data>/tasks/
    swap: bool  # train target -> source (e.g. zh-en from the en-zh corpus)
    target_lang: str  # "en" or "zh": picks the metric tokenizer
    kind: str  # "translate" | "chat" | "summarize" | "qa" | "intent"
    model: ModelConfig = field(default_factory=ModelConfig)
    vocab_size: int = 8000
    batch_size: int = 64
    learning_rate: float = 2e-3
    clipnorm: float | None = 1.0  # per-variable gradient clipping (what the defaults used)
    global_clipnorm: float | None = None
    max_epochs: int = 30
    patience: int = 2
    beam_size: int = 4
    # Extra CompiledDecoder options for beam search (alpha, length_bonus, no_repeat_ngram,
    # antilm_weight, antilm_steps); chosen on the dev set, see the README's chat results.
    decoding: dict[str, Any] = field(default_factory=dict)
    # Below this confidence (geometric mean of the token probabilities) an output is not
    # ``sure`` and the bot says in one line that it may be wrong; chosen on dev by
    # bench/low_confidence.py. 0: always sure (chat).
    min_confidence: float = 0.0
    # mixed into training when the data comes from the corpus cache (not with --data)
    extra_corpora: tuple[ExtraCorpus, ...] = ()
    description: str = ""


TASKS: dict[str, TaskSpec] = {
    "translate-en-zh": TaskSpec(
        name="translate-en-zh",
        corpus="translate-en-zh",
        swap=False,
        target_lang="zh",
        kind="translate",
        model=ModelConfig(max_source_len=64, max_target_len=64),
        # bench/low_confidence.py on 400 dev pairs (v20261203T171122): below 0.45, 53% of the
        # 28% flagged have chrF < 20
        min_confidence=0.45,
        extra_corpora=(EVERYDAY, DICTIONARY, TATOEBA, HSK_SENTENCES, GAMES),
        description="English -> Simplified Chinese (software, documentation and everyday text)",
    ),
    "translate-zh-en": TaskSpec(
        name="translate-zh-en",
        corpus="translate-en-zh",
        swap=True,
        target_lang="en",
        kind="translate",
        model=ModelConfig(max_source_len=64, max_target_len=64),
        # bench/low_confidence.py on 400 dev pairs (v20261203T171126): no threshold flags
        # outputs of which half are poor (7% are poor; at 0.35, 18% of the flagged), so none
        min_confidence=0.0,
        extra_corpora=(EVERYDAY, DICTIONARY, BACKTRANSLATED, TATOEBA, HSK_SENTENCES, GAMES),
        description="Simplified Chinese -> English (software, documentation and everyday text)",
    ),
    "chat": TaskSpec(
        name="chat",
        corpus="chat",
        swap=False,
        target_lang="en",
        kind="chat",
        model=ModelConfig(max_source_len=40, max_target_len=32, dropout=0.2),
        vocab_size=6000,
        beam_size=4,
        # Chosen on the 1,950 dev turns (BLEU 0.48 vs 0.21 with plain beam search, distinct-2
        # 0.060 vs 0.044): a length bonus stops beam search from preferring two-word replies
        # (brevity penalty 0.36 -> 1.0), trigram blocking stops loops, and the anti-LM term
        # (Li et al. 2016) penalises replies that fit any message over the first 5 tokens.
        decoding={"alpha": 0.0, "length_bonus": 1.5, "no_repeat_ngram": 3,
                  "antilm_weight": 0.5, "antilm_steps": 5},
        description="English chit-chat reply generation (neural conversation model)",
    ),
    "summarize": TaskSpec(
        name="summarize",
        corpus="summarize",
        swap=False,
        target_lang="en",
        kind="summarize",
        model=ModelConfig(copy=True, max_source_len=128, max_target_len=24),
        vocab_size=6000,
        # Chosen on dev (bench/summaries.py choose; 300 corpus rows, 48 conversations): trigram
        # blocking removes every repeated trigram at no ROUGE cost (ROUGE-L 40.8 either way);
        # a coverage penalty (See et al. 2017) of 0.5 / 1 / 2 on top lowered corpus ROUGE-L to
        # 40.6 / 40.1 / 38.8, so it stays off.
        decoding={"no_repeat_ngram": 3},
        # bench/low_confidence.py on 400 dev pairs (v20261203T140640): below 0.3, 4 of the 7
        # summaries flagged (1.8%) have ROUGE-L < 20; from 0.35 up fewer than half of those
        # flagged are poor
        min_confidence=0.3,
        description="One-line summary of a paragraph, English and Chinese (pointer-generator "
                    "copy mechanism)",
    ),
    # The qa and intent models: trained by model.qa_train / model.intent_train, which keep their
    # own hyper-parameters (QAConfig, IntentConfig); the seq2seq fields are unused.
    "qa": TaskSpec(
        name="qa",
        corpus="qa",
        swap=False,
        target_lang="en",
        kind="qa",
        description="Question answering: RNN dual encoder over an answer bank (English, Chinese)",
    ),
    "intent": TaskSpec(
        name="intent",
        corpus="intent",
        swap=False,
        target_lang="en",
        kind="intent",
        description="Intent: free text -> qa | chat | translate | summarize (English, Chinese)",
    ),
}


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        known = ", ".join(sorted(TASKS))
        raise KeyError(f"unknown task {name!r}; known tasks: {known}") from None


@dataclass(frozen=True)
class TaskData:
    """Where a task's training corpus lives and how the trainer reads it (for snapshots)."""

    task: str
    kind: str  # translate | chat | summarize | qa | intent
    corpus_dir: Path  # train.tsv / dev.tsv / test.tsv, in the corpus' own direction
    swap: bool  # the task learns target -> source of the corpus (e.g. zh-en)


def task_data(task: str, data_dir: Path) -> TaskData:
    """The training corpus of ``task`` in the corpus cache ``data_dir`` (``<data_dir>/tasks/``)."""
    spec = get_task(task)
    return TaskData(spec.name, spec.kind, Path(data_dir) / "tasks" / spec.corpus, spec.swap)
