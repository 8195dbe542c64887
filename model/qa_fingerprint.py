"""A one-way name of a qa pair, shared by the bot (which keeps no words of a forgotten user) and
the answer bank (which drops the entries so named), and the removal of such pairs from the
banks shipped in a model directory. No TensorFlow here."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

BANK = "bank.jsonl"  # a qa version's shipped pairs (model.qa_files writes and reads them)
BANK_VECTORS = "bank_vectors.npy"


_FINAL_PUNCT = ".!?;:,。！？；：，、…\"'”’)]）】」』 "


def normalize_answer(text: str) -> str:
    """Unicode NFKC, case folding, whitespace collapsed and trimmed, final punctuation removed
    (also how ``model.evaluate`` compares answers)."""
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return text.rstrip(_FINAL_PUNCT).strip()


def pair_key(question: str, answer: str) -> tuple[str, str]:
    return normalize_answer(question), normalize_answer(answer)


def pair_fingerprint(question: str, answer: str) -> str:
    """SHA-256 of the normalised pair: what is kept of a forgotten user's pair, so that it can
    be removed from any bank later without keeping its words."""
    q_key, a_key = pair_key(question, answer)
    return hashlib.sha256(f"{q_key}\x1f{a_key}".encode()).hexdigest()


def forget_in_versions(model_dir: Path, task: str, fingerprints: Iterable[str]) -> int:
    """Rewrite the shipped bank (``bank.jsonl`` and its vectors) of every version of ``task``
    under ``model_dir`` without the pairs of these fingerprints; returns how many rows went.

    Each file is replaced atomically; a bank and vectors left out of step by a crash in between
    do not match in length, and the loader embeds the bank again (``model.qa_files``).
    """
    import numpy as np  # here: importing model.api loads no numpy

    wanted = set(fingerprints)
    removed = 0
    versions = Path(model_dir) / task / "versions"
    for bank in sorted(versions.glob(f"*/{BANK}")) if wanted and versions.is_dir() else []:
        lines = bank.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        keep = [i for i, (q, a) in enumerate(rows) if pair_fingerprint(q, a) not in wanted]
        if len(keep) == len(rows):
            continue
        vectors_path = bank.with_name(BANK_VECTORS)
        if vectors_path.is_file():
            vectors = np.load(vectors_path)
            if len(vectors) == len(rows):
                with _replacing(vectors_path) as temporary, temporary.open("wb") as handle:
                    np.save(handle, vectors[keep])
        text = "".join(json.dumps(rows[i], ensure_ascii=False) + "\n" for i in keep)
        with _replacing(bank) as temporary:
            temporary.write_text(text, encoding="utf-8")
        removed += len(rows) - len(keep)
    return removed


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it once written."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
