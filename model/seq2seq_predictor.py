"""A loaded sequence-to-sequence version (translate, chat, summarize): ``predict(texts)``.

All texts passed to one ``predict`` call are decoded together in one compiled graph call (per
chunk of ``max_batch``), which is what the bot's micro-batching relies on. A translate version
answers short inputs (one to four words or characters) that are exactly a CC-CEDICT entry
from the dictionary (:mod:`model.dictionary`), marked ``" (dictionary)"``.

With XLA, each new input shape (batch rounded up to a power of two, length to a multiple of 8)
costs a compilation of one to several seconds. A shape not compiled yet is decoded by the plain
graph (``tf.function`` without XLA: traced once for every shape, 2-3x slower per call) while a
niced background thread compiles it with XLA once the process has had no request for
``COMPILE_WHEN_IDLE_S`` (any model's ``predict``; under steady load the graph keeps serving);
once compiled, XLA serves that shape. So neither loading a model nor a request waits for XLA.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.prediction import Prediction, idle_seconds, note_request
from model.seq2seq import CompiledDecoder, Seq2Seq
from model.seq2seq_config import ModelConfig
from model.task_specs import TaskSpec
from model.tokenizer import EOS_ID, PAD_ID, Tokenizer, normalize, utf8_tables

log = logging.getLogger(__name__)

COMPILER_NICE = 10  # the background XLA compilations yield to serving
# ... and wait for a pause in the requests: a compilation holds the GIL for much of its one to
# several seconds (tracing is Python), which the qa tail paid for under load (README,
# "Question answering and routing without TensorFlow"); under steady load the graph serves.
COMPILE_WHEN_IDLE_S = 1.0


class _Compiler:
    """One background thread that compiles (predictor, decoding, shape) with XLA, in order.

    At exit the thread is stopped before the interpreter finalizes: TensorFlow torn down under
    a compilation in progress kills the process (SIGSEGV, or "terminate called after throwing"),
    which a command such as ``python -m model evaluate`` would report as its own failure."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Predictor, str, tuple[int, int]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def submit(self, predictor: Predictor, kind: str, shape: tuple[int, int]) -> None:
        with self._lock:
            if self._stopped:
                return
            if self._thread is None or not self._thread.is_alive():
                if self._thread is None:
                    atexit.register(self.stop)
                self._thread = threading.Thread(target=self._run, name="xla-compile",
                                                daemon=True)
                self._thread.start()
        self._queue.put((predictor, kind, shape))

    def stop(self, timeout: float = 300.0) -> None:
        """Drop the shapes still queued and wait for the compilation under way (at exit)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is None or not thread.is_alive():
            return
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        self._queue.put(None)
        thread.join(timeout)

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), COMPILER_NICE)
        while True:
            item = self._queue.get()
            if item is None:
                return
            predictor, kind, shape = item
            while idle_seconds() < COMPILE_WHEN_IDLE_S:  # serving first
                if self._stopped:
                    return
                time.sleep(0.05)
            started = time.perf_counter()
            try:
                source = np.full(shape, EOS_ID, np.int32)
                getattr(predictor.decoder, kind)(source)[0].numpy()
            except Exception:
                log.exception("XLA compilation of %s %s %s failed; the graph keeps serving it",
                              predictor.task, kind, shape)
                continue
            predictor.compiled.add((kind, shape))
            log.info("compiled %s %s for shape %s with XLA in %.1f s", predictor.task, kind,
                     shape, time.perf_counter() - started)


COMPILER = _Compiler()


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
        # shapes XLA has not compiled yet are decoded by the plain graph (module docstring)
        self.graph_decoder = CompiledDecoder(
            model, config.max_target_len, beam_size=max(self.beam_size, 1),
            jit_compile=False, utf8=utf8_tables(tokenizer.byte_values), **spec.decoding,
        ) if jit_compile else self.decoder
        self.compiled: set[tuple[str, tuple[int, int]]] = set()  # (kind, shape) XLA has
        self._queued: set[tuple[str, tuple[int, int]]] = set()
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
        note_request()
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
            kind = "beam" if use_beam else "greedy"
            fn = getattr(self._decoder_for(kind, (int(source.shape[0]), int(source.shape[1]))),
                         kind)
            with self._lock:
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

    def _decoder_for(self, kind: str, shape: tuple[int, int]) -> CompiledDecoder:
        """XLA's decoder once it has compiled the shape; until then the graph's, and the shape
        goes to the background compiler."""
        if not self.jit_compile or (kind, shape) in self.compiled:
            return self.decoder
        if (kind, shape) not in self._queued:
            self._queued.add((kind, shape))
            COMPILER.submit(self, kind, shape)
        return self.graph_decoder

    def warm_up(self, max_batch: int) -> None:
        """Trace the graph decoder on one short text; XLA compiles that shape in the
        background, and every other shape on its first use (module docstring). A translate
        version starts parsing its dictionary in the background (a short input waits for it,
        a long one does not)."""
        self.predict(["hello"], dictionary=False)
        if self.dictionary:
            from model.dictionary import load_in_background

            load_in_background()


def load_seq2seq_dir(directory: Path, spec: TaskSpec, version: str,
                     card: dict[str, Any] | None = None, jit_compile: bool = True,
                     beam_size: int | None = None) -> Predictor:
    """Build the predictor of a version directory: model, weights, tokenizer."""
    from model.artifact import load_model

    model, tokenizer, config = load_model(directory)
    return Predictor(model, tokenizer, config, spec, version, card,
                     beam_size=beam_size, jit_compile=jit_compile)
