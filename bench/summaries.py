"""Summaries: ROUGE, repeated trigrams and U+FFFD on every summary test set, and the choice of
the summary model's beam-search options on dev.

    python -m bench.summaries choose [--rows 400]   # grid of decoding options on the dev sets
    python -m bench.summaries test                  # the test sets, shipped vs plain decoding

Sets: the summary corpus (``data/corpora/tasks/summarize/{dev,test}.tsv``, built by
``python -m model data build``; skipped when absent) and the project's hand-written
conversation sets (``tests/fixtures/summaries/conversations-{dev,test}.jsonl``: short
multi-speaker exchanges in English and Chinese, one-line reference each). A conversation goes
to the model as ``/digest`` sends it (the messages as one paragraph of sentences); its
baselines are the first message and the first N words (English) or characters (Chinese).

ROUGE is rouge-score's F1 x 100. English: its own tokenizer with the Porter stemmer (as the
README's summary figures). Chinese: one token per character (rouge-score's tokenizer drops
every non-ASCII character, so Chinese would score 0 whatever the summary); Latin words and
numbers inside Chinese text stay whole. A repeated trigram is a trigram of these tokens that
occurs a second time in the same summary (English words lowercased).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import re2

from bench.common import machine, write_json

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "summaries"
CORPUS = REPO / "data" / "corpora" / "tasks" / "summarize"
_CJK_OR_WORD = re2.compile(r"[\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}]|[\p{L}\p{N}]+")
_HAS_CJK = re2.compile(r"[\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}]")
LEAD_WORDS, LEAD_CHARS = 10, 20


def tokens(text: str) -> list[str]:
    """Characters of Chinese text, lowercased words of Latin text (repeats and Chinese ROUGE)."""
    return [t.lower() for t in _CJK_OR_WORD.findall(text)]


def repeated_trigrams(text: str) -> int:
    """How many trigrams of ``text`` occur again after their first occurrence."""
    toks = tokens(text)
    counts = Counter(tuple(toks[i : i + 3]) for i in range(len(toks) - 2))
    return sum(c - 1 for c in counts.values())


class _CharTokenizer:
    """rouge-score tokenizer for Chinese: one token per character, Latin words whole."""

    def tokenize(self, text: str) -> list[str]:
        return tokens(text)


def rouge(hyps: Sequence[str], refs: Sequence[str], lang: str) -> dict[str, float]:
    from rouge_score import rouge_scorer

    if lang == "zh":
        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"],
                                          tokenizer=_CharTokenizer())
    else:
        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for hyp, ref in zip(hyps, refs, strict=True):
        for name, value in scorer.score(ref, hyp).items():
            totals[name] += value.fmeasure
    return {k: round(100 * v / max(len(hyps), 1), 1) for k, v in totals.items()}


def paragraph(turns: Sequence[Sequence[str]]) -> str:
    """The messages as one paragraph, as ``/digest`` gives them to the model (no names)."""
    sentences = [text.strip() for _, text in turns if text.strip()]
    return " ".join(s if s.endswith((".", "!", "?", "。", "！", "？")) else f"{s}."
                    for s in sentences)


def lead(text: str, lang: str) -> str:
    if lang == "zh":
        return "".join(tokens(text)[:LEAD_CHARS])
    return " ".join(text.split()[:LEAD_WORDS])


def load_set(path: Path, rows: int | None = None) -> list[dict[str, Any]]:
    """Rows {source, reference, lang, first}; a .tsv is ``source<TAB>target``."""
    out: list[dict[str, Any]] = []
    if path.suffix == ".jsonl":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                out.append({"source": paragraph(item["turns"]), "reference": item["summary"],
                            "lang": item["lang"], "first": item["turns"][0][1]})
    else:
        for line in path.read_text(encoding="utf-8").splitlines():
            source, _, target = line.partition("\t")
            if source and target:
                lang = "zh" if _HAS_CJK.search(target) else "en"
                out.append({"source": source, "reference": target, "lang": lang,
                            "first": source})
    return out[:rows] if rows else out


def sets(split: str, rows: int | None) -> dict[str, list[dict[str, Any]]]:
    found = {}
    if (CORPUS / f"{split}.tsv").is_file():
        found[f"summarize-{split}"] = load_set(CORPUS / f"{split}.tsv", rows)
    conversations = load_set(FIXTURES / f"conversations-{split}.jsonl")
    for lang in ("en", "zh"):
        found[f"conversations-{split}-{lang}"] = [r for r in conversations if r["lang"] == lang]
    return found


VERSION: str | None = None  # --version: a candidate instead of the current version


def predictor_with(decoding: dict[str, Any]) -> Any:
    from model.predictor import load_seq2seq
    from model.seq2seq_predictor import Predictor
    from model.settings import settings_from_env

    base = load_seq2seq("summarize", settings_from_env(), VERSION)
    spec = replace(base.spec, decoding=decoding)
    return Predictor(base.model, base.tokenizer, base.config, spec, base.version, base.card,
                     jit_compile=False)


def score_set(predictor: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """ROUGE per language, repeated trigrams, U+FFFD and the output language of one set."""
    start = time.monotonic()
    predictions = predictor.predict([r["source"] for r in rows])
    hyps = [p.text for p in predictions]
    result: dict[str, Any] = {"n": len(rows), "seconds": round(time.monotonic() - start, 1),
                              "repeated_trigrams": sum(repeated_trigrams(h) for h in hyps),
                              "summaries_with_a_repeat": sum(repeated_trigrams(h) > 0
                                                             for h in hyps),
                              "replacement_chars": sum(h.count("\ufffd") for h in hyps)}
    for lang in ("en", "zh"):
        index = [i for i, r in enumerate(rows) if r["lang"] == lang]
        if not index:
            continue
        refs = [rows[i]["reference"] for i in index]
        result[lang] = {
            "n": len(index),
            "model": rouge([hyps[i] for i in index], refs, lang),
            "lead": rouge([lead(rows[i]["source"], lang) for i in index], refs, lang),
            "first_message": rouge([rows[i]["first"] for i in index], refs, lang),
            "summaries_in_chinese": sum(bool(_HAS_CJK.search(hyps[i])) for i in index),
        }
    result["examples"] = [{"source": r["source"][:200], "summary": h}
                          for r, h in list(zip(rows, hyps, strict=True))[:3]]
    return result


SHIPPED_BEFORE: dict[str, Any] = {}  # the summary task decoded plain beam search until now
GRID = [
    {},
    {"no_repeat_ngram": 3},
    {"no_repeat_ngram": 3, "coverage_penalty": 0.5},
    {"no_repeat_ngram": 3, "coverage_penalty": 1.0},
    {"no_repeat_ngram": 3, "coverage_penalty": 2.0},
    {"coverage_penalty": 1.0},
]


def choose(rows: int | None) -> dict[str, Any]:
    dev = sets("dev", rows)
    results = []
    for decoding in GRID:
        predictor = predictor_with(decoding)
        entry = {"decoding": decoding,
                 "sets": {name: score_set(predictor, data) for name, data in dev.items()}}
        results.append(entry)
        print(json.dumps({"decoding": decoding, **{
            name: {"rougeL_en": s.get("en", {}).get("model", {}).get("rougeL"),
                   "rougeL_zh": s.get("zh", {}).get("model", {}).get("rougeL"),
                   "repeats": s["repeated_trigrams"]}
            for name, s in entry["sets"].items()}}, ensure_ascii=False), flush=True)
    return {"machine": machine(), "grid": results}


def test(rows: int | None) -> dict[str, Any]:
    from model.task_specs import get_task

    shipped = get_task("summarize").decoding
    out: dict[str, Any] = {"machine": machine(), "shipped_decoding": shipped, "sets": {}}
    for label, decoding in (("plain beam (before)", SHIPPED_BEFORE), ("shipped", shipped)):
        predictor = predictor_with(decoding)
        out["version"] = predictor.version
        for name, data in sets("test", rows).items():
            out["sets"].setdefault(name, {})[label] = score_set(predictor, data)
            print(label, name, json.dumps(out["sets"][name][label], ensure_ascii=False)[:600],
                  flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["choose", "test"])
    parser.add_argument("--rows", type=int, default=None,
                        help="first N rows of the corpus sets (default: all)")
    parser.add_argument("--version", default=None,
                        help="a summarize version of the registry (default: the current one)")
    args = parser.parse_args()
    global VERSION
    VERSION = args.version
    result = choose(args.rows) if args.mode == "choose" else test(args.rows)
    suffix = f"-{args.version}" if args.version else ""
    path = write_json(f"summaries-{args.mode}{suffix}", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
