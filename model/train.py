"""Train a task's encoder-decoder into a new registry version; resumable, budgeted, warm-startable.

    train(TrainOptions(task="translate-en-zh", budget_minutes=30))

Stages: read pairs -> tokenizer (trained, or the warm-start version's) -> length-bucketed
batches -> Keras ``fit`` (progress bar with ETA, or ``step``/``epoch`` events for a parent
process; step checkpoints for resume, best-on-dev checkpoint, early stopping, time budget) ->
evaluation on dev and test -> a version directory with weights, tokenizer, model card and
training-curve PNG -> optional promotion. ``train()`` runs these stages in order.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from model.events import STEP_EVERY_S, Events, no_events
from model.registry import Registry
from model.settings import default_data_dir, default_model_dir, settings_from_env
from model.task_specs import TaskSpec, get_task
from model.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer, TokenizerSpec, mask_like, normalize

log = logging.getLogger(__name__)
Pairs = list[tuple[str, str]]


@dataclass
class TrainOptions:
    task: str
    data_dir: Path | None = None  # folder with train.tsv, dev.tsv (and test.tsv)
    model_dir: Path | None = None
    budget_minutes: float | None = None
    epochs: int | None = None
    warm_start: str | None = None  # a version name, or "current"
    resume: bool = False
    promote: str = "auto"  # "auto": only if the task has no current version; "yes"; "no"
    max_train_pairs: int | None = None
    extra_corpora: bool = True  # mix in the task's extra corpora (only without data_dir)
    # corpus -> (repeats, cap or None): replaces the weight of the task's extra corpus
    extra_weights: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    eval_limit: int = 1000
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 13
    verbose: int = 1  # 0: no Keras progress bar and no printed epoch lines
    events: Events = no_events  # step and epoch events (``python -m model train --json``)


@dataclass
class TrainResult:
    task: str
    version: str
    path: Path
    card: dict[str, Any]
    promoted: bool


def load_split(data_dir: Path, split: str, swap: bool) -> Pairs:
    from model.data.readers import read_tsv

    path = Path(data_dir) / f"{split}.tsv"
    if not path.is_file():
        return []
    pairs = read_tsv(path)
    return [(t, s) for s, t in pairs] if swap else list(pairs)


def encode_pairs(
    tokenizer: Tokenizer, pairs: Sequence[tuple[str, str]], max_src: int, max_tgt: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Sources end with EOS; targets (without BOS/EOS) share the source's placeholder indices."""
    sources, targets = [], []
    for source, target in pairs:
        src_ids, originals = tokenizer.encode_masked(source, max_src - 1)
        tgt_ids = tokenizer.encode(mask_like(normalize(target), originals), max_tgt - 1)
        if not src_ids or not tgt_ids:
            continue
        sources.append([*src_ids, EOS_ID])
        targets.append(tgt_ids)
    return sources, targets


