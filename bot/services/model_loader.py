"""The real model loader: ``model.predictor`` (the only thing the bot imports from ``model``)."""

from __future__ import annotations

from pathlib import Path

from bot.services.inference import ModelLoader, TaskUnavailable, TextModel


def predictor_loader(model_dir: Path | None, qa_user_dir: Path | None = None) -> ModelLoader:
    """A loader for the inference service; unknown or untrained tasks raise TaskUnavailable.

    ``qa_user_dir`` keeps the question-answer pairs added at run time (with the bot's data).
    """

    def load(task: str, version: str | None) -> TextModel:
        # Imported here, in the loading thread: TensorFlow's import takes seconds.
        from model.predictor import RegistryError
        from model.predictor import load as load_predictor

        try:
            predictor: TextModel
            if task == "qa":
                predictor = load_predictor(task, version=version, model_dir=model_dir,
                                           user_dir=qa_user_dir)
            else:
                predictor = load_predictor(task, version=version, model_dir=model_dir)
        except (RegistryError, KeyError) as exc:
            raise TaskUnavailable(str(exc).strip("'\"")) from exc
        return predictor

    return load
