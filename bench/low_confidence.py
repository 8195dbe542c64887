"""The confidence below which a translation or summary says it may be wrong, chosen on dev.

    MODEL_XLA=0 python -m bench.low_confidence [--rows 400] [--translation-dev FILE]

For each task the shipped model decodes the first ``--rows`` dev pairs; an output is *poor*
when its sentence chrF (translation; sacrebleu) or ROUGE-L F1 (summaries; ``bench.summaries``'s
tokenization) is below 20. The confidence (``Prediction.confidence``: the geometric mean of the
token probabilities) is a detector of poor outputs; the threshold is the highest of 0.05,
0.10, ... 0.95 at which at least half of the outputs flagged are poor (the line "this may be
wrong" is then true more often than not), 0 (never flag) when none is. The best-F1 threshold
is reported beside it (it flags far more: 71% of the summaries). Writes
``bench/results/low_confidence.json``; the chosen values go to ``TaskSpec.min_confidence``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bench.common import machine, write_json
from bench.summaries import CORPUS, load_set, rouge

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
POOR = 20.0
GRID = [round(0.05 * i, 2) for i in range(1, 20)]


def read_pairs(path: Path, rows: int, swap: bool) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        source, _, target = line.partition("\t")
        if source and target:
            pairs.append((target, source) if swap else (source, target))
    return pairs[:rows]


def choose(confidences: list[float], quality: list[float]) -> dict[str, Any]:
    poor = [q < POOR for q in quality]
    curve = []
    for threshold in GRID:
        flagged = [c < threshold for c in confidences]
        hits = sum(f and p for f, p in zip(flagged, poor, strict=True))
        precision = hits / max(sum(flagged), 1)
        recall = hits / max(sum(poor), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        curve.append({"threshold": threshold, "f1": round(f1, 3),
                      "precision": round(precision, 3), "recall": round(recall, 3),
                      "flagged_rate": round(sum(flagged) / len(poor), 3),
                      "flagged": sum(flagged)})
    best_f1 = max(curve, key=lambda r: r["f1"])
    honest = [r for r in curve if r["flagged"] and r["precision"] >= 0.5]
    chosen = max(honest, key=lambda r: r["threshold"]) if honest else {
        "threshold": 0.0, "precision": None, "recall": 0.0, "flagged_rate": 0.0, "flagged": 0}
    flagged = [c < chosen["threshold"] for c in confidences]

    def mean(xs: list[float]) -> float:
        return round(sum(xs) / max(len(xs), 1), 1)

    return {"chosen": chosen, "best_f1": best_f1, "poor_rate": round(sum(poor) / len(poor), 3),
            "quality_flagged": mean([q for q, f in zip(quality, flagged, strict=True) if f]),
            "quality_kept": mean([q for q, f in zip(quality, flagged, strict=True) if not f]),
            "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--translation-dev", type=Path,
                        default=REPO / "data" / "corpora" / "tasks" / "translate-en-zh" /
                        "dev.tsv")
    parser.add_argument("--tasks", default="translate-en-zh,translate-zh-en,summarize")
    args = parser.parse_args()
    import sacrebleu

    from model.predictor import load_seq2seq
    from model.settings import settings_from_env

    settings = settings_from_env()
    result: dict[str, Any] = {"machine": machine(), "poor_below": POOR, "rows": args.rows,
                              "tasks": {}}
    jobs: list[tuple[str, list[tuple[str, str]], str]] = []
    if args.translation_dev.is_file():
        jobs.append(("translate-en-zh", read_pairs(args.translation_dev, args.rows, False), "zh"))
        jobs.append(("translate-zh-en", read_pairs(args.translation_dev, args.rows, True), "en"))
    if (CORPUS / "dev.tsv").is_file():
        rows = load_set(CORPUS / "dev.tsv", args.rows)
        jobs.append(("summarize", [(r["source"], r["reference"]) for r in rows], "en"))
    jobs = [job for job in jobs if job[0] in args.tasks.split(",")]
    for task, pairs, lang in jobs:
        predictor = load_seq2seq(task, settings)
        predictions = predictor.predict([s for s, _ in pairs])
        if task == "summarize":
            quality = [rouge([p.text], [r], lang)["rougeL"]
                       for p, (_, r) in zip(predictions, pairs, strict=True)]
        else:
            quality = [sacrebleu.sentence_chrf(p.text, [r]).score
                       for p, (_, r) in zip(predictions, pairs, strict=True)]
        chosen = choose([p.confidence for p in predictions], quality)
        result["tasks"][task] = {"version": predictor.version, "n": len(pairs), **chosen}
        print(task, {k: v for k, v in result["tasks"][task].items() if k != "curve"},
              flush=True)
    name = "low_confidence" if len(jobs) == 3 else f"low_confidence-{'-'.join(j[0] for j in jobs)}"
    print("wrote", write_json(name, result))


if __name__ == "__main__":
    main()