def _pad(rows: Sequence[Sequence[int]], multiple: int = 8) -> np.ndarray:
    width = int(math.ceil(max(len(r) for r in rows) / multiple) * multiple)
    out = np.full((len(rows), width), PAD_ID, np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def batches(
    sources: list[list[int]],
    targets: list[list[int]],
    batch_size: int,
    shuffle: bool,
    rng: random.Random,
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Length-bucketed padded batches: sort by length (with jitter), chunk, shuffle the chunks."""
    order = sorted(
        range(len(sources)),
        key=lambda i: (len(sources[i]) + (rng.random() * 4 if shuffle else 0), len(targets[i])),
    )
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(chunks)
    for chunk in chunks:
        src = _pad([sources[i] for i in chunk])
        tgt_in = _pad([[BOS_ID, *targets[i]] for i in chunk])
        tgt_out = _pad([[*targets[i], EOS_ID] for i in chunk])
        width = max(tgt_in.shape[1], tgt_out.shape[1])
        tgt_in = np.pad(tgt_in, ((0, 0), (0, width - tgt_in.shape[1])))
        tgt_out = np.pad(tgt_out, ((0, 0), (0, width - tgt_out.shape[1])))
        yield {"source": src, "target_in": tgt_in}, tgt_out


def _readable_h5(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r"):
            return True
    except (OSError, ValueError):
        return False


def _drop_unreadable_checkpoints(run_dir: Path) -> None:
    """A SIGKILL in the middle of an HDF5 write leaves a file that cannot be opened: drop it
    (the step backup as a whole, with its metadata) so the run resumes from what is intact."""
    backup = run_dir / "backup"
    if any(not _readable_h5(p) for p in backup.glob("**/*.h5")):
        log.warning("step checkpoint in %s is unreadable (killed while writing): dropped", backup)
        shutil.rmtree(backup, ignore_errors=True)
    best = run_dir / "best.weights.h5"
    if best.is_file() and not _readable_h5(best):
        log.warning("%s is unreadable (killed while writing): dropped", best)
        best.unlink()


def make_dataset(sources: list[list[int]], targets: list[list[int]], batch_size: int,
                 shuffle: bool, seed: int) -> Any:
    import tensorflow as tf

    rng = random.Random(seed)
    signature = (
        {
            "source": tf.TensorSpec([None, None], tf.int32),
            "target_in": tf.TensorSpec([None, None], tf.int32),
        },
        tf.TensorSpec([None, None], tf.int32),
    )
    dataset = tf.data.Dataset.from_generator(
        lambda: batches(sources, targets, batch_size, shuffle, rng), output_signature=signature
    )
    # No known cardinality on purpose: with it (assert_cardinality, or repeat() plus
    # steps_per_epoch) the toy task in tests/model/test_train_cli.py learns far worse (BLEU 12
    # instead of 96) for reasons not yet understood. Keras' progress bar shows its ETA from the
    # second epoch on, and the callback below prints the overall ETA after every epoch.
    options = tf.data.Options()
    options.autotune.enabled = False  # see PERFORMANCE_NOTES: avoids ~10 s stalls per fit()
    return dataset.with_options(options).prefetch(2)


def time_budget(budget_s: float | None) -> Any:
    """A Keras callback that stops training at the end of the batch that exceeds ``budget_s``
    seconds (the epoch still validates); ``.exhausted`` tells whether it fired."""
    import keras

    class TimeBudget(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.start = time.monotonic()
            self.exhausted = False

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if budget_s is not None and time.monotonic() - self.start > budget_s:
                self.exhausted = True
                self.model.stop_training = True

    return TimeBudget()


def _best_so_far(run_dir: Path) -> float | None:
    path = run_dir / "progress.json"
    return float(json.loads(path.read_text())["best_val_loss"]) if path.is_file() else None


def _callbacks(run_dir: Path, spec: TaskSpec, budget_s: float | None, total_epochs: int,
               verbose: int, events: Events) -> list[Any]:
    import keras

    class CurveLogger(keras.callbacks.Callback):
        """Records per-step loss and per-epoch dev loss; reports an overall ETA each epoch
        (a printed line for a person, or ``step`` and ``epoch`` events)."""

        def __init__(self) -> None:
            super().__init__()
            self.start = time.monotonic()
            self.steps: list[tuple[int, float]] = []
            self.epochs: list[dict[str, float]] = []
            self.step = 0
            self.reported_at = self.start

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.step += 1
            loss = float((logs or {}).get("loss", float("nan")))
            if logs and self.step % 20 == 0:
                self.steps.append((self.step, loss))
            now = time.monotonic()
            if now - self.reported_at >= STEP_EVERY_S:
                self.reported_at = now
                events("step", task=spec.name, step=self.step, loss=loss,
                       elapsed_s=round(now - self.start, 1))

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = logs or {}
            self.epochs.append({"epoch": epoch + 1, "step": self.step,
                                **{k: float(v) for k, v in logs.items()}})
            if "val_loss" in logs:  # survives a crash, so a resumed run keeps the best score
                best = min(float(logs["val_loss"]), _best_so_far(run_dir) or float("inf"))
                (run_dir / "progress.json").write_text(json.dumps({"best_val_loss": best}))
            elapsed = time.monotonic() - self.start
            per_epoch = elapsed / len(self.epochs)
            remaining = per_epoch * (total_epochs - epoch - 1)
            if budget_s is not None:
                remaining = min(remaining, max(budget_s - elapsed, 0.0))
            events("epoch", task=spec.name, epoch=epoch + 1, epochs=total_epochs,
                   step=self.step, metrics={k: float(v) for k, v in logs.items()},
                   elapsed_s=round(elapsed, 1), eta_s=round(remaining, 1))
            if verbose:
                print(f"[{spec.name}] epoch {epoch + 1}/{total_epochs} "
                      f"val_loss={logs.get('val_loss', float('nan')):.4f} "
                      f"elapsed {elapsed / 60:.1f} min, ETA {remaining / 60:.1f} min", flush=True)

    return [
        # kept after fit() (delete_checkpoint=False) so a crash after training can still resume;
        # removed once the version is written
        keras.callbacks.BackupAndRestore(
            str(run_dir / "backup"), save_freq=200, delete_checkpoint=False
        ),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "best.weights.h5"), monitor="val_loss", save_best_only=True,
            save_weights_only=True, initial_value_threshold=_best_so_far(run_dir),
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=spec.patience),
        time_budget(budget_s),
        CurveLogger(),
    ]


def plot_curve(curve: Any, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if curve.steps:
        xs, ys = zip(*curve.steps, strict=True)
        ax.plot(xs, ys, label="train loss (running mean within the epoch)", alpha=0.6)
    if curve.epochs:
        steps = [e["step"] for e in curve.epochs]
        dev_loss = [e.get("val_loss", np.nan) for e in curve.epochs]
        ax.plot(steps, dev_loss, "o-", label="dev loss (per epoch)")
    ax.set_xlabel("training step")
    ax.set_ylabel("negative log-likelihood per token")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _find_resumable(runs: Path) -> Path | None:
    if not runs.is_dir():
        return None
    candidates = []
    for run in runs.iterdir():
        meta = run / "run.json"
        if meta.is_file() and json.loads(meta.read_text())["status"] == "running":
            candidates.append(run)
    return max(candidates, key=lambda p: p.name) if candidates else None


# -- the stages of a training run ---------------------------------------------------------------
@dataclass(frozen=True)
class _Data:
    directory: Path
    train: Pairs
    dev: Pairs
    test: Pairs
    extra: dict[str, int] = field(default_factory=dict)  # corpus -> pairs added to train


@dataclass(frozen=True)
class _Run:
    """A run's folder under ``<task>/runs`` (its tokenizer, config and checkpoints)."""

    directory: Path
    tokenizer: Tokenizer
    config: Any  # model.seq2seq.ModelConfig
    warm_dir: Path | None
    resumed: bool


@dataclass(frozen=True)
class _Fitted:
    curve: Any  # the CurveLogger callback: steps, epochs, step
    budget_exhausted: bool
    seconds: float
    target_tokens_per_epoch: int


def train(options: TrainOptions) -> TrainResult:
    """Train ``options.task``; returns the new version (promoted according to ``promote``)."""
    import keras

    from model.loading import prepare_tensorflow

    settings = settings_from_env()
    prepare_tensorflow(settings)
    started = time.monotonic()
    registry = Registry(options.model_dir or default_model_dir())
    keras.utils.set_random_seed(options.seed)
    spec, config = _tuned(get_task(options.task), options.overrides)
    data = _read_data(spec, options)
    run = _open_run(options, spec, config, registry, data)
    model = _build_model(spec, run)
    fitted = _fit(model, spec, run, data, options)
    metrics = _evaluate(model, spec, run, data, options.eval_limit)
    with registry.new_version(spec.name) as (version, staging):
        from model.artifact import save_model

        weight_bytes = save_model(model, run.config, staging)
        run.tokenizer.save(staging)
        plot_curve(fitted.curve, staging / "curve.png", f"{spec.name} ({version})")
        card = _model_card(spec, version, data, run, model, fitted, metrics, weight_bytes,
                           options.budget_minutes, time.monotonic() - started)
        Registry.write_card(staging, card)
    promoted = _close_run(registry, spec.name, version, run.directory, options.promote)
    return TrainResult(spec.name, version, registry.version_dir(spec.name, version), card,
                       promoted)


def _tuned(spec: TaskSpec, overrides: dict[str, Any]) -> tuple[TaskSpec, Any]:
    """The task's spec and model config with ``--set`` overrides applied (training settings go
    to the spec, the rest to the model config)."""
    rest = dict(overrides)
    tuning = {k: rest.pop(k) for k in ("vocab_size", "batch_size", "learning_rate", "patience",
                                       "beam_size", "clipnorm", "global_clipnorm") if k in rest}
    spec = replace(spec, **tuning)
    return spec, replace(spec.model, **rest)


def _read_data(spec: TaskSpec, options: TrainOptions) -> _Data:
    directory = Path(options.data_dir or default_data_dir() / "tasks" / spec.corpus)
    train_pairs = load_split(directory, "train", spec.swap)
    dev_pairs = load_split(directory, "dev", spec.swap)
    if not train_pairs or not dev_pairs:
        raise FileNotFoundError(
            f"no train/dev data in {directory}; build the corpora with `python -m model data build`"
        )
    if options.max_train_pairs:
        train_pairs = train_pairs[: options.max_train_pairs]
    extra: dict[str, int] = {}
    if options.data_dir is None and options.extra_corpora:
        for item in spec.extra_corpora:
            if item.corpus in options.extra_weights:
                repeats, cap = options.extra_weights[item.corpus]
                item = replace(item, repeats=repeats, cap=cap)
            pairs = extra_pairs(default_data_dir() / "tasks" / item.corpus, item, spec.swap,
                                options.seed)
            if pairs:
                extra[item.corpus] = len(pairs)
                train_pairs = train_pairs + pairs
    return _Data(directory, train_pairs, dev_pairs, load_split(directory, "test", spec.swap),
                 extra)


def extra_pairs(directory: Path, item: Any, swap: bool, seed: int) -> Pairs:
    """The training pairs an :class:`~model.task_specs.ExtraCorpus` adds: a fixed sample of at
    most ``cap`` pairs of ``directory/train.tsv``, repeated ``repeats`` times (empty when the
    corpus has not been built)."""
    pairs = load_split(directory, "train", swap)
    if item.cap is not None and len(pairs) > item.cap:
        pairs = random.Random(seed).sample(pairs, item.cap)
    return pairs * item.repeats


def _open_run(options: TrainOptions, spec: TaskSpec, config: Any, registry: Registry,
              data: _Data) -> _Run:
    """The interrupted run to resume (``--resume``), or a new one with its tokenizer: the
    warm-start version's, or one trained on the training pairs."""
    from model.loading import ensure_default
    from model.seq2seq_config import ModelConfig

    runs = registry.task_dir(spec.name) / "runs"
    resumable = _find_resumable(runs) if options.resume else None
    if resumable is not None:
        meta = json.loads((resumable / "run.json").read_text())
        print(f"[{spec.name}] resuming run {resumable.name}", flush=True)
        return _Run(resumable, Tokenizer.load(resumable), ModelConfig.from_dict(meta["config"]),
                    Path(meta["warm_dir"]) if meta.get("warm_dir") else None, resumed=True)
    directory = runs / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    directory.mkdir(parents=True, exist_ok=True)
    warm_dir: Path | None = None
    if options.warm_start:
        if options.warm_start == "current":
            ensure_default(spec.name, registry)
        warm_dir = registry.resolve(spec.name, None if options.warm_start == "current"
                                    else options.warm_start)
        tokenizer = Tokenizer.load(warm_dir)
        config = ModelConfig.from_dict(json.loads((warm_dir / "config.json").read_text()))
    else:
        texts = [s for s, _ in data.train] + [t for _, t in data.train]
        tokenizer = Tokenizer.train(texts, TokenizerSpec(vocab_size=spec.vocab_size))
    config = replace(config, vocab_size=tokenizer.vocab_size)
    tokenizer.save(directory)
    (directory / "run.json").write_text(json.dumps({
        "status": "running", "config": config.to_dict(),
        "warm_dir": str(warm_dir) if warm_dir else None,
        "started_at": datetime.now(UTC).isoformat(),
    }, indent=2))
    return _Run(directory, tokenizer, config, warm_dir, resumed=False)


def _build_model(spec: TaskSpec, run: _Run) -> Any:
    """The compiled model, from the warm-start weights or where an interrupted run stopped."""
    import keras

    from model.artifact import load_weights_into
    from model.seq2seq import Seq2Seq, masked_accuracy, masked_nll

    model = Seq2Seq.from_model_config(run.config)
    if run.warm_dir is not None:
        load_weights_into(model, run.warm_dir)
    best = run.directory / "best.weights.h5"
    if run.resumed:
        _drop_unreadable_checkpoints(run.directory)
        if not any((run.directory / "backup").glob("*")) and best.is_file():
            # The interrupted run had finished fitting (no step checkpoint left): start from its
            # best weights, and keep the best score so a worse epoch cannot overwrite them.
            model.load_weights(str(best))
    model.compile(
        optimizer=keras.optimizers.Adam(
            spec.learning_rate, clipnorm=spec.clipnorm, global_clipnorm=spec.global_clipnorm
        ),
        loss=masked_nll,
        metrics=[masked_accuracy],
    )
    return model


def _fit(model: Any, spec: TaskSpec, run: _Run, data: _Data, options: TrainOptions) -> _Fitted:
    """Keras ``fit`` with checkpoints, early stopping and the time budget; then the best weights
    on dev are loaded back."""
    config = run.config
    train_src, train_tgt = encode_pairs(run.tokenizer, data.train, config.max_source_len,
                                        config.max_target_len)
    dev_src, dev_tgt = encode_pairs(run.tokenizer, data.dev, config.max_source_len,
                                    config.max_target_len)
    epochs = options.epochs or spec.max_epochs
    budget_s = options.budget_minutes * 60 if options.budget_minutes else None
    callbacks = _callbacks(run.directory, spec, budget_s, epochs, options.verbose,
                           options.events)
    fit_start = time.monotonic()
    model.fit(
        make_dataset(train_src, train_tgt, spec.batch_size, True, options.seed),
        validation_data=make_dataset(dev_src, dev_tgt, spec.batch_size, False, options.seed),
        epochs=epochs,
        callbacks=callbacks,
        verbose=options.verbose,
    )
    seconds = time.monotonic() - fit_start
    if (run.directory / "best.weights.h5").is_file():
        model.load_weights(str(run.directory / "best.weights.h5"))
    return _Fitted(callbacks[-1], bool(callbacks[-2].exhausted), seconds,
                   sum(len(t) + 1 for t in train_tgt))


def _evaluate(model: Any, spec: TaskSpec, run: _Run, data: _Data, limit: int
              ) -> dict[str, Any]:
    """Metrics on dev and test (the first ``limit`` pairs of each)."""
    from model.evaluate import evaluate_pairs
    from model.seq2seq_predictor import Predictor

    predictor = Predictor(model, run.tokenizer, run.config, spec, "candidate",
                          jit_compile=settings_from_env().xla, dictionary=False)

    def predict_texts(texts: list[str]) -> list[str]:
        return [p.text for p in predictor.predict(texts)]

    return {
        "dev": evaluate_pairs(spec, predict_texts, data.dev[:limit], bank=data.train),
        "test": evaluate_pairs(spec, predict_texts, data.test[:limit], bank=data.train)
        if data.test else {},
    }


def _model_card(spec: TaskSpec, version: str, data: _Data, run: _Run, model: Any,
                fitted: _Fitted, metrics: dict[str, Any], weight_bytes: int,
                budget_minutes: float | None, seconds: float) -> dict[str, Any]:
    manifest = default_data_dir() / "manifest.json"
    epochs_done = len(fitted.curve.epochs)
    tokens = fitted.target_tokens_per_epoch
    return {
        "task": spec.name,
        "version": version,
        "description": spec.description,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "dir": str(data.directory),
            "manifest_sha256": _sha256(manifest) if manifest.is_file() else None,
            "train_pairs": len(data.train),
            "dev_pairs": len(data.dev),
            "test_pairs": len(data.test),
            "extra_train_pairs": data.extra,
            "swap": spec.swap,
        },
        "tokenizer": {"type": "sentencepiece-unigram", "vocab_size": run.tokenizer.vocab_size,
                      "byte_fallback": True},
        "hyperparameters": {**run.config.to_dict(), "batch_size": spec.batch_size,
                            "learning_rate": spec.learning_rate, "beam_size": spec.beam_size,
                            "clipnorm": spec.clipnorm,
                            "global_clipnorm": spec.global_clipnorm},
        "parameters": int(model.count_params()),
        "weights_bytes": weight_bytes,
        "weights_dtype": "float16",
        "training": {
            "seconds": round(seconds, 1),
            "fit_seconds": round(fitted.seconds, 1),
            "epochs": epochs_done,
            "steps": fitted.curve.step,
            "target_tokens_per_epoch": tokens,
            "target_tokens_per_second": round(
                tokens * epochs_done / max(fitted.seconds, 1e-6) if epochs_done else 0.0, 1),
            "budget_minutes": budget_minutes,
            "budget_exhausted": fitted.budget_exhausted,
            "warm_start": str(run.warm_dir.name) if run.warm_dir else None,
            "run": run.directory.name,
            "resumed": run.resumed,
            "history": fitted.curve.epochs,
        },
        "metrics": metrics,
    }


def _close_run(registry: Registry, task: str, version: str, run_dir: Path, promote: str
               ) -> bool:
    """Promote the version when asked (``auto``: when the task has none yet), mark the run
    done and drop its step checkpoints; whether it was promoted."""
    promoted = promote == "yes" or (promote == "auto" and registry.current(task) is None)
    if promoted:
        registry.promote(task, version)
    meta = json.loads((run_dir / "run.json").read_text())
    meta.update(status="done", version=version)
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(run_dir / "backup", ignore_errors=True)
    return promoted


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
