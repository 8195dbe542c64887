"""Benchmark: the shipped qa question encoder and intent classifier, Keras against NumPy.

    python -m bench.numpy_encoders

The same weights and the same token rows (lengths 3-14, as questions are), one call at a
time in this process, side by side: Keras through a compiled ``tf.function`` (how they served
before), and the NumPy forward pass of ``model.rnn_numpy`` with one BLAS thread (how they serve
now). Reports wall and CPU milliseconds per call (median of 5 rounds of 40 calls) at batch 1,
8 and 32, and the largest difference between the two outputs. Writes
``bench/results/numpy_encoders.json`` and ``.md``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from bench.common import RESULTS, machine, table, write_json, write_markdown
from model.rnn_numpy import DualEncoderNP, IntentClassifierNP, read_weights
from model.task_specs import PRETRAINED_DIR
from model.token_rows import pad_ids

BATCHES = (1, 8, 32)


def per_call_ms(fn: Callable[[], object], calls: int = 40, rounds: int = 5) -> tuple[float, float]:
    """Median wall and CPU milliseconds per call."""
    fn()
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        walls.append((time.perf_counter() - wall) / calls * 1000)
        cpus.append((time.process_time() - cpu) / calls * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    from model.intent_model import IntentClassifier
    from model.intent_predictor import IntentConfig
    from model.qa_config import QAConfig
    from model.qa_encoder import DualEncoder

    threadpool_limits(limits=1, user_api="blas")  # as model.loading.prepare_numpy
    rng = np.random.default_rng(0)
    qa_dir, intent_dir = PRETRAINED_DIR / "qa", PRETRAINED_DIR / "intent"
    qa_config = QAConfig.from_dict(json.loads((qa_dir / "config.json").read_text()))
    intent_config = IntentConfig.from_dict(json.loads((intent_dir / "config.json").read_text()))
    qa_keras = DualEncoder.from_config_object(qa_config)
    qa_keras.set_weights(read_weights(qa_dir))
    qa_numpy = DualEncoderNP(read_weights(qa_dir), qa_config.cell)
    intent_keras = IntentClassifier.from_config_object(intent_config)
    intent_keras.set_weights(read_weights(intent_dir))
    intent_numpy = IntentClassifierNP(read_weights(intent_dir))
    keras_questions, _ = qa_keras.inference_functions()
    keras_intent = intent_keras.inference_function()
    rows: list[dict[str, Any]] = []
    for batch in BATCHES:
        ids = pad_ids([list(rng.integers(4, 4000, rng.integers(3, 15))) for _ in range(batch)])
        length = np.full((batch, 1), 0.3, np.float32)
        for model, keras_fn, numpy_fn in (
            ("qa question encoder", partial(keras_questions, ids),
             partial(qa_numpy.questions, ids)),
            ("intent classifier", partial(keras_intent, ids, length),
             partial(intent_numpy.probabilities, ids, length)),
        ):
            keras_ms, numpy_ms = per_call_ms(keras_fn), per_call_ms(numpy_fn)
            diff = float(np.abs(np.asarray(keras_fn()) - np.asarray(numpy_fn())).max())
            rows.append({"model": model, "batch": batch, "keras_wall_ms": keras_ms[0],
                         "keras_cpu_ms": keras_ms[1], "numpy_wall_ms": numpy_ms[0],
                         "numpy_cpu_ms": numpy_ms[1], "max_abs_diff": diff})
            print(rows[-1], flush=True)
    result = {"rows": rows, "tensorflow": tf.__version__, "machine": machine()}
    write_json("numpy_encoders", result, RESULTS)
    lines = [*table(["model", "batch", "Keras tf.function: ms per call (CPU ms)",
                     "NumPy: ms per call (CPU ms)", "max abs difference"],
                    [[r["model"], r["batch"], f"{r['keras_wall_ms']:.2f} ({r['keras_cpu_ms']:.2f})",
                      f"{r['numpy_wall_ms']:.2f} ({r['numpy_cpu_ms']:.2f})",
                      f"{r['max_abs_diff']:.1e}"] for r in rows]), "",
             f"(2 CPUs, load average {result['machine']['load_average_1m']:.1f} at the end, "
             f"{result['machine']['measured_at']}.)"]
    write_markdown("numpy_encoders", lines, RESULTS)


if __name__ == "__main__":
    main()
