"""Command line: ``python -m model {data,train,evaluate,predict,list,promote,rollback}``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.prediction import Prediction

from model.events import Events, JsonLines, no_events

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _parse_extra_weights(items: list[str]) -> dict[str, tuple[int, int | None]]:
    """``CORPUS=REPEATS`` or ``CORPUS=REPEATS:CAP`` (``CAP`` 0: all pairs)."""
    weights: dict[str, tuple[int, int | None]] = {}
    for item in items:
        corpus, _, value = item.partition("=")
        repeats, _, cap = value.partition(":")
        if not corpus or not repeats.isdigit() or (cap and not cap.isdigit()):
            raise SystemExit(f"--extra expects CORPUS=REPEATS[:CAP], got {item!r}")
        weights[corpus] = (int(repeats), int(cap) or None if cap else None)
    return weights


def _train_qa_or_intent(args: argparse.Namespace, kind: str, verbose: int) -> Any:
    """Train a qa or intent version (their own trainers and hyper-parameters)."""
    overrides = _parse_overrides(args.set or [])
    common = {"model_dir": args.model_dir, "promote": args.promote, "overrides": overrides,
              "verbose": verbose}
    if args.budget_minutes:
        common["budget_minutes"] = args.budget_minutes
    if kind == "qa":
        from model.qa_train import QATrainOptions, train_qa

        return train_qa(QATrainOptions(task=args.task, data_dir=args.data, **common))
    from model.intent_train import IntentTrainOptions, train_intent

    return train_intent(IntentTrainOptions(task=args.task, epochs=args.epochs or 6, **common))


def cmd_train(args: argparse.Namespace) -> int:
    from model.task_specs import get_task
    from model.train import TrainOptions, train

    events: Events = JsonLines() if args.json else no_events
    verbose = 0 if args.quiet or args.json else 1  # --json: events instead of progress bars
    kind = get_task(args.task).kind
    events("start", task=args.task, epochs=args.epochs,
           budget_s=args.budget_minutes * 60 if args.budget_minutes else None)
    if kind in ("qa", "intent"):
        result = _train_qa_or_intent(args, kind, verbose)
    else:
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
            extra_corpora=not args.no_extra_corpora,
            extra_weights=_parse_extra_weights(args.extra or []),
            overrides=_parse_overrides(args.set or []),
            verbose=verbose,
            events=events,
        ))
    events("evaluated", task=result.task, metrics=result.card["metrics"])
    events("version", task=result.task, version=result.version, path=str(result.path),
           promoted=result.promoted)
    if not args.json:
        state = "promoted to current" if result.promoted else "kept as a candidate"
        print(f"{result.task}: trained version {result.version} ({state}) at {result.path}")
        print(json.dumps(result.card["metrics"], ensure_ascii=False))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from model.data.readers import read_tsv
    from model.evaluate import evaluate_pairs
    from model.predictor import load, load_seq2seq
    from model.settings import settings_from_env
    from model.task_specs import get_task
    from model.train import load_split

    settings = settings_from_env(args.model_dir)
    if get_task(args.task).kind in ("qa", "intent"):
        model = load(args.task, settings, args.version)
        _print_result(_evaluate_qa_or_intent(args, model), args.json)
        return 0
    predictor = load_seq2seq(args.task, settings, args.version)
    pairs = read_tsv(args.data)
    if args.limit:
        pairs = pairs[: args.limit]
    bank = None
    if predictor.spec.kind == "chat":
        bank = load_split(settings.data_dir / "tasks" / predictor.spec.corpus, "train", False)

    from model.dictionary import strip_mark

    def predict_texts(texts: list[str]) -> list[str]:
        found = predictor.predict(texts, beam=not args.greedy,
                                  dictionary=False if args.no_dictionary else None)
        return [strip_mark(p.text) for p in found]

    result = evaluate_pairs(predictor.spec, predict_texts, pairs, bank=bank or None)
    result["version"] = predictor.version
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0


def _evaluate_qa_or_intent(args: argparse.Namespace, predictor: Any) -> dict[str, Any]:
    """qa: ``question<TAB>expected answer`` rows; intent: ``message<TAB>label[...]`` rows."""
    from model.task_specs import get_task

    if get_task(args.task).kind == "qa":
        from model.data.readers import read_tsv
        from model.evaluate import evaluate_qa
        from model.qa_calibration import qa_rank_fn

        pairs = read_tsv(args.data)[: args.limit or None]
        bank = [(e.question, e.answer) for e in predictor.bank.entries]
        result = evaluate_qa(qa_rank_fn(predictor), bank, pairs)
        result["threshold"] = predictor.threshold
    else:
        from model.intent_train import heldout_report, read_heldout

        rows = read_heldout(args.data)[: args.limit or None]
        result = heldout_report(predictor, rows)
    result["version"] = predictor.version
    return result


def _print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    for key, value in result.items():
        shown = value if not isinstance(value, str) or "\n" not in value else "\n" + value
        print(f"{key:>28}: {shown}")


def cmd_predict(args: argparse.Namespace) -> int:
    from model.predictor import load, load_seq2seq
    from model.settings import settings_from_env
    from model.task_specs import get_task

    settings = settings_from_env(args.model_dir)
    texts = args.text or [line.rstrip("\n") for line in sys.stdin]
    if get_task(args.task).kind in ("qa", "intent"):
        for item in load(args.task, settings, args.version).predict(texts):
            if args.json:
                print(json.dumps(dataclasses.asdict(item), ensure_ascii=False))
            else:
                print(_describe(item))
        return 0
    predictor = load_seq2seq(args.task, settings, args.version)
    for prediction in predictor.predict(texts, beam=not args.greedy):
        if args.json:
            print(json.dumps(prediction.__dict__, ensure_ascii=False))
        else:
            print(prediction.text)
    return 0


def _describe(item: Prediction) -> str:
    """One line for a qa or intent prediction."""
    if item.label is not None:
        target = f" -> {item.target_lang}" if item.target_lang else ""
        return f"[{item.label} {item.confidence:.2f}{target}] {item.text}"
    if item.sure:
        return f"{item.closest_answer}  ({item.confidence:.2f})"
    return f"(not sure, {item.confidence:.2f}) best guess: {item.closest_answer}"


def cmd_list(args: argparse.Namespace) -> int:
    from model.loading import ensure_default
    from model.registry import Registry, RegistryError
    from model.settings import default_model_dir
    from model.task_specs import TASKS

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
    from model.settings import default_model_dir

    Registry(args.model_dir or default_model_dir()).promote(args.task, args.version)
    print(f"{args.task}: current = {args.version}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from model.registry import Registry
    from model.settings import default_model_dir

    version = Registry(args.model_dir or default_model_dir()).rollback(args.task)
    print(f"{args.task}: rolled back, current = {version}")
    return 0


def cmd_ship(args: argparse.Namespace) -> int:
    """Copy a version into model/pretrained/<task>, the default that a fresh clone serves."""
    import shutil

    from model.registry import Registry
    from model.settings import default_model_dir
    from model.task_specs import PRETRAINED_DIR

    registry = Registry(args.model_dir or default_model_dir())
    source = registry.resolve(args.task, args.version)
    target = PRETRAINED_DIR / args.task
    staging = PRETRAINED_DIR / f".{args.task}.new"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("*.keras", "*.h5"))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    size = sum(f.stat().st_size for f in target.iterdir())
    print(f"{args.task}: shipped {source.name} to {target} ({size / 1e6:.1f} MB)")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from model.data.__main__ import main as data_main

    return int(data_main(args.rest) or 0)


def build_parser() -> argparse.ArgumentParser:
    from model.task_specs import TASKS

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
    p.add_argument("--extra", action="append", metavar="CORPUS=REPEATS[:CAP]",
                   help="weight of one of the task's extra corpora: repeats per epoch and at "
                        "most CAP pairs (0: all), e.g. translate-dictionary=1:0")
    p.add_argument("--no-extra-corpora", action="store_true",
                   help="train on the task's corpus only (not its extra corpora, e.g. the "
                        "everyday and dictionary pairs of the translation tasks)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a hyper-parameter, e.g. --set decoder_units=128")
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line for each event (model/events.py), for a parent "
                        "process")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="metrics on a TSV of source<TAB>reference")
    p.add_argument("--task", required=True, choices=tasks)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--version")
    p.add_argument("--limit", type=int)
    p.add_argument("--greedy", action="store_true", help="greedy instead of beam search")
    p.add_argument("--no-dictionary", action="store_true",
                   help="translate: no dictionary answers for short inputs (the model only)")
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

    p = sub.add_parser("ship", help="copy a version into model/pretrained (the shipped default)")
    p.add_argument("task", choices=tasks)
    p.add_argument("version", nargs="?", help="default: the current version")
    p.set_defaults(func=cmd_ship)

    p = sub.add_parser("data", help="build corpora (see python -m model data --help)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    events: Events = JsonLines() if args.command == "train" and args.json else no_events
    try:
        return int(args.func(args))
    except Exception as exc:
        from model.registry import RegistryError

        events("error", kind=type(exc).__name__, message=str(exc))
        if isinstance(exc, FileNotFoundError | KeyError | ValueError | RegistryError):
            print(f"error: {exc}", file=sys.stderr)  # bad input: one clear line, no traceback
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
