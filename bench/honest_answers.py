"""Answers that do not pretend: what free text gets from the shipped router, qa and chat models.

    MODEL_XLA=0 python -m bench.honest_answers

Each question is sent through the same decision as the bot's free text in ``auto`` mode
(``bot.services.routing``: the intent model's label and confidence, then question answering,
then ``unsure_answer_goes_to_chat``), with the shipped ``intent``, ``qa`` and ``chat`` models.
Outcomes per question:

* ``right``: a sure bank answer equal to the expected one (``normalize_answer``);
* ``fake``: a sure bank answer that is wrong, or a chat-model reply to the question (the chat
  model knows no facts: "what is the capital of France?" -> "omaha nebraska"), unless that
  reply itself says it does not know;
* ``dont_know``: "I don't know that yet";
* ``other``: routed to translation or summarization.

Sets: ``tests/fixtures/qa/unanswerable.tsv`` (72 factual questions the bank does not hold, 40
English, 32 Chinese) and the paraphrase sets ``tests/fixtures/qa/paraphrases-{dev,test}.tsv``
(rows marked ``<none>`` count as unanswerable). "before" is the decision shipped until now:
every question question answering was not sure of went to the chat model.
"shipped": ``unsure_answer_goes_to_chat``. "bank_first" (measured, not shipped: the issue
asks that chit-chat go to chat): also answer what the router sends to chat from the bank when
question answering is sure of it.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path
from typing import Any

import re2

from bench.common import machine, write_json

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
QA_FIXTURES = REPO / "tests" / "fixtures" / "qa"
NOT_IN_BANK = "<none>"
# a chat reply that admits not knowing is honest, not a fake fact
_ADMITS = re2.compile(r"(?i)\b(?:i don't know|i do not know|not sure|no idea|i'm not sure)\b|"
                      r"不知道|不确定")


def read_questions(path: Path) -> list[tuple[str, str]]:
    """(question, expected answer or ``<none>``) rows of a fixture."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        question, _, second = line.partition("\t")
        expected = NOT_IN_BANK if second in ("en", "zh") else second
        rows.append((question, expected))
    return rows


def outcomes(rows: list[tuple[str, str]], models: dict[str, Any],
             min_confidence: float) -> dict[str, Any]:
    from bot.services.inference import ModelAnswer
    from bot.services.routing import _route_from_model, unsure_answer_goes_to_chat
    from model.qa_fingerprint import normalize_answer

    questions = [q for q, _ in rows]
    intents = models["intent"].predict(questions)
    answers = models["qa"].predict(questions)
    routes = [_route_from_model(ModelAnswer(p.text, p.confidence, p.task, p.version, 0.0, 1,
                                            p.sure, p.label, p.target_lang), q, min_confidence)
              for p, q in zip(intents, questions, strict=True)]
    # what each decision sends to the chat model
    decisions: dict[str, list[str]] = {"before": [], "shipped": [], "bank_first": []}
    for route, answer, question in zip(routes, answers, questions, strict=True):
        for name in decisions:
            if route.intent == "chat" and name == "bank_first" and answer.sure:
                decisions[name].append("bank")
            elif route.intent == "chat":
                decisions[name].append("chat")
            elif route.intent != "qa":
                decisions[name].append("other")
            elif answer.sure:
                decisions[name].append("bank")
            elif name == "before" or unsure_answer_goes_to_chat(route, question,
                                                                min_confidence):
                decisions[name].append("chat")
            else:
                decisions[name].append("dont_know")
    to_chat = sorted({i for d in decisions.values() for i, k in enumerate(d) if k == "chat"})
    chat_replies = dict(zip(to_chat, (p.text for p in models["chat"].predict(
        [questions[i] for i in to_chat])), strict=True)) if to_chat else {}
    result: dict[str, Any] = {"n": len(rows),
                              "n_unanswerable": sum(e == NOT_IN_BANK for _, e in rows)}
    for name, kinds in decisions.items():
        counts: Counter[str] = Counter()
        examples = []
        for i, kind in enumerate(kinds):
            expected = rows[i][1]
            if kind == "bank":
                right = (expected != NOT_IN_BANK
                         and normalize_answer(answers[i].text) == normalize_answer(expected))
                outcome = "right" if right else "fake"
                reply = answers[i].text
            elif kind == "chat":
                reply = chat_replies[i]
                outcome = "dont_know" if _ADMITS.search(reply) else "fake"
            else:
                outcome, reply = kind, ""
            counts[outcome] += 1
            if outcome == "fake" and len(examples) < 6:
                examples.append({"question": questions[i], "reply": reply, "via": kind})
        n = len(rows)
        result[name] = {**{k: counts[k] for k in ("right", "fake", "dont_know", "other")},
                        **{f"{k}_rate": round(counts[k] / n, 3)
                           for k in ("right", "fake", "dont_know", "other")},
                        "answered_from_bank_rate": round(kinds.count("bank") / n, 3),
                        "fake_examples": examples}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    from model.predictor import load
    from model.routing_rules import MIN_CONFIDENCE
    from model.settings import settings_from_env

    settings = settings_from_env()
    models = {task: load(task, settings) for task in ("intent", "qa", "chat")}
    result: dict[str, Any] = {"machine": machine(),
                              "versions": {t: m.version for t, m in models.items()},
                              "sets": {}}
    for name in ("unanswerable", "paraphrases-dev", "paraphrases-test"):
        rows = read_questions(QA_FIXTURES / f"{name}.tsv")
        result["sets"][name] = outcomes(rows, models, MIN_CONFIDENCE)
        if name == "unanswerable":
            for lang in ("en", "zh"):
                lang_rows = [r for r in rows if (re2.search(r"[\x{4e00}-\x{9fff}]", r[0])
                                                 is not None) == (lang == "zh")]
                result["sets"][f"unanswerable-{lang}"] = outcomes(lang_rows, models,
                                                                  MIN_CONFIDENCE)
    for name, data in result["sets"].items():
        print(name, data["n"], {k: {m: data[k][m] for m in
                                    ("right", "fake", "dont_know", "other",
                                     "answered_from_bank_rate")}
                                for k in ("before", "shipped", "bank_first")},
              flush=True)
    print("wrote", write_json("honest_answers", result))


if __name__ == "__main__":
    main()
