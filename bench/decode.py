"""Benchmark: eager step-by-step decoding vs the compiled whole-loop batched decoder.

    python -m bench.decode [--task translate-en-zh] [--repeats 5] [--xla]

Both variants decode the same model and the same inputs in one run. Writes
``bench/results/decode.json``, ``decode.md`` and ``decode.png`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bench.common import median_seconds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE = [
    "Open the file in a new window.",
    "The selected cells are copied to the clipboard.",
    "Click OK to save your changes.",
    "Unable to connect to the server.",
    "Choose a template for the new document.",
    "Press Enter to continue or Escape to cancel.",
    "The package could not be installed because of a conflict.",
    "Insert a table with three columns.",
]


def run(task: str, repeats: int, xla: bool, batches: list[int]) -> dict:
    from model.predictor import load_seq2seq
    from model.seq2seq import CompiledDecoder, eager_greedy
    from model.settings import settings_from_env

    predictor = load_seq2seq(task, settings_from_env(), beam_size=1)
    max_len = predictor.config.max_target_len
    rows = []
    for batch in batches:
        texts = [SAMPLE[i % len(SAMPLE)] for i in range(batch)]
        source, _ = predictor.encode_batch(texts)
        row: dict = {"batch": batch}
        eager_s = median_seconds(lambda s=source: eager_greedy(predictor.model, s, max_len),
                        max(1, repeats // 2))
        row["eager_ms_per_request"] = 1000 * eager_s / batch
        compiled = CompiledDecoder(predictor.model, max_len)
        row["compiled_ms_per_request"] = 1000 * median_seconds(
            lambda s=source, d=compiled: d.greedy(s)[0].numpy(), repeats) / batch
        if xla:
            jit = CompiledDecoder(predictor.model, max_len, jit_compile=True)
            row["xla_ms_per_request"] = 1000 * median_seconds(
                lambda s=source, d=jit: d.greedy(s)[0].numpy(), repeats) / batch
        rows.append(row)
        print(json.dumps(row), flush=True)
    add_ratios(rows)
    card = predictor.card
    return {
        "task": task,
        "version": predictor.version,
        "parameters": card.get("parameters"),
        "max_target_len": max_len,
        "repeats": repeats,
        "training_target_tokens_per_second": card.get("training", {}).get(
            "target_tokens_per_second"),
        "cpu_count": os.cpu_count(),
        "rows": rows,
    }


def add_ratios(rows: list[dict]) -> None:
    """Speed-ups against eager decoding, and per-request cost relative to batch 1."""
    for variant in ("compiled", "xla"):
        key = f"{variant}_ms_per_request"
        if key not in rows[0]:
            continue
        for row in rows:
            row[f"speedup_{variant}_vs_eager"] = row["eager_ms_per_request"] / row[key]
            row[f"{variant}_cost_vs_batch1"] = row[key] / rows[0][key]


def write_outputs(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "decode.json").write_text(json.dumps(result, indent=2))
    has_xla = "xla_ms_per_request" in result["rows"][0]
    head = ("| batch | eager ms/request | graph ms/request | graph speed-up "
            "| graph cost vs batch 1 |"
            + (" XLA ms/request | XLA speed-up | XLA cost vs batch 1 |" if has_xla else ""))
    lines = [f"Task `{result['task']}` version `{result['version']}`, "
             f"{result['parameters']} parameters, greedy, medians of {result['repeats']} runs.",
             "", head, "|" + "---|" * (head.count("|") - 1)]
    for row in result["rows"]:
        xla = (f" {row['xla_ms_per_request']:.2f} | {row['speedup_xla_vs_eager']:.1f}x | "
               f"{row['xla_cost_vs_batch1']:.2f} |") if has_xla else ""
        lines.append(f"| {row['batch']} | {row['eager_ms_per_request']:.2f} | "
                     f"{row['compiled_ms_per_request']:.2f} | "
                     f"{row['speedup_compiled_vs_eager']:.1f}x | "
                     f"{row['compiled_cost_vs_batch1']:.2f} |{xla}")
    (out / "decode.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    xs = [r["batch"] for r in result["rows"]]
    ax.plot(xs, [r["eager_ms_per_request"] for r in result["rows"]], "o-", label="eager, per step")
    ax.plot(xs, [r["compiled_ms_per_request"] for r in result["rows"]], "o-",
            label="tf.function + while_loop (graph)")
    if has_xla:
        ax.plot(xs, [r["xla_ms_per_request"] for r in result["rows"]], "o-", label="+ XLA")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("requests decoded together (batch)")
    ax.set_ylabel("ms per request (median)")
    ax.set_title(f"Decoding cost, {result['task']}")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "decode.png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="translate-en-zh")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--xla", action="store_true", help="also time jit_compile=True")
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--render", action="store_true", help="redraw outputs from decode.json")
    args = parser.parse_args()
    if args.render:
        result = json.loads((args.out / "decode.json").read_text())
        add_ratios(result["rows"])
    else:
        result = run(args.task, args.repeats, args.xla, [int(b) for b in args.batches.split(",")])
    write_outputs(result, args.out)


if __name__ == "__main__":
    main()
