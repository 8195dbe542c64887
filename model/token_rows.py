"""Token-id rows as model inputs: the ids of each text, cut, and right-padded into one array.

Shared by the Keras models (``model.encoders``) and their NumPy forward passes
(``model.rnn_numpy``); free of TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from model.tokenizer import PAD_ID, Tokenizer


def pad_ids(rows: Sequence[Sequence[int]], multiple: int = 8, min_width: int = 8) -> np.ndarray:
    """Right-pad token-id rows with PAD to one int32 array (width rounded up to ``multiple``)."""
    longest = max((len(r) for r in rows), default=1)
    width = max(int(math.ceil(max(longest, 1) / multiple) * multiple), min_width)
    out = np.full((len(rows), width), PAD_ID, np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def encode_texts(tokenizer: Tokenizer, texts: Iterable[str], max_len: int) -> list[list[int]]:
    """Token ids of each text, cut to ``max_len`` (an empty text gets one UNK-free PAD-less row)."""
    return [tokenizer.encode(text, max_len) or [PAD_ID + 1] for text in texts]
