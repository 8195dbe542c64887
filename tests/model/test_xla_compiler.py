"""The background XLA compiler waits for a pause in the requests (model.seq2seq_predictor)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.tf


class _Done:
    def numpy(self) -> np.ndarray:
        return np.zeros(1)


class _FakeDecoder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def greedy(self, source: np.ndarray) -> list[_Done]:
        self.calls.append(time.monotonic())
        return [_Done()]


class _FakePredictor:
    task = "translate-en-zh"

    def __init__(self) -> None:
        self.decoder = _FakeDecoder()
        self.compiled: set[Any] = set()


def test_compiles_only_after_a_pause_in_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from model import prediction, seq2seq_predictor

    monkeypatch.setattr(seq2seq_predictor, "COMPILE_WHEN_IDLE_S", 0.3)
    compiler = seq2seq_predictor._Compiler()
    predictor = _FakePredictor()
    busy_until = time.monotonic() + 1.0
    stop = threading.Event()

    def requests() -> None:  # one request every 20 ms for a second, then none
        while time.monotonic() < busy_until and not stop.is_set():
            prediction.note_request()
            time.sleep(0.02)

    load = threading.Thread(target=requests)
    load.start()
    try:
        compiler.submit(predictor, "greedy", (1, 8))  # type: ignore[arg-type]
        load.join()
        deadline = time.monotonic() + 10
        while not predictor.compiled and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        compiler.stop(timeout=10)
    assert predictor.compiled == {("greedy", (1, 8))}
    [called] = predictor.decoder.calls
    assert called >= busy_until + 0.3 - 0.05  # not while the requests came, only after the pause


def test_stop_while_waiting_for_a_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    from model import prediction, seq2seq_predictor

    monkeypatch.setattr(seq2seq_predictor, "COMPILE_WHEN_IDLE_S", 3600.0)
    compiler = seq2seq_predictor._Compiler()
    predictor = _FakePredictor()
    prediction.note_request()
    compiler.submit(predictor, "greedy", (1, 8))  # type: ignore[arg-type]
    time.sleep(0.1)
    started = time.monotonic()
    compiler.stop(timeout=10)
    assert time.monotonic() - started < 2 and predictor.decoder.calls == []
