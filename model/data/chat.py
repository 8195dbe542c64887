"""Extract English chat pairs (turn -> reply).

* chitchat-dataset: ``dataset.json`` maps a conversation id to ``{"messages": [[utterance,
  ...], ...]}``; each inner list is one speaker's turn (several utterances by the same sender).
* chatterbot-corpus: YAML files with ``conversations: [[statement, reply, ...], ...]``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from model.data.clean import clean_plain, word_count
from model.data.readers import Row, conversation_pairs, load_chatterbot_conversations

MAX_CHAT_WORDS = 25


def _turn_text(turn: Any) -> str:
    """Join the utterances of one chitchat turn."""
    if isinstance(turn, list):
        texts = [u.get("text", "") if isinstance(u, dict) else str(u) for u in turn]
        return clean_plain(" ".join(t for t in texts if isinstance(t, str)))
    if isinstance(turn, dict):
        return clean_plain(str(turn.get("text", "")))
    return clean_plain(str(turn)) if isinstance(turn, str) else ""


def _short_pairs(pairs: Iterable[tuple[str, str]], max_words: int) -> Iterator[tuple[str, str]]:
    """Non-empty pairs with both sides at most ``max_words`` words."""
    for turn, reply in pairs:
        if turn and reply and word_count(turn) <= max_words and word_count(reply) <= max_words:
            yield turn, reply


def _dedupe(rows: Iterable[Row]) -> list[Row]:
    """Drop exact duplicate (source, target) pairs, keeping the first group."""
    seen: set[tuple[str, str]] = set()
    out: list[Row] = []
    for source, target, group in rows:
        if (source, target) not in seen:
            seen.add((source, target))
            out.append((source, target, group))
    return out


def chitchat_rows(dataset_json: Path, max_words: int = MAX_CHAT_WORDS) -> list[Row]:
    """Consecutive turns of every chitchat conversation; group = ``chitchat/<conversation id>``."""
    with Path(dataset_json).open(encoding="utf-8") as handle:
        data = json.load(handle)

    def _rows() -> Iterator[Row]:
        for conv_id in sorted(data):
            conv = data[conv_id]
            messages = conv.get("messages", []) if isinstance(conv, dict) else []
            turns = [_turn_text(t) for t in messages]
            pairs = itertools.pairwise(turns)
            for turn, reply in _short_pairs(pairs, max_words):
                yield turn, reply, f"chitchat/{conv_id}"

    return _dedupe(_rows())


def chatterbot_chat_rows(yaml_files: Iterable[Path], max_words: int = MAX_CHAT_WORDS) -> list[Row]:
    """Consecutive statements of chatterbot conversations; group = ``<file>#<index>``."""

    def _rows() -> Iterator[Row]:
        for path in sorted(yaml_files):
            for index, conversation in enumerate(load_chatterbot_conversations(path)):
                cleaned = [
                    (clean_plain(a), clean_plain(b)) for a, b in conversation_pairs(conversation)
                ]
                for turn, reply in _short_pairs(cleaned, max_words):
                    yield turn, reply, f"chatterbot/{path.parent.name}/{path.name}#{index}"

    return _dedupe(_rows())
