"""The files of a qa version: config, float16 weights, tokenizer, the bank and its vectors.

A loaded version serves with the NumPy forward pass of its encoders (``model.rnn_numpy``):
loading one imports no TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from model.qa_bank import LexicalIndex
from model.qa_config import QAConfig
from model.qa_fingerprint import BANK, BANK_VECTORS
from model.qa_predictor import QAPredictor
from model.rnn_numpy import DualEncoderNP, read_weights
from model.tokenizer import Tokenizer

CONFIG = "config.json"
LEXICAL = "lexical.json"


def save_qa(predictor: QAPredictor, directory: Path) -> int:
    """Write config, float16 weights, tokenizer and the bank (pairs + vectors); returns bytes."""
    from model.artifact import save_weights

    directory = Path(directory)
    size = save_weights(predictor.model, directory)
    (directory / CONFIG).write_text(json.dumps(predictor.config.to_dict(), indent=2),
                                    encoding="utf-8")
    predictor.tokenizer.save(directory)
    shipped = [e for e in predictor.bank.entries if e.origin == "bank"]
    with (directory / BANK).open("w", encoding="utf-8") as handle:
        for entry in shipped:
            handle.write(json.dumps([entry.question, entry.answer], ensure_ascii=False) + "\n")
    index = [i for i, e in enumerate(predictor.bank.entries) if e.origin == "bank"]
    np.save(directory / BANK_VECTORS, predictor.bank.vectors[index].astype(np.float16))
    if predictor.bank.lexical is not None:
        (directory / LEXICAL).write_text(predictor.bank.lexical.to_json(), encoding="utf-8")
    return size + (directory / BANK_VECTORS).stat().st_size


def read_bank(directory: Path) -> list[tuple[str, str]]:
    lines = (Path(directory) / BANK).read_text(encoding="utf-8").splitlines()
    return [(q, a) for q, a in (json.loads(line) for line in lines if line.strip())]


def _read_card(directory: Path) -> dict[str, Any]:
    path = Path(directory) / "card.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}


def load_qa_dir(directory: Path, task: str = "qa", version: str | None = None,
                card: dict[str, Any] | None = None,
                user_dir: Path | None = None) -> QAPredictor:
    """Build the predictor of a version directory: model, tokenizer, bank, run-time overlay."""
    directory = Path(directory)
    config = QAConfig.from_dict(json.loads((directory / CONFIG).read_text(encoding="utf-8")))
    model = DualEncoderNP(read_weights(directory), config.cell)
    card = card if card is not None else _read_card(directory)
    predictor = QAPredictor(model, Tokenizer.load(directory), config, task,
                            version or str(card.get("version") or directory.name), card)
    pairs = read_bank(directory)
    vectors = None
    if (directory / BANK_VECTORS).is_file():
        cached = np.load(directory / BANK_VECTORS).astype(np.float32)
        vectors = cached if cached.shape == (len(pairs), 2 * config.output_dim) else None
    lexical = None
    if (directory / LEXICAL).is_file():
        lexical = LexicalIndex.from_json((directory / LEXICAL).read_text(encoding="utf-8"))
    predictor.set_bank(pairs, vectors, lexical)
    predictor.embedder.answers(["warm-up"])  # trace now, so the first add_pair is fast
    predictor.apply_overlay(user_dir)
    return predictor
