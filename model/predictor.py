"""The boundary between the bot and the models: load a version, ``predict(texts)``.

This is the only module the bot imports from ``model``. It is string in, string out::

    from model.predictor import load
    translator = load("translate-en-zh")
    [p] = translator.predict(["Open the file"])
    p.text, p.confidence, p.version

All requests passed to one ``predict`` call are decoded together in one compiled graph call
(per chunk of ``max_batch``), which is what the bot's micro-batching relies on.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.registry import Registry, RegistryError
from model.tasks import PRETRAINED_DIR, TaskSpec, default_model_dir, get_task
from model.tokenizer import EOS_ID, PAD_ID, Tokenizer, normalize

__all__ = ["Prediction", "Predictor", "Registry", "RegistryError", "TaskData", "ensure_default",
           "load", "open_registry", "task_data"]


@dataclass(frozen=True)
class Prediction:
    """One model output: the text, a confidence in [0, 1], and which model version made it."""

    text: str
    confidence: float
    task: str
    version: str


def configure_threads() -> None:
    """Apply TF_INTRA_THREADS / TF_INTER_THREADS (0 or unset: TensorFlow's default)."""
    import tensorflow as tf

    intra = int(os.environ.get("TF_INTRA_THREADS", "0"))
    inter = int(os.environ.get("TF_INTER_THREADS", "0"))
    try:
        if intra:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter:
            tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # already initialised; keep what is set
        pass


class Predictor:
    """A loaded model version with its tokenizer and compiled batched decoder."""

    def __init__(
        self,
        model: Any,
        tokenizer: Tokenizer,
        config: Any,
        spec: TaskSpec,
        version: str,
        card: dict[str, Any] | None = None,
        beam_size: int | None = None,
        max_batch: int = 64,
        jit_compile: bool | None = None,
    ) -> None:
        from model.seq2seq import CompiledDecoder

        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.spec = spec
        self.task = spec.name
        self.version = version
        self.card = card or {}
        self.beam_size = spec.beam_size if beam_size is None else beam_size
        self.max_batch = max_batch
        if jit_compile is None:  # XLA is 2-3x faster per request here (bench/decode.py)
            jit_compile = os.environ.get("MODEL_XLA", "1") != "0"
        self.jit_compile = jit_compile
        self.decoder = CompiledDecoder(
            model, config.max_target_len, beam_size=max(self.beam_size, 1),
            jit_compile=jit_compile, **spec.decoding,
        )
        self._lock = threading.Lock()  # one decode at a time per model; TF releases the GIL

    def encode_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, list[list[str]]]:
        """Pad tokenized sources to one (B, S) array (S rounded up to a multiple of 8)."""
        rows, originals = [], []
        for text in texts:
            ids, found = self.tokenizer.encode_masked(text, self.config.max_source_len - 1)
            rows.append([*ids, EOS_ID])
            originals.append(found)
        width = max(len(r) for r in rows)
        width = int(math.ceil(width / 8) * 8)
        height = len(rows)
        if self.jit_compile:  # XLA compiles once per shape: round the batch up to a power of two
            height = 1 << (height - 1).bit_length()
            rows += [[EOS_ID]] * (height - len(rows))
        batch = np.full((height, width), PAD_ID, np.int32)
        for i, row in enumerate(rows):
            batch[i, : len(row)] = row
        return batch, originals

    def predict(self, texts: Sequence[str], beam: bool | None = None) -> list[Prediction]:
        """Decode every text; empty inputs get an empty prediction with confidence 0."""
        texts = [normalize(str(t)) for t in texts]
        results: list[Prediction | None] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if t]
        for i, text in enumerate(texts):
            if not text:
                results[i] = Prediction("", 0.0, self.task, self.version)
        use_beam = (self.beam_size > 1) if beam is None else beam
        for start in range(0, len(todo), self.max_batch):
            chunk = todo[start : start + self.max_batch]
            source, originals = self.encode_batch([texts[i] for i in chunk])
            with self._lock:
                fn = self.decoder.beam if use_beam else self.decoder.greedy
                ids, lengths, scores = (x.numpy() for x in fn(source))
            for row, index in enumerate(chunk):
                length = int(lengths[row])
                text = self.tokenizer.decode_unmasked(ids[row, :length], originals[row])
                mean_lp = float(scores[row]) / max(length, 1)
                results[index] = Prediction(text, math.exp(mean_lp), self.task, self.version)
        return [r for r in results if r is not None]


@dataclass(frozen=True)
class TaskData:
    """Where a task's training corpus lives and how the trainer reads it (for snapshots)."""

    task: str
    kind: str  # translate | chat | summarize | qa | intent
    corpus_dir: Path  # train.tsv / dev.tsv / test.tsv, in the corpus' own direction
    swap: bool  # the task learns target -> source of the corpus (e.g. zh-en)


def task_data(task: str) -> TaskData:
    """The training corpus of ``task`` (``MODEL_DATA_DIR/tasks/<corpus>``)."""
    from model.tasks import default_data_dir

    spec = get_task(task)
    return TaskData(spec.name, spec.kind, default_data_dir() / "tasks" / spec.corpus, spec.swap)


def open_registry(model_dir: Path | str | None = None) -> Registry:
    """The version registry (``MODEL_DIR`` by default): versions, cards, promote, rollback."""
    return Registry(Path(model_dir) if model_dir else default_model_dir())


def ensure_default(task: str, registry: Registry) -> None:
    """Install the shipped default version of ``task`` if the registry has no current one."""
    if registry.current(task) is not None:
        return
    shipped = PRETRAINED_DIR / task
    if not (shipped / "card.json").is_file():
        raise RegistryError(
            f"no trained model for {task!r}: run `python -m model train --task {task}`"
        )
    version = registry.import_version(task, shipped)
    registry.promote(task, version)


def load(
    task: str,
    version: str | None = None,
    model_dir: Path | str | None = None,
    beam_size: int | None = None,
    jit_compile: bool | None = None,
    user_dir: Path | str | None = None,
) -> Any:
    """Load the current (or a named) version of ``task`` from the registry.

    Sequence-to-sequence tasks give a ``Predictor``; ``qa`` gives a ``QAPredictor``
    (``predict``, ``add_pair``, ``remove_pair``; pairs taught at run time are kept in
    ``user_dir``) and ``intent`` a ``RouterPredictor`` (``predict``, ``route``).
    """
    from model.artifact import load_model

    spec = get_task(task)
    if spec.kind == "qa":
        from model.retrieval import load_qa

        return load_qa(task, version, model_dir, user_dir)
    if spec.kind == "intent":
        from model.router import load_router

        return load_router(task, version, model_dir)
    configure_threads()
    registry = Registry(Path(model_dir) if model_dir else default_model_dir())
    if version is None:
        ensure_default(task, registry)
    path = registry.resolve(task, version)
    model, tokenizer, config = load_model(path)
    card = registry.card(task, path.name)
    return Predictor(model, tokenizer, config, spec, path.name, card,
                     beam_size=beam_size, jit_compile=jit_compile)
