"""The one module the bot imports from ``model``: load a version, ``predict(texts)``.

    from model.api import ModelSettings, load
    translator = load("translate-en-zh", ModelSettings(model_dir=Path("data/models")))
    [p] = translator.predict(["Open the file"])
    p.text, p.confidence, p.sure, p.version

Every kind of model answers with the same frozen ``Prediction``; ``TextModel`` is what any
loaded version offers, ``QAModel`` what the qa version adds (pairs taught at run time).
Settings are an argument (``ModelSettings``), never the environment. Importing this module
does not import TensorFlow: ``load`` does, in the thread that calls it. The routing rules
(``model.routing_rules``: which task free text asks for, and the text it is about) are here too,
the one rule set both the bot's fallback and the intent model use.
"""

from __future__ import annotations

from pathlib import Path

from model.prediction import Prediction, QAModel, TextModel
from model.predictor import load
from model.qa_fingerprint import forget_in_versions, pair_fingerprint
from model.registry import Registry, RegistryError
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
from model.settings import ModelSettings
from model.task_specs import TaskData, task_data

__all__ = [
    "INTENTS",
    "LANGUAGE_NAMES",
    "LONG_TEXT_CJK",
    "LONG_TEXT_WORDS",
    "MIN_CONFIDENCE",
    "ModelSettings",
    "Prediction",
    "QAModel",
    "Registry",
    "RegistryError",
    "Route",
    "TaskData",
    "TextModel",
    "cjk_count",
    "extract_summary_text",
    "extract_translation",
    "forget_in_versions",
    "has_cjk",
    "is_long",
    "is_question",
    "load",
    "open_registry",
    "pair_fingerprint",
    "route_by_rules",
    "target_language",
    "task_data",
    "translation_task",
]



def open_registry(model_dir: Path) -> Registry:
    """The version registry under ``model_dir``: versions, cards, promote, rollback."""
    return Registry(Path(model_dir))
