"""Benchmark: training throughput of each default model, and the time each took to train.

    python -m bench.training [--steps 20]

For every sequence-to-sequence model shipped in ``model/pretrained``: the same architecture
(its ``config.json``), optimizer and loss as ``python -m model train``, trained for a few steps
on random token batches shaped like its training data (batch size from its card, target length
the mean of its training targets); measured in target tokens per second after a warm-up. Beside
it, what the model card recorded for the real training run (time, epochs, throughput), and the
time one epoch of its data would take at the measured speed. ``qa`` and ``intent`` are trained
differently (a dual encoder and a classifier): their card's training time is reported.

Writes ``bench/results/training.json``, ``training.md`` and ``training.png``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, machine, pyplot, table, write_json, write_markdown

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PRETRAINED = Path(__file__).resolve().parents[1] / "model" / "pretrained"


def shape_of(card: dict[str, Any], config: Any, directory: Path, batch_size: int
             ) -> tuple[int, int, str]:
    """(mean target length, source length, where the source length comes from) of a model's
    training batches: the target length from its card; the source length measured on its
    training data when that is on disk, else a stand-in (1.2 x the target for translation,
    0.6 x the longest source for summaries, whose sources are paragraphs)."""
    training = card.get("training", {})
    per_epoch = training.get("target_tokens_per_epoch")
    steps, epochs = training.get("steps"), training.get("epochs")
    if per_epoch and steps and epochs:
        target = max(4, round(per_epoch / (steps / epochs * batch_size)) - 1)
    else:
        target = 20
    train_tsv = Path(card.get("data", {}).get("dir", "/nonexistent")) / "train.tsv"
    if train_tsv.is_file():
        from model.tokenizer import Tokenizer

        tokenizer = Tokenizer.load(directory)
        column = 1 if card.get("data", {}).get("swap") else 0
        with train_tsv.open(encoding="utf-8") as lines:
            sample = [line.rstrip("\n").split("\t")[column]
                      for line in itertools.islice(lines, 2000)]
        lengths = [len(tokenizer.encode(t, config.max_source_len - 1)) + 1 for t in sample]
        source, origin = round(sum(lengths) / len(lengths)), "measured on its training data"
    elif config.copy:
        source, origin = round(0.6 * config.max_source_len), "0.6 x longest source"
    else:
        source, origin = round(1.2 * target), "1.2 x target length"
    return target, int(math.ceil(source / 8) * 8), origin  # sources padded to multiples of 8


def throughput(directory: Path, steps: int) -> dict[str, Any]:
    import keras
    import numpy as np

    from model.artifact import load_config
    from model.seq2seq import Seq2Seq, masked_accuracy, masked_nll
    from model.task_specs import get_task

    card = json.loads((directory / "card.json").read_text())
    spec = get_task(card["task"])
    config = load_config(directory)
    model = Seq2Seq.from_model_config(config)
    model.compile(optimizer=keras.optimizers.Adam(spec.learning_rate, clipnorm=spec.clipnorm,
                                                  global_clipnorm=spec.global_clipnorm),
                  loss=masked_nll, metrics=[masked_accuracy])
    batch = spec.batch_size
    target, source, source_origin = shape_of(card, config, directory, batch)
    rng = np.random.default_rng(0)
    width = int(math.ceil((target + 1) / 8) * 8)

    def sample() -> tuple[dict[str, Any], Any]:
        src = rng.integers(4, config.vocab_size, (batch, source), dtype=np.int32)
        tgt = rng.integers(4, config.vocab_size, (batch, width), dtype=np.int32)
        tgt[:, target + 1:] = 0  # padding beyond the target, masked by the loss
        return {"source": src, "target_in": tgt}, tgt

    for _ in range(3):  # trace and warm up
        model.train_on_batch(*sample())
    batches = [sample() for _ in range(steps)]
    started = time.perf_counter()
    for inputs, outputs in batches:
        model.train_on_batch(inputs, outputs)
    seconds = time.perf_counter() - started
    tokens_per_s = steps * batch * (target + 1) / seconds
    training = card.get("training", {})
    per_epoch = training.get("target_tokens_per_epoch")
    return {
        "task": card["task"], "version": card.get("version"), "parameters": card.get("parameters"),
        "batch_size": batch, "target_len": target, "source_len": source,
        "source_len_from": source_origin, "steps": steps,
        "measured_target_tokens_per_s": tokens_per_s,
        "measured_ms_per_step": 1000 * seconds / steps,
        "card_target_tokens_per_s": training.get("target_tokens_per_second"),
        "card_training_s": training.get("seconds"), "card_epochs": training.get("epochs"),
        "card_budget_minutes": training.get("budget_minutes"),
        "card_warm_start": training.get("warm_start"),
        "epoch_minutes_at_measured_speed": per_epoch / tokens_per_s / 60 if per_epoch else None,
    }


def measure(steps: int) -> dict[str, Any]:
    from model.loading import prepare_tensorflow
    from model.settings import settings_from_env

    prepare_tensorflow(settings_from_env())
    rows, others = [], []
    for directory in sorted(PRETRAINED.iterdir()):
        card_path = directory / "card.json"
        if not card_path.is_file():
            continue
        card = json.loads(card_path.read_text())
        if (directory / "config.json").is_file() and "target_tokens_per_epoch" in card.get(
                "training", {}):
            rows.append(throughput(directory, steps))
            print(json.dumps(rows[-1]), flush=True)
        else:
            training = card.get("training", {})
            others.append({"task": card["task"], "parameters": card.get("parameters"),
                           "card_training_s": training.get("seconds"),
                           "card_epochs": training.get("epochs"),
                           "card_steps": training.get("steps")})
    return {"rows": rows, "other_models": others,
            "threads": {"TF_INTRA_THREADS": os.environ.get("TF_INTRA_THREADS", "0 (default)"),
                        "TF_INTER_THREADS": os.environ.get("TF_INTER_THREADS", "0 (default)")},
            "machine": machine()}


def write_outputs(result: dict[str, Any], out: Path) -> None:
    write_json("training", result, out)
    head = ["task", "parameters", "batch x source / target tokens", "measured target tokens/s",
            "ms/step", "card: target tokens/s", "card: training time", "epoch at measured speed"]
    rows = []
    for r in result["rows"]:
        warm = " (warm start)" if r["card_warm_start"] else ""
        rows.append([
            f"`{r['task']}`", f"{r['parameters'] / 1e6:.2f} M", f"{r['batch_size']} x "
            f"{r['source_len']} / {r['target_len'] + 1}",
            f"**{r['measured_target_tokens_per_s']:,.0f}**",
            f"{r['measured_ms_per_step']:.0f}", f"{r['card_target_tokens_per_s']:,.0f}",
            f"{r['card_training_s'] / 60:.0f} min, {r['card_epochs']} epochs{warm}",
            f"{r['epoch_minutes_at_measured_speed']:.1f} min"])
    for r in result["other_models"]:
        rows.append([f"`{r['task']}`", f"{r['parameters'] / 1e6:.2f} M", "-", "-", "-", "-",
                     f"{r['card_training_s'] / 60:.1f} min", "-"])
    m = result["machine"]
    write_markdown("training", [
        f"{m['cpu_count']} CPUs, TensorFlow threads {result['threads']['TF_INTRA_THREADS']} / "
        f"{result['threads']['TF_INTER_THREADS']} (intra / inter), load average "
        f"{m['load_average_1m']:.1f}, {m['measured_at']}.", "", *table(head, rows)], out)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    names = [r["task"] for r in result["rows"]]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [r["measured_target_tokens_per_s"] for r in result["rows"]],
           0.4, label="measured here (short run)")
    ax.bar([x + 0.2 for x in xs], [r["card_target_tokens_per_s"] or 0 for r in result["rows"]],
           0.4, label="model card (real training)")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("target tokens per second")
    ax.set_title("Training throughput")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "training.png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    write_outputs(measure(args.steps), args.out)


if __name__ == "__main__":
    main()
