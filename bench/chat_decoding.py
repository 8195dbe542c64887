"""Benchmark: what the chat model's tuned beam search costs against plain beam search.

    python -m bench.chat_decoding [--repeats 7] [--batches 1,8,32]

The shipped ``chat`` model, the same messages, XLA-compiled beam search of width 4 in both
variants: plain (GNMT length penalty 0.6, as the other tasks decode) and the chat task's
``TaskSpec.decoding`` (length bonus, trigram blocking, anti-LM: the decoder runs twice per
step). Writes ``bench/results/chat_decoding.json`` and ``.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bench.common import RESULTS, machine, median_seconds, table, write_json, write_markdown

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MESSAGES = [
    "hello there",
    "how are you?",
    "what do you do for fun?",
    "I just got a new puppy!",
    "do you like pizza?",
    "I failed my exam today and I feel terrible about it",
    "what kind of music do you listen to when you study?",
    "we went hiking in the mountains last weekend, it was beautiful",
]


def run(repeats: int, batches: list[int]) -> dict[str, Any]:
    from model.predictor import load_seq2seq
    from model.seq2seq import CompiledDecoder
    from model.settings import settings_from_env
    from model.task_specs import get_task

    predictor = load_seq2seq("chat", settings_from_env())
    tuned = get_task("chat").decoding
    max_len = predictor.config.max_target_len
    variants = {
        "plain": CompiledDecoder(predictor.model, max_len, beam_size=4, jit_compile=True),
        "tuned": CompiledDecoder(predictor.model, max_len, beam_size=4, jit_compile=True,
                                 **tuned),
    }
    rows = []
    for batch in batches:
        texts = [MESSAGES[i % len(MESSAGES)] for i in range(batch)]
        source, _ = predictor.encode_batch(texts)
        row: dict[str, Any] = {"batch": batch}
        for name, decoder in variants.items():
            seconds = median_seconds(lambda d=decoder, s=source: d.beam(s)[0].numpy(), repeats)
            row[f"{name}_ms_per_request"] = round(1000 * seconds / batch, 2)
        row["tuned_over_plain"] = round(row["tuned_ms_per_request"]
                                        / row["plain_ms_per_request"], 2)
        rows.append(row)
        print(row, flush=True)
    return {"task": "chat", "version": predictor.version, "beam_size": 4, "repeats": repeats,
            "decoding": tuned, "machine": machine(), "rows": rows}


def write_outputs(result: dict[str, Any], out: Path) -> None:
    write_json("chat_decoding", result, out)
    write_markdown("chat_decoding", table(
        ["batch", "plain beam: ms/request (median)", "tuned beam: ms/request (median)",
         "tuned / plain"],
        [[r["batch"], r["plain_ms_per_request"], r["tuned_ms_per_request"],
          f"{r['tuned_over_plain']}x"] for r in result["rows"]]), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = run(args.repeats, [int(b) for b in args.batches.split(",")])
    write_outputs(result, args.out)


if __name__ == "__main__":
    main()
