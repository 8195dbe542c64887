"""The bot's seam: ``model.api.load`` takes its settings as an argument, never from the
environment, and every kind of model answers with the one ``Prediction`` record."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.api import ModelSettings, Prediction, QAModel, RegistryError, TextModel, load
from model.settings import DEFAULT_DATA_DIR, DEFAULT_MODEL_DIR, settings_from_env
from model.task_specs import PRETRAINED_DIR

SHIPPED = all((PRETRAINED_DIR / task / "card.json").is_file() for task in ("qa", "intent"))


def test_settings_from_env_reads_the_documented_variables() -> None:
    env = {"MODEL_DIR": "/m", "MODEL_DATA_DIR": "/d", "TF_INTRA_THREADS": "2",
           "TF_INTER_THREADS": "1", "MODEL_XLA": "0"}
    assert settings_from_env(environ=env) == ModelSettings(Path("/m"), Path("/d"), 2, 1, False)
    assert settings_from_env("/flag", environ=env).model_dir == Path("/flag")
    defaults = settings_from_env(environ={"MODEL_XLA": ""})
    assert defaults == ModelSettings(DEFAULT_MODEL_DIR, DEFAULT_DATA_DIR, 0, 0, True)


@pytest.mark.tf
def test_an_unknown_task_or_an_empty_registry_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        load("weather", ModelSettings(model_dir=tmp_path))
    with pytest.raises(RegistryError):
        load("qa", ModelSettings(model_dir=tmp_path), version="v-missing")


@pytest.mark.tf
@pytest.mark.skipif(not SHIPPED, reason="no shipped qa and intent versions")
def test_load_uses_the_settings_not_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "from-env"))
    settings = ModelSettings(model_dir=tmp_path / "models", xla=False,
                             qa_user_dir=tmp_path / "qa-user")
    intent: TextModel = load("intent", settings)
    assert (tmp_path / "models" / "intent" / "current").is_file()  # the default installed here
    assert not (tmp_path / "from-env").exists()
    [routed] = intent.predict(["translate to Chinese: good morning"])
    assert isinstance(routed, Prediction) and routed.version == intent.version
    assert (routed.label, routed.text, routed.target_lang) == ("translate", "good morning", "zh")

    qa = load("qa", settings)
    assert isinstance(qa, QAModel) and not isinstance(intent, QAModel)
    qa.add_pair("what is the password of the castle gate", "swordfish")
    assert (tmp_path / "qa-user").is_dir() and any((tmp_path / "qa-user").iterdir())
    [answer] = qa.predict(["what is the password of the castle gate"])
    assert answer.sure and answer.text == answer.closest_answer == "swordfish"
    assert answer.label is None and answer.task == "qa"
