"""Load a version of any task: the one dispatch from a task's kind to its kind of model.

    from model.api import ModelSettings, load
    translator = load("translate-en-zh", ModelSettings())
    [p] = translator.predict(["Open the file"])
    p.text, p.confidence, p.version

The load sequence is written once here (thread settings, the shipped default, the version
directory), then the kind's own module builds the model: ``seq2seq_predictor`` for translate,
chat and summarize, ``qa_files`` for qa, ``intent_predictor`` for intent. Those modules are
imported inside the functions, so importing this module stays free of TensorFlow; qa and intent
versions are served by NumPy (``model.rnn_numpy``) and load without TensorFlow at all, so a
process that serves them answers seconds before TensorFlow has even been imported. Nothing in
``model`` imports this module but its entry points (``model.api``, the command lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.loading import prepare_numpy, prepare_tensorflow, version_dir
from model.prediction import TextModel
from model.settings import ModelSettings
from model.task_specs import get_task

if TYPE_CHECKING:
    from model.intent_predictor import IntentPredictor
    from model.qa_predictor import QAPredictor
    from model.seq2seq_predictor import Predictor

__all__ = ["load", "load_intent", "load_qa", "load_seq2seq"]


def load(task: str, settings: ModelSettings, version: str | None = None) -> TextModel:
    """The current (or a named) version of ``task``, whatever its kind; an unknown task raises
    KeyError, a task without any version RegistryError."""
    kind = get_task(task).kind
    if kind == "qa":
        return load_qa(task, settings, version)
    if kind == "intent":
        return load_intent(task, settings, version)
    return load_seq2seq(task, settings, version)


def load_seq2seq(task: str, settings: ModelSettings, version: str | None = None,
                 beam_size: int | None = None) -> Predictor:
    """A translate, chat or summarize version (``beam_size``: the task's unless given)."""
    from model.seq2seq_predictor import load_seq2seq_dir

    path, card = _open(task, settings, version, tensorflow=True)
    return load_seq2seq_dir(path, get_task(task), path.name, card, jit_compile=settings.xla,
                            beam_size=beam_size)


def load_qa(task: str, settings: ModelSettings, version: str | None = None) -> QAPredictor:
    """A qa version with the pairs added at run time kept in ``settings.qa_user_dir``."""
    from model.qa_files import load_qa_dir

    path, card = _open(task, settings, version)
    return load_qa_dir(path, task, path.name, card, settings.qa_user_dir)


def load_intent(task: str, settings: ModelSettings,
                version: str | None = None) -> IntentPredictor:
    """An intent version: label, confidence and the extracted text of each message."""
    from model.intent_predictor import load_intent_dir

    path, card = _open(task, settings, version)
    return load_intent_dir(path, task, path.name, card)


def _open(task: str, settings: ModelSettings, version: str | None,
          tensorflow: bool = False) -> tuple[Path, dict[str, Any]]:
    """The shared steps: threads set up (TensorFlow's too when the kind needs it), then the
    version directory and its card."""
    get_task(task)  # an unknown task fails before TensorFlow starts
    prepare_numpy()
    if tensorflow:
        prepare_tensorflow(settings)
    return version_dir(task, settings, version)
