"""Benchmark: naive per-message model calls vs the bot's micro-batched compiled service.

    python -m bench.inference [--task translate-en-zh] [--levels 1,8,32,128]

The same shipped model (installed from ``model/pretrained`` into a scratch registry) and the
same inputs, served three ways to C concurrent clients (closed loop: each client sends its next
request when the last one is answered), side by side in one run:

* ``naive``: one message at a time per worker thread, the decoder called eagerly, one Keras call
  per output token (as in the Keras seq2seq examples);
* ``compiled, one per call``: the predictor's compiled (XLA) decoder, still one message per call
  (what batching adds on top of compiling);
* ``service``: ``bot.services.inference.InferenceService``, the bot's micro-batched, compiled
  serving (``BATCH_MAX_SIZE`` 32, ``BATCH_MAX_WAIT_MS`` 5).

All three decode greedily and use two worker threads. Writes ``bench/results/inference.json``,
``inference.md`` and ``inference.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS,
    latency_summary,
    machine,
    pyplot,
    table,
    write_json,
    write_markdown,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

INPUTS = [
    "Open the file in a new window.",
    "The selected cells are copied to the clipboard.",
    "Click OK to save your changes.",
    "Unable to connect to the server.",
    "Choose a template for the new document.",
    "Press Enter to continue or Escape to cancel.",
    "The package could not be installed because of a conflict.",
    "Insert a table with three columns.",
    "Select the text you want to format.",
    "This option is available only in the print preview.",
    "Restart the application to apply the new settings.",
    "The printer is out of paper.",
]
THREADS = 2
VARIANTS = ("naive", "compiled", "service")
LABELS = {"naive": "naive (eager, one per call)", "compiled": "compiled, one per call",
          "service": "micro-batched service"}


async def closed_loop(call: Callable[[str], Awaitable[Any]], clients: int, per_client: int
                      ) -> tuple[list[float], float]:
    """``clients`` concurrent clients, ``per_client`` requests each; latencies and wall time."""
    latencies: list[float] = []

    async def client(index: int) -> None:
        for turn in range(per_client):
            text = INPUTS[(index * 7 + turn) % len(INPUTS)]
            started = time.perf_counter()
            await call(text)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, time.perf_counter() - started


async def measure(task: str, levels: list[int], budget_s: float) -> dict[str, Any]:
    from bot.services.inference import InferenceService
    from model.predictor import load_seq2seq
    from model.seq2seq import eager_greedy
    from model.settings import settings_from_env

    model_dir = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    settings = replace(settings_from_env(model_dir), xla=True)
    predictor = load_seq2seq(task, settings, beam_size=1)
    max_len = predictor.config.max_target_len

    def naive(text: str) -> str:
        source, originals = predictor.encode_batch([text])
        ids, lengths, _ = eager_greedy(predictor.model, source, max_len)
        return str(predictor.tokenizer.decode_unmasked(ids[0, : int(lengths[0])], originals[0]))

    pool = ThreadPoolExecutor(THREADS)
    loop = asyncio.get_running_loop()
    service = InferenceService(lambda _task, _version: predictor, max_batch=32, max_wait_ms=5,
                               threads=THREADS)
    calls: dict[str, Callable[[str], Awaitable[Any]]] = {
        "naive": lambda text: loop.run_in_executor(pool, naive, text),
        "compiled": lambda text: loop.run_in_executor(pool, predictor.predict, [text]),
        "service": lambda text: service.predict(task, text),
    }
    # Warm-up: trace and compile every shape the runs will meet (XLA compiles per shape).
    for batch in (1, 2, 4, 8, 16, 32):
        predictor.predict((INPUTS * 3)[:batch])
    naive(INPUTS[0])
    await closed_loop(calls["service"], max(levels), 1)

    rows = []
    for clients in levels:
        row: dict[str, Any] = {"clients": clients}
        for variant in VARIANTS:
            # Enough requests for a stable median, within a time budget per cell: estimate
            # the cost of one round first.
            latencies, wall = await closed_loop(calls[variant], clients, 1)
            rounds = max(1, min(20, int(budget_s / max(wall, 1e-3))))
            if rounds > 1:
                more, more_wall = await closed_loop(calls[variant], clients, rounds - 1)
                latencies, wall = latencies + more, wall + more_wall
            summary = latency_summary(latencies)
            row[variant] = {**summary, "requests_per_s": len(latencies) / wall}
            print(f"{clients:4d} clients {variant:9s} p50 {summary['p50_ms']:8.1f} ms "
                  f"p95 {summary['p95_ms']:8.1f} ms  {row[variant]['requests_per_s']:8.1f} req/s",
                  flush=True)
        row["throughput_ratio_service_vs_naive"] = (
            row["service"]["requests_per_s"] / row["naive"]["requests_per_s"])
        row["throughput_ratio_service_vs_compiled"] = (
            row["service"]["requests_per_s"] / row["compiled"]["requests_per_s"])
        rows.append(row)
    stats = service.stats().get(task, {})
    await service.close()
    pool.shutdown()
    return {"task": task, "version": predictor.version, "decoding": "greedy",
            "threads": THREADS, "service": {"max_batch": 32, "max_wait_ms": 5,
                                            "stats": stats},
            "machine": machine(), "rows": rows}


def write_outputs(result: dict[str, Any], out: Path) -> None:
    write_json("inference", result, out)
    head = ["concurrent requests"]
    for variant in VARIANTS:
        head += [f"{LABELS[variant]}: ms/request p50 / p95", "requests/s"]
    head += ["service / naive throughput", "service / compiled throughput"]
    rows = []
    for row in result["rows"]:
        cells: list[object] = [row["clients"]]
        for variant in VARIANTS:
            cell = row[variant]
            cells += [f"{cell['p50_ms']:.1f} / {cell['p95_ms']:.1f}",
                      f"{cell['requests_per_s']:.1f}"]
        cells += [f"**{row['throughput_ratio_service_vs_naive']:.1f}x**",
                  f"{row['throughput_ratio_service_vs_compiled']:.1f}x"]
        rows.append(cells)
    m = result["machine"]
    write_markdown("inference", [
        f"`{result['task']}` version `{result['version']}`, greedy decoding, "
        f"{result['threads']} worker threads for every variant; {m['cpu_count']} CPUs, "
        f"load average {m['load_average_1m']:.1f} at the start, {m['measured_at']}.", "",
        *table(head, rows)], out)
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    xs = [r["clients"] for r in result["rows"]]
    for variant in VARIANTS:
        left.plot(xs, [r[variant]["requests_per_s"] for r in result["rows"]], "o-",
                  label=LABELS[variant])
        right.plot(xs, [r[variant]["p50_ms"] for r in result["rows"]], "o-",
                   label=LABELS[variant])
    for ax, label in ((left, "requests per second"), (right, "ms per request (median)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("concurrent requests")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    left.legend()
    fig.suptitle(f"Serving {result['task']}: naive vs micro-batched")
    fig.tight_layout()
    fig.savefig(out / "inference.png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="translate-en-zh")
    parser.add_argument("--levels", default="1,8,32,128")
    parser.add_argument("--budget-s", type=float, default=6.0,
                        help="about how long to measure each variant at each level")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    result = asyncio.run(measure(args.task, levels, args.budget_s))
    write_outputs(result, args.out)


if __name__ == "__main__":
    main()
