"""The end of a retrain run: the gate's judgement, the outcome, and its report to the admins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.services.child_events import GateScores
from bot.storage.training import PROMOTED, REJECTED
from bot.texts import say


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    task: str
    trigger: str
    status: str  # promoted | rejected | failed | interrupted
    base_version: str | None = None
    candidate_version: str | None = None
    primary: str = ""
    comparison: dict[str, dict[str, Any]] = field(default_factory=dict)  # set -> base, cand
    error: str | None = None
    added_pairs: int = 0


def judge(scores: GateScores, base: str, candidate: str, tolerance: float
          ) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Whether the candidate may replace the base, and the comparison set by set."""
    versions = scores.versions
    table: dict[str, dict[str, Any]] = {}
    passed = True
    for name, scored in versions.get(candidate, {}).items():
        theirs = versions.get(base, {}).get(name, {}).get("primary")
        ours = scored.get("primary")
        table[name] = {"base": theirs, "candidate": ours, "n": scored.get("n")}
        if ours is None or (theirs is not None and float(ours) < float(theirs) - tolerance):
            passed = False
    return passed, table


def describe(outcome: RunOutcome, lang: str, tolerance: float) -> str:
    """The result of a run, for the admins."""
    rows = "\n".join(
        say(lang, "retrain_row", set=name, metric=outcome.primary,
            base=_figure(row.get("base")), candidate=_figure(row.get("candidate")),
            n=row.get("n") or 0)
        for name, row in outcome.comparison.items())
    key = {PROMOTED: "retrain_promoted", REJECTED: "retrain_rejected"}.get(
        outcome.status, "retrain_failed")
    return say(lang, key, task=outcome.task, run=outcome.run_id,
               candidate=outcome.candidate_version or "-", base=outcome.base_version or "-",
               tolerance=f"{tolerance:g}", rows=rows or "-",
               error=outcome.error or outcome.status, added=outcome.added_pairs)


def _figure(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}"
