"""Subword tokenizer (SentencePiece) shared by every model, with catalog placeholder handling.

Catalog strings carry printf/format placeholders (``%s``, ``%1$d``, ``%(name)s``, ``{0}``,
``{name}``). They must survive translation verbatim, so before encoding each one is replaced by
an indexed placeholder token (``<ph0>``, ``<ph1>`` ...) that the model learns to copy, and after
decoding the tokens are mapped back to the original placeholders.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import re2
import sentencepiece as spm

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
MAX_PLACEHOLDERS = 8
PLACEHOLDER_TOKENS = [f"<ph{i}>" for i in range(MAX_PLACEHOLDERS)]
# Task / target-language control tokens, reserved in every vocabulary.
CONTROL_TOKENS = ["<2en>", "<2zh>", "<chat>", "<sum>", "<qa>"]

# The printf / str.format placeholders that models learn to copy. (model.data.clean has a broader
# pattern, incl. LibreOffice's %PRODUCTNAME, used only to protect text while cleaning; changing
# this one changes what trained tokenizers expect, so it is versioned with the models.)
# RE2 (linear time on any text: Python's re took 0.7 s on 4,096 characters of "%000..."); \p{Nd}
# is what Python's \d matches, WHITESPACE (an RE2 class body) what its \s matches.
_PLACEHOLDER_RE = re2.compile(
    r"%(?:\p{Nd}+\$)?[-+#0]*\p{Nd}*(?:\.\p{Nd}+)?[hlLqjzt]*[sdifuxXeEgGcpo]"  # printf: %s %1$d
    r"|%\([A-Za-z_][A-Za-z0-9_]*\)[sdifr]"  # python: %(name)s
    r"|\{[A-Za-z0-9_]*(?:![rsa])?(?::[^{}]*)?\}"  # str.format: {0} {name} {} {0:>3}
)
_PH_TOKEN_RE = re2.compile(r"<ph(\p{Nd})>")
WHITESPACE = (r"\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
              r"\x{202f}\x{205f}\x{3000}")
_SPACES_RE = re2.compile(f"[{WHITESPACE}]+")


def normalize(text: str) -> str:
    """Collapse runs of whitespace (incl. newlines) to one space and trim; nothing else changes."""
    return _SPACES_RE.sub(" ", text).strip()


def mask_placeholders(text: str) -> tuple[str, list[str]]:
    """Replace placeholders by ``<phK>`` tokens; return the masked text and the originals."""
    found: list[str] = []

    def _sub(match: re2._Match) -> str:
        if len(found) >= MAX_PLACEHOLDERS:
            return match.group(0)
        found.append(match.group(0))
        return f"<ph{len(found) - 1}>"

    masked = _PLACEHOLDER_RE.sub(_sub, text)
    return masked, found


def unmask_placeholders(text: str, originals: list[str]) -> str:
    """Put the original placeholders back where the model emitted ``<phK>`` tokens."""

    def _sub(match: re2._Match) -> str:
        index = int(match.group(1))
        return originals[index] if index < len(originals) else ""

    return _PH_TOKEN_RE.sub(_sub, text)


@dataclass(frozen=True)
class TokenizerSpec:
    vocab_size: int = 8000
    model_type: str = "unigram"
    character_coverage: float = 0.9995


class Tokenizer:
    """A trained SentencePiece model plus the project's special-token conventions."""

    FILENAME = "tokenizer.model"

    def __init__(self, model_proto: bytes) -> None:
        self._proto = model_proto
        self._sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.control_ids = {tok: self._sp.piece_to_id(tok) for tok in CONTROL_TOKENS}

    @property
    def vocab_size(self) -> int:
        return int(self._sp.get_piece_size())

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        spec: TokenizerSpec = TokenizerSpec(),
        max_sentences: int = 300_000,
    ) -> Tokenizer:
        """Train a SentencePiece model on an iterable of texts (placeholders masked first)."""
        sentences = []
        for text in texts:
            masked, _ = mask_placeholders(normalize(text))
            if masked:
                sentences.append(masked)
        if not sentences:
            raise ValueError("cannot train a tokenizer on no text")
        # SentencePiece cannot have a vocabulary larger than the distinct pieces it sees.
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            vocab_size=spec.vocab_size,
            model_type=spec.model_type,
            character_coverage=spec.character_coverage,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            user_defined_symbols=PLACEHOLDER_TOKENS + CONTROL_TOKENS,
            byte_fallback=True,
            normalization_rule_name="identity",
            remove_extra_whitespaces=True,
            split_digits=True,
            input_sentence_size=max_sentences,
            shuffle_input_sentence=True,
            hard_vocab_limit=False,
            minloglevel=2,
            num_threads=2,
        )
        return cls(model.getvalue())

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        path = Path(directory) / self.FILENAME
        path.write_bytes(self._proto)
        return path

    @classmethod
    def load(cls, directory: Path) -> Tokenizer:
        return cls((Path(directory) / cls.FILENAME).read_bytes())

    @staticmethod
    def copy(src_dir: Path, dst_dir: Path) -> None:
        shutil.copyfile(Path(src_dir) / Tokenizer.FILENAME, Path(dst_dir) / Tokenizer.FILENAME)

    # -- encoding ----------------------------------------------------------------------------
    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Ids of ``text`` (already placeholder-masked or plain), without BOS/EOS."""
        ids: list[int] = self._sp.encode(normalize(text), out_type=int)
        return ids[:max_len] if max_len is not None else ids

    def decode(self, ids: Iterable[int]) -> str:
        keep = [int(i) for i in ids if int(i) > EOS_ID]
        return str(self._sp.decode(keep))

    def encode_masked(self, text: str, max_len: int | None = None) -> tuple[list[int], list[str]]:
        masked, originals = mask_placeholders(normalize(text))
        return self.encode(masked, max_len), originals

    def decode_unmasked(self, ids: Iterable[int], originals: list[str]) -> str:
        return normalize(unmask_placeholders(self.decode(ids), originals))

    def id_to_piece(self, i: int) -> str:
        return str(self._sp.id_to_piece(int(i)))


def mask_like(text: str, originals: list[str]) -> str:
    """Mask the placeholders of ``text`` that also occur in ``originals`` (a translation's source),
    so a target uses the same ``<phK>`` index as the source placeholder it corresponds to."""

    def _sub(match: re2._Match) -> str:
        token = match.group(0)
        return f"<ph{originals.index(token)}>" if token in originals else token

    return _PLACEHOLDER_RE.sub(_sub, text)
