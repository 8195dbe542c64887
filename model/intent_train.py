"""Train the intent model on generated messages and measure it on the hand-written held-out set.

    train_intent(IntentTrainOptions(budget_minutes=5))

Examples come from ``model.data.intent`` (templates in English and Chinese around corpus texts,
plus real corpus messages); 10% of them are the dev split for early stopping. The held-out
messages of ``tests/fixtures/intent/heldout.tsv`` are only measured (accuracy, confusion table,
extraction of the text to translate and its target language), never trained on.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from model.data.intent import IntentExample, build_intent_examples, read_intent_sources
from model.evaluate import confusion_markdown, intent_metrics
from model.loading import prepare_tensorflow
from model.registry import Registry
from model.settings import REPO_ROOT, default_data_dir, default_model_dir, settings_from_env
from model.task_specs import get_task
from model.tokenizer import Tokenizer, TokenizerSpec
from model.train import TrainResult

HELDOUT = REPO_ROOT / "tests" / "fixtures" / "intent" / "heldout.tsv"


@dataclass
class IntentTrainOptions:
    task: str = "intent"
    corpora_dir: Path | None = None
    model_dir: Path | None = None
    heldout_file: Path | None = None
    per_label: int = 3000
    epochs: int = 6
    budget_minutes: float = 6.0
    batch_size: int = 64
    learning_rate: float = 3e-3
    vocab_size: int = 4000
    overrides: dict[str, Any] = field(default_factory=dict)
    promote: str = "auto"
    seed: int = 13
    verbose: int = 1


def read_heldout(path: Path) -> list[IntentExample]:
    """``message<TAB>label<TAB>target language<TAB>text to translate`` rows (# = comment)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, label, target, payload = line.split("\t")
        rows.append(IntentExample(text, label, target, payload))
    return rows


Batch = tuple[dict[str, np.ndarray], np.ndarray]


def _batches(tokens: list[list[int]], lengths: np.ndarray, labels: np.ndarray, batch_size: int,
             shuffle: bool, rng: random.Random) -> Iterator[Batch]:
    """Length-bucketed batches (sorted by length with jitter, chunks shuffled)."""
    from model.token_rows import pad_ids

    order = sorted(range(len(tokens)),
                   key=lambda i: len(tokens[i]) + (rng.random() * 3 if shuffle else 0))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(chunks)
    for chunk in chunks:
        yield ({"tokens": pad_ids([tokens[i] for i in chunk]), "length": lengths[chunk]},
               labels[chunk])


def make_intent_dataset(inputs: dict[str, Any], labels: np.ndarray, batch_size: int,
                        shuffle: bool, seed: int) -> Any:
    import tensorflow as tf

    rng = random.Random(seed)
    tokens = [[int(t) for t in row if t] for row in inputs["tokens"]]
    signature = ({"tokens": tf.TensorSpec([None, None], tf.int32),
                  "length": tf.TensorSpec([None, 1], tf.float32)},
                 tf.TensorSpec([None], tf.int32))
    dataset = tf.data.Dataset.from_generator(
        lambda: _batches(tokens, inputs["length"], labels, batch_size, shuffle, rng),
        output_signature=signature)
    dataset = dataset.apply(
        tf.data.experimental.assert_cardinality(math.ceil(len(tokens) / batch_size)))
    options = tf.data.Options()
    options.autotune.enabled = False  # PERFORMANCE_NOTES: avoids a stall after each fit()
    return dataset.with_options(options).prefetch(2)


def heldout_report(predictor: Any, heldout: Sequence[IntentExample]) -> dict[str, Any]:
    """Accuracy, confusion table and translation extraction on the hand-written messages."""
    predictions = predictor.predict([e.text for e in heldout])
    labels = list(predictor.config.labels)
    result = intent_metrics([e.label for e in heldout], [p.label for p in predictions], labels)
    result["confusion_markdown"] = confusion_markdown(result["confusion"])
    translate = [(e, p) for e, p in zip(heldout, predictions, strict=True)
                 if e.label == "translate"]
    extracted = sum(p.label == "translate" and p.text == e.payload
                    and p.target_lang == e.target_lang for e, p in translate)
    result["translate_extraction_accuracy"] = round(extracted / max(len(translate), 1), 4)
    result["errors"] = [{"text": e.text[:80], "label": e.label, "predicted": p.label,
                         "confidence": round(p.confidence, 3)}
                        for e, p in zip(heldout, predictions, strict=True) if e.label != p.label]
    return result


def train_intent(options: IntentTrainOptions) -> TrainResult:
    """Generate examples, train the classifier, measure it, write a new intent version."""
    import keras

    from model.intent_model import IntentClassifier
    from model.intent_predictor import (
        IntentConfig,
        IntentPredictor,
        intent_inputs,
    )
    from model.train import time_budget

    prepare_tensorflow(settings_from_env())
    started = time.monotonic()
    keras.utils.set_random_seed(options.seed)
    rng = random.Random(options.seed)
    corpora = Path(options.corpora_dir or default_data_dir())
    examples = build_intent_examples(read_intent_sources(corpora, rng), options.per_label,
                                     options.seed)
    n_dev = max(len(examples) // 10, 1)
    dev, train = examples[:n_dev], examples[n_dev:]
    tokenizer = Tokenizer.train([e.text for e in train],
                                TokenizerSpec(vocab_size=options.vocab_size))
    config = IntentConfig.from_dict({**IntentConfig().to_dict(), **options.overrides,
                                     "vocab_size": tokenizer.vocab_size})
    index = {label: i for i, label in enumerate(config.labels)}

    def dataset(items: list[IntentExample], shuffle: bool) -> Any:
        inputs = intent_inputs(tokenizer, [e.text for e in items], config.max_len)
        labels = np.array([index[e.label] for e in items], np.int32)
        return make_intent_dataset(inputs, labels, options.batch_size, shuffle, options.seed)

    model = IntentClassifier.from_config_object(config)
    model.compile(optimizer=keras.optimizers.Adam(options.learning_rate, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    budget = time_budget(options.budget_minutes * 60)
    fit_start = time.monotonic()
    history = model.fit(
        dataset(train, True), validation_data=dataset(dev, False), epochs=options.epochs,
        callbacks=[budget, keras.callbacks.EarlyStopping(patience=1, restore_best_weights=True)],
        verbose=options.verbose)
    fit_seconds = time.monotonic() - fit_start
    model.set_weights([w.astype(np.float16).astype(np.float32) for w in model.get_weights()])
    predictor = IntentPredictor(model, tokenizer, config, options.task)
    dev_predictions = predictor.predict([e.text for e in dev])
    heldout = read_heldout(Path(options.heldout_file or HELDOUT))
    metrics = {  # dev: generated messages; test: the hand-written held-out messages
        "dev": intent_metrics([e.label for e in dev], [p.label or "" for p in dev_predictions],
                              config.labels),
        "test": heldout_report(predictor, heldout),
    }
    return _write_version(options, predictor, metrics, len(train), len(dev), started,
                          fit_seconds, history.history, bool(budget.exhausted))


def _write_version(options: IntentTrainOptions, predictor: Any, metrics: dict[str, Any],
                   n_train: int, n_dev: int, started: float, fit_seconds: float,
                   history: dict[str, list[float]], exhausted: bool) -> TrainResult:
    from model.intent_predictor import save_intent
    from model.train import _sha256

    registry = Registry(options.model_dir or default_model_dir())
    task = options.task
    with registry.new_version(task) as (version, staging):
        predictor.version = version
        size = save_intent(predictor, staging)
        manifest = Path(options.corpora_dir or default_data_dir()) / "manifest.json"
        card = {
            "task": task,
            "version": version,
            "description": get_task(task).description,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {"generated_examples": n_train + n_dev, "train": n_train, "dev": n_dev,
                     "per_label": options.per_label,
                     "manifest_sha256": _sha256(manifest) if manifest.is_file() else None,
                     "heldout_file": str(options.heldout_file or HELDOUT)},
            "tokenizer": {"type": "sentencepiece-unigram",
                          "vocab_size": predictor.tokenizer.vocab_size, "byte_fallback": True},
            "hyperparameters": {**predictor.config.to_dict(), "batch_size": options.batch_size,
                                "learning_rate": options.learning_rate},
            "parameters": int(predictor.model.count_params()),
            "weights_bytes": size,
            "weights_dtype": "float16",
            "training": {"seconds": round(time.monotonic() - started, 1),
                         "fit_seconds": round(fit_seconds, 1),
                         "epochs": len(history.get("loss", [])),
                         "budget_minutes": options.budget_minutes, "budget_exhausted": exhausted,
                         "history": {k: [round(float(x), 4) for x in v]
                                     for k, v in history.items()}},
            "metrics": metrics,
        }
        Registry.write_card(staging, card)
    promote = options.promote == "yes" or (options.promote == "auto"
                                           and registry.current(task) is None)
    if promote:
        registry.promote(task, version)
    return TrainResult(task, version, registry.version_dir(task, version), card, promote)
