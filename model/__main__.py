"""Command line: ``python -m model {data,train,evaluate,predict,list,promote,rollback}``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parse_overrides(items: list[str]) -> dict:
    out: dict = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from model.train import TrainOptions, train

    result = train(TrainOptions(
        task=args.task,
        data_dir=args.data,
        model_dir=args.model_dir,
        budget_minutes=args.budget_minutes,
        epochs=args.epochs,
        warm_start=args.warm_start,
        resume=args.resume,
        promote=args.promote,
        max_train_pairs=args.max_train_pairs,
        overrides=_parse_overrides(args.set or []),
        verbose=0 if args.quiet else 1,
    ))
    state = "promoted to current" if result.promoted else "kept as a candidate"
    print(f"{result.task}: trained version {result.version} ({state}) at {result.path}")
    print(json.dumps(result.card["metrics"], ensure_ascii=False))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from model.data.readers import read_tsv
    from model.evaluate import evaluate_pairs
    from model.predictor import load
    from model.train import load_split

    predictor = load(args.task, args.version, args.model_dir)
    pairs = read_tsv(args.data)
    if args.limit:
        pairs = pairs[: args.limit]
    bank = None
    if predictor.spec.kind == "chat":
        from model.tasks import default_data_dir

        bank = load_split(default_data_dir() / "tasks" / predictor.spec.corpus, "train", False)

    def predict_texts(texts: list[str]) -> list[str]:
        return [p.text for p in predictor.predict(texts, beam=not args.greedy)]

    result = evaluate_pairs(predictor.spec, predict_texts, pairs, bank=bank or None)
    result["version"] = predictor.version
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from model.predictor import load

    predictor = load(args.task, args.version, args.model_dir)
    texts = args.text or [line.rstrip("\n") for line in sys.stdin]
    for prediction in predictor.predict(texts, beam=not args.greedy):
        if args.json:
            print(json.dumps(prediction.__dict__, ensure_ascii=False))
        else:
            print(prediction.text)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from model.predictor import ensure_default
    from model.registry import Registry, RegistryError
    from model.tasks import TASKS, default_model_dir

    registry = Registry(args.model_dir or default_model_dir())
    for task in TASKS:
        with contextlib.suppress(RegistryError):
            ensure_default(task, registry)
        versions = registry.versions(task)
        print(f"{task}: {len(versions)} version(s), current = {registry.current(task)}")
        for info in versions:
            test = info.card.get("metrics", {}).get("test", {})
            shown = {k: v for k, v in test.items() if isinstance(v, int | float)}
            mark = "*" if info.is_current else " "
            print(f"  {mark} {info.version}  {json.dumps(shown)}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from model.registry import Registry
    from model.tasks import default_model_dir

    Registry(args.model_dir or default_model_dir()).promote(args.task, args.version)
    print(f"{args.task}: current = {args.version}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from model.registry import Registry
    from model.tasks import default_model_dir

    version = Registry(args.model_dir or default_model_dir()).rollback(args.task)
    print(f"{args.task}: rolled back, current = {version}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from model.data.__main__ import main as data_main

    return int(data_main(args.rest) or 0)


def build_parser() -> argparse.ArgumentParser:
    from model.tasks import TASKS

    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="registry root (default: $MODEL_DIR or data/models)")
    sub = parser.add_subparsers(dest="command", required=True)
    tasks = sorted(TASKS)

    p = sub.add_parser("train", help="train a task's model into a new version")
    p.add_argument("--task", required=True, choices=tasks)
    p.add_argument("--data", type=Path, help="folder with train.tsv/dev.tsv/test.tsv")
    p.add_argument("--budget-minutes", type=float, help="stop training after this long")
    p.add_argument("--epochs", type=int, help="maximum epochs (default: the task's)")
    p.add_argument("--warm-start", help="start from a version's weights ('current' or a name)")
    p.add_argument("--resume", action="store_true", help="continue the last interrupted run")
    p.add_argument("--promote", choices=["auto", "yes", "no"], default="auto")
    p.add_argument("--max-train-pairs", type=int)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a hyper-parameter, e.g. --set decoder_units=128")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="metrics on a TSV of source<TAB>reference")
    p.add_argument("--task", required=True, choices=tasks)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--version")
    p.add_argument("--limit", type=int)
    p.add_argument("--greedy", action="store_true", help="greedy instead of beam search")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="print one prediction per input text")
    p.add_argument("--task", required=True, choices=tasks)
    p.add_argument("--version")
    p.add_argument("--greedy", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("text", nargs="*", help="texts (default: one per line on stdin)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("list", help="tasks, versions, current version and metrics")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("promote", help="make a version current")
    p.add_argument("task", choices=tasks)
    p.add_argument("version")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("rollback", help="return to the previously promoted version")
    p.add_argument("task", choices=tasks)
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("data", help="build corpora (see python -m model data --help)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # registry errors and the like: one clear line, no traceback
        from model.registry import RegistryError

        if isinstance(exc, RegistryError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
