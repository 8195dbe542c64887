"""The intent model: a small RNN classifier from free text to qa | chat | translate | summarize.

``IntentClassifier`` reads the message with a bidirectional GRU (``SentenceEncoder``) over its
subword tokens, adds the log of the message's length in tokens (a pasted paragraph is long even
when cut to ``max_len``) and predicts one of ``LABELS`` with a softmax. ``IntentPredictor``
returns the label, its probability, and for ``translate`` / ``summarize`` the text the request
is about (``extract_translation``, ``extract_summary_text``: the instruction words are removed
by rules, the target language is the one named or else the other language of the text).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.data.clean import has_cjk
from model.encoders import SentenceEncoder, pad_ids
from model.layers import PACKAGE
from model.prediction import Prediction
from model.tokenizer import PAD_ID, Tokenizer, normalize

LABELS = ("qa", "chat", "translate", "summarize")
CONFIG = "config.json"


@dataclass
class IntentConfig:
    vocab_size: int = 4000
    embed_dim: int = 64
    units: int = 64
    hidden: int = 64
    dropout: float = 0.1
    max_len: int = 64
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    min_confidence: float = 0.6  # below it, a prediction is not sure

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntentConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@keras.saving.register_keras_serializable(PACKAGE)
class IntentClassifier(keras.Model):
    """{"tokens": (B, T) int32, "length": (B, 1) float32} -> label probabilities (B, L)."""

    def __init__(self, vocab_size: int, embed_dim: int, units: int, hidden: int,
                 n_labels: int, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.units = units
        self.hidden = hidden
        self.n_labels = n_labels
        self.dropout_rate = dropout
        self.embedding = layers.Embedding(vocab_size, embed_dim, name="embedding")
        self.encoder = SentenceEncoder(units, hidden, "gru", dropout, normalize=False,
                                       name="encoder")
        self.classifier = layers.Dense(n_labels, activation="softmax", name="classifier")

    @classmethod
    def from_config_object(cls, config: IntentConfig) -> IntentClassifier:
        model = cls(config.vocab_size, config.embed_dim, config.units, config.hidden,
                    len(config.labels), config.dropout)
        model({"tokens": tf.ones((1, 8), tf.int32), "length": tf.ones((1, 1), tf.float32)})
        return model

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        tokens = inputs["tokens"]
        vector = self.encoder(self.embedding(tokens), tokens != PAD_ID, training=training)
        return self.classifier(tf.concat([vector, inputs["length"]], axis=-1))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "units": self.units,
            "hidden": self.hidden,
            "n_labels": self.n_labels,
            "dropout": self.dropout_rate,
        }


def intent_inputs(tokenizer: Tokenizer, texts: Sequence[str], max_len: int) -> dict[str, Any]:
    """Model inputs: the first ``max_len`` tokens and log(1 + length) / log(512) of the whole."""
    rows, lengths = [], []
    for text in texts:
        ids = tokenizer.encode(text) or [PAD_ID + 1]
        rows.append(ids[:max_len])
        lengths.append(math.log1p(len(ids)) / math.log(512))
    return {"tokens": pad_ids(rows), "length": np.array(lengths, np.float32)[:, None]}


# -- extraction ----------------------------------------------------------------------------------

_EN = r"(?:english|eng|en)"
_ZH = r"(?:chinese|mandarin|zh|simplified chinese|traditional chinese)"
_ZH_WORDS = r"(?:中文|汉语|漢語|华语|中国话|简体中文|繁体中文)"
_EN_WORDS = r"(?:英文|英语|英語)"
_TARGET_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("en", re.compile(rf"(?:中译英|中翻英|汉译英|翻译成{_EN_WORDS}|译成{_EN_WORDS}|翻成{_EN_WORDS}"
                      rf"|{_EN_WORDS}(?:怎么说|怎么讲|翻译|是什么)|的{_EN_WORDS})")),
    ("zh", re.compile(rf"(?:英译中|英翻中|英译汉|翻译成{_ZH_WORDS}|译成{_ZH_WORDS}|翻成{_ZH_WORDS}"
                      rf"|{_ZH_WORDS}(?:怎么说|怎么讲|翻译|是什么)|的{_ZH_WORDS})")),
    ("en", re.compile(rf"\b(?:in|into|to|for)\s+{_EN}\b|\b{_EN}\s+(?:for|translation|please)\b"
                      rf"|\btr\s+en\b|^\s*{_EN}\s*:", re.I)),
    ("zh", re.compile(rf"\b(?:in|into|to|for)\s+{_ZH}\b|\b{_ZH}\s+(?:for|translation|please)\b"
                      rf"|\btr\s+zh\b|^\s*{_ZH}\s*:", re.I)),
]
_QUOTED = re.compile(r"[\"“「『]([^\"“”「」『』]+?)[\"”」』]"
                     r"|(?<![A-Za-z])['‘]([^'‘’]+?)['’](?![A-Za-z])")
_LANGUAGE_ONLY = re.compile(rf"^(?:{_EN}|{_ZH}|{_ZH_WORDS}|{_EN_WORDS})[\s.?!。？！]*$", re.I)
_SEPARATOR = re.compile(r"[:：]|\s-\s|\s->\s|\n")
# instruction phrases removed when the text has no quote or separator to cut at
_INSTRUCTION_EN = re.compile(
    r"\b(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:help\s+me\s+)?"
    r"(?:translate|translation|tr)\b(?:\s+(?:this|that|the following|the sentence|this sentence|"
    r"it|for me|please))*|\bhow\s+(?:do|would|can|should)\s+(?:you|i|we)\s+say\b|"
    rf"\bwhat(?:'s|\s+is|\s+does)?(?:\s+the\s+{_EN}|\s+the\s+{_ZH})?(?:\s+for)?\b|\bsay\b|"
    rf"\b(?:{_EN}|{_ZH})\s+(?:translation|version)(?:\s+of)?\b|"
    rf"\b(?:in|into|to|for)\s+(?:{_EN}|{_ZH})\b|\bmean\b|\bplease\b|\bfor me\b|->", re.I)
_INSTRUCTION_ZH = re.compile(
    rf"(?:请|麻烦)?(?:你)?(?:帮我|帮忙)?(?:把)?(?:这句话|这句|下面的句子|下面这句|这段话|下面的话)?"
    rf"(?:翻译成|译成|翻成|翻译为|翻译一下|翻译)(?:{_ZH_WORDS}|{_EN_WORDS})?(?:是什么|怎么说)?"
    rf"|(?:用)?(?:{_ZH_WORDS}|{_EN_WORDS})(?:怎么说|怎么讲|翻译|是什么)|的(?:{_ZH_WORDS}|{_EN_WORDS})"
    r"(?:是什么|怎么说)?|中译英|英译中|中翻英|英翻中")
_SUMMARY_WORDS = re.compile(
    r"summar|tl;?dr|gist|short version|main point|condense|sum up|one line|in short|shorter|"
    r"brief|what is this (?:text )?about|总结|概括|摘要|要点|太长|主要内容|归纳|讲了什么", re.I)
_SUMMARY_KEYWORD = re.compile(r"^\s*(?:tl;?dr|summary|summari[sz]e|总结一下|总结|概括|摘要)"
                              r"(?:\s+please)?(?![\w\u4e00-\u9fff])[\s:：,.!。！-]*", re.I)
_SHORT_LEAD = re.compile(r"^[^:：\n]{0,30}[:：\n]")  # "this:", "the following text:"
_LEADING_SEGMENT = re.compile(r"^(.{0,80}?)(?:[:：\n]|[?？.。!！](?=\s|[^\x00-\x7f]))")
_TRAILING_SENTENCE = re.compile(r"(?<=[.。!！?？])\s*([^.。!！?？]{1,80}[.。!！?？]*)\s*$")


def target_language(text: str, payload: str) -> str:
    """The language named in the request ("en" / "zh"), else the other one of the payload."""
    for lang, pattern in _TARGET_PATTERNS:
        if pattern.search(text):
            return lang
    return "en" if has_cjk(payload) else "zh"


def extract_translation(text: str) -> tuple[str, str]:
    """(text to translate, target language) of a translation request.

    A quoted part wins; otherwise the part after a separator (colon, " - ", newline) when the
    part before it names the request; otherwise the message without its instruction words.
    """
    text = normalize(text)
    quoted = _QUOTED.search(text)
    if quoted and (quoted.group(1) or quoted.group(2) or "").strip():
        payload = (quoted.group(1) or quoted.group(2)).strip()
    else:
        payload = _after_separator(text) or _strip_instruction(text)
        payload = payload.strip(" \t\"'“”‘’「」?？。:：") or text
    return payload, target_language(text, payload)


def _after_separator(text: str) -> str:
    match = _SEPARATOR.search(text)
    if not match:
        return ""
    head, tail = text[: match.start()], text[match.end():].strip()
    if not tail:
        return ""
    if _LANGUAGE_ONLY.match(tail):  # "good night -> Chinese"
        return head.strip()
    if (_INSTRUCTION_EN.search(head) or _INSTRUCTION_ZH.search(head)
            or any(p.search(head) for _, p in _TARGET_PATTERNS)):
        return _strip_instruction(tail) if _INSTRUCTION_EN.search(tail) else tail
    return ""


def _strip_instruction(text: str) -> str:
    stripped = _INSTRUCTION_ZH.sub(" ", text) if has_cjk(text) else text
    stripped = _INSTRUCTION_EN.sub(" ", stripped)
    stripped = re.sub(r"\s+", " ", stripped).strip(" ,.!?？，。")
    return stripped


def extract_summary_text(text: str) -> str:
    """The paragraph of a summary request, without the instruction before or after it.

    A leading segment (up to a colon, a line break or the end of its first sentence) or a short
    last sentence is dropped when it speaks of summarizing ("tl;dr", "sum up", "总结一下").
    """
    body = text.strip()
    keyword = _SUMMARY_KEYWORD.match(body)
    if keyword:  # "tl;dr ...", "summarize this: ...", "总结一下：..."
        body = body[keyword.end():].strip()
        if not re.search(r"[:：\n]", keyword.group(0)):  # not already past the separator
            body = _SHORT_LEAD.sub("", body, count=1).strip()
    for _ in range(2):  # "Can you give me a short summary of the following? ..."
        match = _LEADING_SEGMENT.match(body)
        if not match or not _SUMMARY_WORDS.search(match.group(1) or body[: match.end()]):
            break
        body = body[match.end():].strip()
    match = _TRAILING_SENTENCE.search(body)
    if match and _SUMMARY_WORDS.search(match.group(1)):
        body = body[: match.start(1)].strip()
    return body or text.strip()


# -- prediction --------------------------------------------------------------------------------


class IntentPredictor:
    """A loaded intent version: classifier + extraction."""

    def __init__(self, model: IntentClassifier, tokenizer: Tokenizer, config: IntentConfig,
                 task: str = "intent", version: str = "candidate",
                 card: dict[str, Any] | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.task = task
        self.version = version
        self.card = card or {}
        self._lock = threading.Lock()
        spec = {"tokens": tf.TensorSpec([None, None], tf.int32),
                "length": tf.TensorSpec([None, 1], tf.float32)}
        self._forward = tf.function(lambda inputs: model(inputs), input_signature=[spec])

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), n_labels) label probabilities."""
        out = np.zeros((len(texts), len(self.config.labels)), np.float32)
        for start in range(0, len(texts), 256):
            inputs = intent_inputs(self.tokenizer, texts[start : start + 256],
                                   self.config.max_len)
            with self._lock:
                out[start : start + 256] = self._forward(inputs).numpy()
        return out

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label, confidence and the extracted text of each message (sure from the version's
        ``min_confidence`` on)."""
        texts = [normalize(str(t)) if "\n" not in str(t) else str(t).strip() for t in texts]
        probs = self.probabilities(texts) if texts else np.zeros((0, 0))
        out = []
        for text, row in zip(texts, probs, strict=True):
            label = self.config.labels[int(np.argmax(row))]
            payload, target = text, None
            if label == "translate":
                payload, target = extract_translation(text)
            elif label == "summarize":
                payload = extract_summary_text(text)
            confidence = float(row.max())
            out.append(Prediction(payload, confidence, self.task, self.version,
                                  confidence >= self.config.min_confidence, label, target))
        return out

    def warm_up(self, max_batch: int) -> None:
        """Trace the classifier on one short text."""
        self.predict(["hello"])


# -- version files -----------------------------------------------------------------------------


def save_intent(predictor: IntentPredictor, directory: Path) -> int:
    from model.artifact import save_weights

    size = save_weights(predictor.model, directory)
    (Path(directory) / CONFIG).write_text(json.dumps(predictor.config.to_dict(), indent=2),
                                          encoding="utf-8")
    predictor.tokenizer.save(directory)
    return size


def load_intent_dir(directory: Path, task: str = "intent", version: str | None = None,
                    card: dict[str, Any] | None = None) -> IntentPredictor:
    from model.artifact import load_weights_into

    directory = Path(directory)
    config = IntentConfig.from_dict(json.loads((directory / CONFIG).read_text(encoding="utf-8")))
    model = IntentClassifier.from_config_object(config)
    load_weights_into(model, directory)
    if card is None and (directory / "card.json").is_file():
        card = json.loads((directory / "card.json").read_text(encoding="utf-8"))
    name = version or str((card or {}).get("version") or directory.name)
    return IntentPredictor(model, Tokenizer.load(directory), config, task, name, card)

