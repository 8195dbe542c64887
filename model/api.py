"""The model package's public API for the bot (which imports ``model`` only through here).

In this branch it only re-exports the routing rules of ``model.routing_rules`` (TensorFlow-free).
"""

from __future__ import annotations

from model.routing_rules import (
    INTENTS,
    LANGUAGE_NAMES,
    LONG_TEXT_CJK,
    LONG_TEXT_WORDS,
    MIN_CONFIDENCE,
    Route,
    cjk_count,
    extract_summary_text,
    extract_translation,
    has_cjk,
    is_long,
    is_question,
    route_by_rules,
    target_language,
    translation_task,
)

__all__ = [
    "INTENTS",
    "LANGUAGE_NAMES",
    "LONG_TEXT_CJK",
    "LONG_TEXT_WORDS",
    "MIN_CONFIDENCE",
    "Route",
    "cjk_count",
    "extract_summary_text",
    "extract_translation",
    "has_cjk",
    "is_long",
    "is_question",
    "route_by_rules",
    "target_language",
    "translation_task",
]
