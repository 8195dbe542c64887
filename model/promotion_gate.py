"""The evaluation gate of a retrain: score versions of a task on the same fixed sets.

    python -m model.promotion_gate --task chat --version v1 --version v2 \\
        --dev data/snap/dev.tsv --taught data/snap/taught.tsv

prints, for every version and every set, the task's primary metric (on a 0-100 scale); with
``--json``, one ``scores`` event (model/events.py) with every metric. Each version is loaded
once and scored on every set, so a gate costs one TensorFlow start. The sets are read in the
task's direction (source -> expected): sequence-to-sequence tasks: ``source<TAB>reference``;
qa: ``question<TAB>answer``; intent: the hand-written held-out format. The decision
(tolerance) is the caller's.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from model.events import Events, JsonLines, no_events

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The metric a candidate must not lose, per kind, and its scale (shares become percentages).
PRIMARY = {"translate": ("bleu", 1.0), "summarize": ("rougeL", 1.0), "chat": ("bleu", 1.0),
           "qa": ("exact_match", 100.0), "intent": ("accuracy", 100.0)}


def default_dev_set(task: str) -> Path:
    """The task's fixed dev set when none is given."""
    from model.intent_train import HELDOUT
    from model.settings import REPO_ROOT, default_data_dir
    from model.task_specs import get_task

    spec = get_task(task)
    if spec.kind == "qa":
        return REPO_ROOT / "tests" / "fixtures" / "qa" / "paraphrases-dev.tsv"
    if spec.kind == "intent":
        return HELDOUT
    return default_data_dir() / "tasks" / spec.corpus / "dev.tsv"


def score_version(task: str, version: str, sets: dict[str, Path],
                  model_dir: Path | None) -> dict[str, Any]:
    """Metrics of one version on each set (empty sets are skipped)."""
    from model.data.readers import read_tsv
    from model.evaluate import evaluate_pairs, evaluate_qa
    from model.predictor import load_intent, load_qa, load_seq2seq
    from model.settings import settings_from_env
    from model.task_specs import get_task

    spec = get_task(task)
    settings = settings_from_env(model_dir)
    results: dict[str, Any] = {}
    if spec.kind == "intent":
        from model.intent_train import heldout_report, read_heldout

        intent = load_intent(task, settings, version)
        for name, path in sets.items():
            rows = read_heldout(path)
            if rows:
                report = heldout_report(intent, rows)
                results[name] = {"n": report["n"], "accuracy": report["accuracy"]}
        return results
    if spec.kind == "qa":
        from model.qa_calibration import qa_rank_fn

        qa = load_qa(task, settings, version)
        bank = [(e.question, e.answer) for e in qa.bank.entries]
        for name, path in sets.items():
            if pairs := read_tsv(path):
                result = evaluate_qa(qa_rank_fn(qa), bank, pairs)
                results[name] = {k: v for k, v in result.items() if not isinstance(v, dict)}
        return results
    predictor = load_seq2seq(task, settings, version)
    for name, path in sets.items():
        pairs = read_tsv(path)
        if not pairs:
            continue

        def predict_texts(texts: list[str]) -> list[str]:
            return [p.text for p in predictor.predict(texts)]

        results[name] = evaluate_pairs(spec, predict_texts, pairs)
    return results


def main(argv: list[str] | None = None) -> int:
    from model.task_specs import get_task

    parser = argparse.ArgumentParser(prog="python -m model.promotion_gate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True)
    parser.add_argument("--version", action="append", required=True, help="repeatable")
    parser.add_argument("--dev", type=Path, help="the fixed dev set (default: the task's)")
    parser.add_argument("--taught", type=Path, help="taught and approved pairs")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--json", action="store_true",
                        help="a JSON line per event (model/events.py): scores, or error")
    args = parser.parse_args(argv)
    events: Events = JsonLines() if args.json else no_events

    kind = get_task(args.task).kind
    sets = {"dev": args.dev or default_dev_set(args.task)}
    if args.taught is not None and args.taught.is_file():
        sets["taught"] = args.taught
    metric, scale = PRIMARY[kind]
    out: dict[str, Any] = {"task": args.task, "primary": metric, "versions": {}}
    try:
        for version in dict.fromkeys(args.version):
            scored = score_version(args.task, version, sets, args.model_dir)
            for result in scored.values():
                result["primary"] = round(float(result[metric]) * scale, 2)
            out["versions"][version] = scored
    except Exception as exc:
        events("error", kind=type(exc).__name__, message=str(exc))
        raise
    events("scores", **out)
    if not args.json:
        for version, scored in out["versions"].items():
            for name, result in scored.items():
                print(f"{version}  {name}: {metric} {result['primary']:.2f} (n={result.get('n')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
