"""Training end to end on a tiny corpus, then the CLI: evaluate (JSON shape), predict, list."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from model.data.readers import write_tsv
from model.evaluate import evaluate_pairs
from model.registry import Registry
from model.task_specs import get_task
from model.train import TrainOptions, train
from tests.model.seeding import DATA_SEED, seeded

pytestmark = pytest.mark.tf  # builds or trains TensorFlow models

EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ZH = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"]
REPO = Path(__file__).resolve().parents[2]


def number_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        digits = [rng.randrange(10) for _ in range(rng.randint(2, 5))]
        pairs.append((" ".join(EN[d] for d in digits), "".join(ZH[d] for d in digits)))
    return pairs


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("tiny")
    data = root / "data"
    data.mkdir()
    write_tsv(data / "train.tsv", number_pairs(3000, 1))
    write_tsv(data / "dev.tsv", number_pairs(60, 2))
    write_tsv(data / "test.tsv", number_pairs(60, 3))
    models = root / "models"
    seeded(13)
    result = train(TrainOptions(
        task="translate-en-zh", data_dir=data, model_dir=models, epochs=12, verbose=0,
        seed=13 + DATA_SEED,
        overrides={"vocab_size": 340, "batch_size": 32, "embed_dim": 32, "encoder_units": 48,
                   "decoder_units": 64, "dropout": 0.0, "learning_rate": 1e-2},
    ))
    assert result.promoted  # the first version of a task becomes current
    return data, models, result.version


def run_cli(models: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODEL_DIR": str(models)}
    return subprocess.run([sys.executable, "-m", "model", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_training_writes_a_complete_version(trained: tuple[Path, Path, str]) -> None:
    _, models, version = trained
    path = Registry(models).resolve("translate-en-zh")
    assert path.name == version
    for name in ("weights.npz", "config.json", "tokenizer.model", "card.json", "curve.png"):
        assert (path / name).is_file(), name
    card = json.loads((path / "card.json").read_text())
    assert card["task"] == "translate-en-zh" and card["parameters"] > 0
    assert card["metrics"]["test"]["bleu"] > 50  # a learnable toy mapping is learnt
    assert card["training"]["target_tokens_per_second"] > 0


@pytest.mark.slow
def test_evaluate_cli_prints_json_last(trained: tuple[Path, Path, str]) -> None:
    data, models, version = trained
    proc = run_cli(models, "evaluate", "--task", "translate-en-zh",
                   "--data", str(data / "test.tsv"), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["n"] == 60 and result["version"] == version
    assert {"bleu", "chrf"} <= set(result)
    assert 0 <= result["chrf"] <= 100


@pytest.mark.slow
def test_predict_and_list_cli(trained: tuple[Path, Path, str]) -> None:
    _, models, version = trained
    inputs = ["one two", "nine eight", "three four five"]
    proc = run_cli(models, "predict", "--task", "translate-en-zh", *inputs)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == len(inputs)  # one prediction per input, in order
    expected = ["一二", "九八", "三四五"]
    assert sum(got == want for got, want in zip(lines, expected, strict=True)) >= 2
    listing = run_cli(models, "list")
    assert f"* {version}" in listing.stdout


@pytest.mark.slow
def test_warm_start_continues_from_a_version(trained: tuple[Path, Path, str]) -> None:
    data, models, version = trained
    result = train(TrainOptions(task="translate-en-zh", data_dir=data, model_dir=models,
                                epochs=1, warm_start="current", verbose=0))
    assert not result.promoted  # a candidate; current stays until promoted
    assert result.card["training"]["warm_start"] == version
    assert result.card["metrics"]["test"]["bleu"] > 50  # it did not start from scratch
    assert Registry(models).current("translate-en-zh") == version


@pytest.mark.slow
def test_translate_predictor_answers_short_dictionary_entries(
        trained: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from model import dictionary
    from model.data.everyday import hsk_words
    from model.predictor import load_seq2seq
    from model.settings import ModelSettings

    cedict = REPO / "tests" / "fixtures" / "data" / "cedict"
    tiny = dictionary.Dictionary(cedict / "cedict_tiny.txt",
                                 frozenset(hsk_words([cedict / "hsk_tiny.txt"])))
    monkeypatch.setitem(dictionary._loaded, "default", tiny)
    _, models, version = trained
    predictor = load_seq2seq("translate-en-zh", ModelSettings(model_dir=models, xla=False))
    looked_up, model_made = predictor.predict(["Good morning!", "one two"])
    assert (looked_up.text, looked_up.confidence, looked_up.sure) == ("早上好 (dictionary)",
                                                                      1.0, True)
    assert model_made.version == version and "(dictionary)" not in model_made.text
    [plain] = predictor.predict(["Good morning!"], dictionary=False)
    assert "(dictionary)" not in plain.text


def test_evaluate_cli_reports_bad_input(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "evaluate", "--task", "chat", "--data", str(tmp_path / "none.tsv"))
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_metric_keys_per_task() -> None:
    pairs = [("the package provides a fast json parser for python", "fast JSON parser")] * 3
    summary = evaluate_pairs(get_task("summarize"), lambda xs: ["fast json parser"] * len(xs),
                             pairs)
    assert {"rouge1", "rouge2", "rougeL", "baseline_lead8_rougeL", "baseline_lead10_rougeL",
            "n"} <= set(summary)
    assert summary["rougeL"] == pytest.approx(100.0)
    chat = evaluate_pairs(get_task("chat"), lambda xs: ["hello there friend"] * len(xs),
                          [("hi", "hello there"), ("hey", "hi friend")],
                          bank=[("hi", "hello there"), ("bye", "see you")])
    assert {"bleu", "distinct2", "baseline_retrieval_bleu",
            "baseline_retrieval_distinct2"} <= set(chat)
    assert chat["distinct2"] == pytest.approx(0.5)


@pytest.mark.slow
def test_killed_training_resumes(tmp_path: Path) -> None:
    """SIGKILL mid-training, then `train --resume` continues the same run from its checkpoint."""
    import signal
    import time

    data = tmp_path / "data"
    data.mkdir()
    write_tsv(data / "train.tsv", number_pairs(3000, 1))
    write_tsv(data / "dev.tsv", number_pairs(60, 2))
    models = tmp_path / "models"
    args = ["train", "--task", "translate-en-zh", "--data", str(data), "--epochs", "30",
            "--quiet", "--set", "vocab_size=340", "--set", "batch_size=32",
            "--set", "embed_dim=16", "--set", "encoder_units=16", "--set", "decoder_units=16"]
    env = {**os.environ, "MODEL_DIR": str(models)}
    proc = subprocess.Popen([sys.executable, "-m", "model", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = models / "translate-en-zh" / "runs"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(runs.glob("*/backup/*")):
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(runs.glob("*/backup/*")), "no checkpoint was written before the kill"
    assert Registry(models).versions("translate-en-zh") == []  # nothing half-published
    [run] = list(runs.iterdir())
    resumed = run_cli(models, *args[:-10], "--epochs", "3", "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    [version] = Registry(models).versions("translate-en-zh")
    assert version.card["training"]["resumed"] is True
    assert version.card["training"]["run"] == run.name


def test_train_cli_reports_a_failure_as_a_json_event(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "train", "--json", "--task", "chat", "--data", str(tmp_path))
    assert proc.returncode == 2
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # nothing but events
    assert [e["event"] for e in events] == ["start", "error"]
    assert events[1]["kind"] == "FileNotFoundError" and "no train/dev data" in events[1]["message"]
