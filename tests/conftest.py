"""Suite-wide settings and the test markers.

Markers (``pyproject.toml`` lists them): ``e2e`` for every test under ``tests/e2e`` (they start
the bot or the Bot API emulator as real processes and servers, marked here by path), ``tf`` for
tests that run TensorFlow (a ``pytestmark`` in the module, or a mark on the test), ``slow`` for
real-training and long-running tests. ``make test`` (and CI) runs all of them; ``make test-fast``
runs ``-m "not e2e and not slow and not tf"`` with ``TESTS_WITHOUT_TF=1``, which also makes any
import of TensorFlow fail, so a test that needs it and is not marked ``tf`` shows up at once.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

TESTS = Path(__file__).resolve().parent
WITHOUT_TF = os.environ.get("TESTS_WITHOUT_TF") == "1"


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    """Refuses ``tensorflow`` and ``keras`` in the fast run (see the module docstring)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in {"tensorflow", "keras"}:
            raise ImportError(f"{name} imported in a TESTS_WITHOUT_TF run: mark the test 'tf'")
        return None


if WITHOUT_TF:
    sys.meta_path.insert(0, _NoTensorFlow())


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the fast run, skip importing modules marked ``tf`` as a whole (they import it)."""
    if not WITHOUT_TF or collection_path.suffix != ".py":
        return None
    if collection_path.name.startswith("test_"):
        text = collection_path.read_text(encoding="utf-8")
        if "pytestmark = pytest.mark.tf" in text or "pytestmark = [pytest.mark.tf" in text:
            return True
    return None


# The longest test files (each starts bot processes or trains), longest first. ``make test``
# runs files on two pytest-xdist workers (``--dist loadfile``), which take files in this order:
# starting with the longest keeps one worker from finishing the run alone on a long file.
LONGEST_FIRST = ("e2e/test_bot_retrain.py", "e2e/test_bot_restart.py", "e2e/test_bot_faults.py",
                 "model/test_train_cli.py", "e2e/test_bot_load.py", "e2e/test_bot_learning.py",
                 "e2e/test_bot_groups.py", "model/test_seq2seq.py", "e2e/test_bot_private.py",
                 "model/test_qa.py", "e2e/test_bot_webhook.py")


def _rank(item: pytest.Item) -> int:
    path = Path(str(item.path))
    relative = path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else ""
    return LONGEST_FIRST.index(relative) if relative in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    e2e = TESTS / "e2e"
    for item in items:
        if Path(str(item.path)).is_relative_to(e2e):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=_rank)  # stable: tests keep their order within a file
