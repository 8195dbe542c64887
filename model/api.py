"""The one module the bot imports from ``model``: load a version, ``predict(texts)``.

    from model.api import ModelSettings, load
    translator = load("translate-en-zh", ModelSettings(model_dir=Path("data/models")))
    [p] = translator.predict(["Open the file"])
    p.text, p.confidence, p.sure, p.version

Every kind of model answers with the same frozen ``Prediction``; ``TextModel`` is what any
loaded version offers, ``QAModel`` what the qa version adds (pairs taught at run time).
Settings are an argument (``ModelSettings``), never the environment. Importing this module
does not import TensorFlow: ``load`` does, in the thread that calls it.
"""

from __future__ import annotations

from pathlib import Path

from model.prediction import Prediction, QAModel, TextModel
from model.predictor import load
from model.registry import Registry, RegistryError
from model.settings import ModelSettings
from model.task_specs import TaskData, task_data

__all__ = ["ModelSettings", "Prediction", "QAModel", "Registry", "RegistryError", "TaskData",
           "TextModel", "load", "open_registry", "task_data"]


def open_registry(model_dir: Path) -> Registry:
    """The version registry under ``model_dir``: versions, cards, promote, rollback."""
    return Registry(Path(model_dir))
