"""A loaded sequence-to-sequence version (translate, chat, summarize): ``predict(texts)``.

All texts passed to one ``predict`` call are decoded together in one compiled graph call (per
chunk of ``max_batch``), which is what the bot's micro-batching relies on. A translate version
answers short inputs (one to four words or characters) that are exactly a CC-CEDICT entry
from the dictionary (:mod:`model.dictionary`), marked ``" (dictionary)"``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.prediction import Prediction
from model.seq2seq import CompiledDecoder, Seq2Seq
from model.seq2seq_config import ModelConfig
from model.task_specs import TaskSpec
from model.tokenizer import EOS_ID, PAD_ID, Tokenizer, normalize, utf8_tables


class Predictor:
    """A loaded model version with its tokenizer and compiled batched decoder."""

    def __init__(
        self,
        model: Seq2Seq,
        tokenizer: Tokenizer,
        config: ModelConfig,
        spec: TaskSpec,
        version: str,
        card: dict[str, Any] | None = None,
        beam_size: int | None = None,
        max_batch: int = 64,
        jit_compile: bool = True,  # XLA is 2-3x faster per request here (bench/decode.py)
        dictionary: bool | None = None,  # short-input lookup; default: translate tasks only
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.spec = spec
        self.task = spec.name
        self.version = version
        self.card = card or {}
        self.beam_size = spec.beam_size if beam_size is None else beam_size
        self.max_batch = max_batch
        self.jit_compile = jit_compile
        self.dictionary = spec.kind == "translate" if dictionary is None else dictionary
        self.decoder = CompiledDecoder(
            model, config.max_target_len, beam_size=max(self.beam_size, 1),
            jit_compile=jit_compile, utf8=utf8_tables(tokenizer.byte_values), **spec.decoding,
        )
        self._lock = threading.Lock()  # one decode at a time per model; TF releases the GIL

    def encode_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, list[list[str]]]:
        """Pad tokenized sources to one (B, S) array (S rounded up to a multiple of 8)."""
        rows, originals = [], []
        for text in texts:
            ids, found = self.tokenizer.encode_masked(text, self.config.max_source_len - 1)
            rows.append([*ids, EOS_ID])
            originals.append(found)
        width = max(len(r) for r in rows)
        width = int(math.ceil(width / 8) * 8)
        height = len(rows)
        if self.jit_compile:  # XLA compiles once per shape: round the batch up to a power of two
            height = 1 << (height - 1).bit_length()
            rows += [[EOS_ID]] * (height - len(rows))
        batch = np.full((height, width), PAD_ID, np.int32)
        for i, row in enumerate(rows):
            batch[i, : len(row)] = row
        return batch, originals

    def _lookup(self, text: str) -> Prediction | None:
        """The dictionary's answer for a short input, with confidence 1."""
        from model.dictionary import lookup

        source_lang = "zh" if self.spec.target_lang == "en" else "en"
        entry = lookup(text, source_lang)
        if entry is None:
            return None
        return Prediction(entry.text, 1.0, self.task, self.version, sure=True)

    def predict(self, texts: Sequence[str], beam: bool | None = None,
                dictionary: bool | None = None) -> list[Prediction]:
        """Decode every text; empty inputs get an empty prediction with confidence 0.
        ``dictionary``: answer short inputs from the dictionary (default: ``self.dictionary``).
        """
        texts = [normalize(str(t)) for t in texts]
        results: list[Prediction | None] = [None] * len(texts)
        use_dictionary = self.dictionary if dictionary is None else dictionary
        for i, text in enumerate(texts):
            if not text:
                results[i] = Prediction("", 0.0, self.task, self.version, sure=False)
            elif use_dictionary:
                results[i] = self._lookup(text)
        todo = [i for i, r in enumerate(results) if r is None]
        use_beam = (self.beam_size > 1) if beam is None else beam
        for start in range(0, len(todo), self.max_batch):
            chunk = todo[start : start + self.max_batch]
            source, originals = self.encode_batch([texts[i] for i in chunk])
            with self._lock:
                fn = self.decoder.beam if use_beam else self.decoder.greedy
                ids, lengths, scores = (x.numpy() for x in fn(source))
            for row, index in enumerate(chunk):
                length = int(lengths[row])
                text = self.tokenizer.decode_unmasked(ids[row, :length], originals[row])
                mean_lp = float(scores[row]) / max(length, 1)
                confidence = math.exp(mean_lp)
                results[index] = Prediction(
                    text, confidence, self.task, self.version,
                    sure=bool(text) and confidence >= self.spec.min_confidence)
        return [r for r in results if r is not None]

    def warm_up(self, max_batch: int) -> None:
        """Trace the decoder on one short text (XLA compiles other batch shapes on first use);
        a translate version also loads its dictionary."""
        self.predict(["hello"], dictionary=False)
        if self.dictionary:
            from model.dictionary import default_dictionary

            default_dictionary()


def load_seq2seq_dir(directory: Path, spec: TaskSpec, version: str,
                     card: dict[str, Any] | None = None, jit_compile: bool = True,
                     beam_size: int | None = None) -> Predictor:
    """Build the predictor of a version directory: model, weights, tokenizer."""
    from model.artifact import load_model

    model, tokenizer, config = load_model(directory)
    return Predictor(model, tokenizer, config, spec, version, card,
                     beam_size=beam_size, jit_compile=jit_compile)
