"""The real model loader: ``model.api.load`` (``model.api`` is all the bot imports of ``model``)."""

from __future__ import annotations

from bot.services.inference import ModelLoader, TaskUnavailable
from model.api import ModelSettings, RegistryError, TextModel, load


def predictor_loader(settings: ModelSettings) -> ModelLoader:
    """A loader for the inference service; unknown or untrained tasks raise TaskUnavailable.

    It runs in the service's loading thread: TensorFlow's import takes seconds.
    """

    def load_version(task: str, version: str | None) -> TextModel:
        try:
            return load(task, settings, version)
        except (RegistryError, KeyError) as exc:
            raise TaskUnavailable(str(exc).strip("'\"")) from exc

    return load_version
