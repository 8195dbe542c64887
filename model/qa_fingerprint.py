"""A one-way name of a qa pair, shared by the bot (which keeps no words of a forgotten user) and
the answer bank (which drops the entries so named). No TensorFlow here."""

from __future__ import annotations

import hashlib

from model.evaluate import normalize_answer


def pair_key(question: str, answer: str) -> tuple[str, str]:
    return normalize_answer(question), normalize_answer(answer)


def pair_fingerprint(question: str, answer: str) -> str:
    """SHA-256 of the normalised pair: what is kept of a forgotten user's pair, so that it can
    be removed from any bank later without keeping its words."""
    q_key, a_key = pair_key(question, answer)
    return hashlib.sha256(f"{q_key}\x1f{a_key}".encode()).hexdigest()
