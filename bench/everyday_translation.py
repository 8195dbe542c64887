"""Old shipped translation models against new versions, in one run: the everyday test set and
the technical test sets, both directions, with and without the dictionary lookup.

    python -m bench.everyday_translation --new-en-zh DIR --new-zh-en DIR [--tech-limit 1000]

Each model decodes each set once (beam search, the task's beam size); "with dictionary" then
replaces the outputs of short inputs that are exactly a CC-CEDICT entry by the dictionary's
answer, which is what ``Predictor.predict`` does (the " (dictionary)" mark is not scored).
Everyday: ``tests/fixtures/translate/everyday-test.tsv`` and ``everyday-dev.tsv`` (never
trained on). Technical:
``<data>/tasks/translate-en-zh/test-short.tsv`` and the first ``--tech-limit`` pairs of
``test.tsv``, as ``make evaluate-all``. Results: ``bench/results/everyday_translation.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.common import machine, write_json, write_markdown
from model.data.readers import read_tsv
from model.dictionary import lookup
from model.evaluate import translation_metrics
from model.settings import settings_from_env
from model.task_specs import PRETRAINED_DIR, get_task

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "translate"


def sets(data_dir: Path, tech_limit: int, everyday: Path, short_limit: int | None = None
         ) -> dict[str, list[tuple[str, str]]]:
    """English -> Chinese pairs of every set."""
    tech = data_dir / "tasks" / "translate-en-zh"
    return {
        "everyday": read_tsv(everyday),
        "everyday-dev": read_tsv(everyday.with_name("everyday-dev.tsv")),
        "tech-short": read_tsv(tech / "test-short.tsv")[:short_limit],
        "tech-test": read_tsv(tech / "test.tsv")[:tech_limit],
    }


def with_dictionary(sources: list[str], hyps: list[str], source_lang: str) -> tuple[list[str], int]:
    """``hyps`` with the dictionary's answer for short inputs it holds; how many it answered."""
    out, hits = [], 0
    for source, hyp in zip(sources, hyps, strict=True):
        entry = lookup(source, source_lang)
        if entry is not None:
            hits += 1
        out.append(entry.translation if entry is not None else hyp)
    return out, hits


def measure(model_dir: Path, task: str, pairs: dict[str, list[tuple[str, str]]]
            ) -> dict[str, Any]:
    from model.seq2seq_predictor import load_seq2seq_dir

    spec = get_task(task)
    card = json.loads((model_dir / "card.json").read_text())
    predictor = load_seq2seq_dir(model_dir, spec, card["version"], card)
    source_lang = "zh" if spec.target_lang == "en" else "en"
    result: dict[str, Any] = {"version": card["version"], "dir": str(model_dir)}
    for name, rows in pairs.items():
        if spec.swap:
            rows = [(zh, en) for en, zh in rows]
        sources = [s for s, _ in rows]
        refs = [t for _, t in rows]
        started = time.monotonic()
        hyps = [p.text for p in predictor.predict(sources, dictionary=False)]
        seconds = time.monotonic() - started
        looked_up, hits = with_dictionary(sources, hyps, source_lang)
        result[name] = {
            "n": len(rows),
            "model": translation_metrics(hyps, refs, spec.target_lang),
            "with_dictionary": translation_metrics(looked_up, refs, spec.target_lang),
            "dictionary_answers": hits,
            "seconds": round(seconds, 1),
            "examples": [[s, h, d] for s, h, d in zip(sources[:12], hyps[:12],
                                                       looked_up[:12], strict=True)],
        }
        print(task, card["version"], name, result[name]["model"],
              result[name]["with_dictionary"], f"{seconds:.0f}s", flush=True)
    return result


def markdown(report: dict[str, Any]) -> list[str]:
    lines = [
        "# Everyday and technical translation: shipped models vs new",
        "",
        f"measured {report['machine']['measured_at']}, load average (1 min) at the end "
        f"{report['machine']['load_average_1m']:.1f}",
        "",
        "| direction | set | n | old BLEU | old chrF | new BLEU | new chrF "
        "| old chrF +dict | new chrF +dict | new BLEU +dict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task in ("translate-en-zh", "translate-zh-en"):
        old, new = report[task]["old"], report[task]["new"]
        for name in ("everyday", "everyday-dev", "tech-short", "tech-test"):
            o, n = old[name], new[name]
            lines.append(
                f"| {task} | {name} | {o['n']} | {o['model']['bleu']} | {o['model']['chrf']} "
                f"| {n['model']['bleu']} | {n['model']['chrf']} "
                f"| {o['with_dictionary']['chrf']} | {n['with_dictionary']['chrf']} "
                f"| {n['with_dictionary']['bleu']} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    from model.loading import prepare_tensorflow

    parser = argparse.ArgumentParser(prog="python -m bench.everyday_translation")
    parser.add_argument("--new-en-zh", type=Path, required=True, help="version directory")
    parser.add_argument("--new-zh-en", type=Path, required=True, help="version directory")
    parser.add_argument("--old-dir", type=Path, default=PRETRAINED_DIR)
    parser.add_argument("--tech-limit", type=int, default=1000)
    parser.add_argument("--short-limit", type=int, default=None, help="(a quick check only)")
    parser.add_argument("--everyday", type=Path, default=FIXTURES / "everyday-test.tsv")
    parser.add_argument("--name", default="everyday_translation")
    args = parser.parse_args(argv)
    settings = settings_from_env()
    prepare_tensorflow(settings)
    pairs = sets(settings.data_dir, args.tech_limit, args.everyday, args.short_limit)
    report: dict[str, Any] = {}
    for task, new in (("translate-en-zh", args.new_en_zh), ("translate-zh-en", args.new_zh_en)):
        report[task] = {"old": measure(args.old_dir / task, task, pairs),
                        "new": measure(new, task, pairs)}
    report["machine"] = machine()
    write_json(args.name, report)
    write_markdown(args.name, markdown(report))
    print("\n".join(markdown(report)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
