"""Subword tokenizer (SentencePiece) shared by every model, with catalog placeholder handling.

Output is decoded at character boundaries: SentencePiece's byte fallback spells a character the
vocabulary lacks as its UTF-8 bytes (``<0xE6><0x97><0xB6>`` = 时), and a decoder can emit a run
of byte pieces that is not UTF-8 (a lead byte without its continuation bytes, a stray
continuation byte), which ``SentencePieceProcessor.decode`` renders as U+FFFD. ``utf8_tables``
gives the decoders what they need to never emit such a run (``model.seq2seq``), and
``Tokenizer.decode`` drops any byte piece that is not part of a complete, valid UTF-8 sequence,
so no output ever holds U+FFFD or half a character, whichever decoder produced the ids.

Catalog strings carry printf/format placeholders (``%s``, ``%1$d``, ``%(name)s``, ``{0}``,
``{name}``). They must survive translation verbatim, so before encoding each one is replaced by
an indexed placeholder token (``<ph0>``, ``<ph1>`` ...) that the model learns to copy, and after
decoding the tokens are mapped back to the original placeholders.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import re2
import sentencepiece as spm

if TYPE_CHECKING:  # numpy is imported where it is used: importing model.api loads none of it
    import numpy as np

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
        import numpy as np

        # id -> the byte a byte-fallback piece stands for (``<0xE6>`` -> 0xE6), -1 otherwise
        self.byte_values = np.full(self.vocab_size, -1, np.int32)
        for i in range(self.vocab_size):
            if self._sp.is_byte(i):
                self.byte_values[i] = int(self._sp.id_to_piece(i)[3:5], 16)

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
        """The text of ``ids`` (PAD, UNK, BOS and EOS skipped), at character boundaries: byte
        pieces that do not form complete UTF-8 characters are left out, never shown as U+FFFD."""
        keep = [int(i) for i in ids if int(i) > EOS_ID]
        keep = [keep[i] for i in well_formed_bytes(keep, self.byte_values)]
        return str(self._sp.decode(keep)).replace("\ufffd", "")

    def encode_masked(self, text: str, max_len: int | None = None) -> tuple[list[int], list[str]]:
        masked, originals = mask_placeholders(normalize(text))
        return self.encode(masked, max_len), originals

    def decode_unmasked(self, ids: Iterable[int], originals: list[str]) -> str:
        return normalize(unmask_placeholders(self.decode(ids), originals))

    def id_to_piece(self, i: int) -> str:
        return str(self._sp.id_to_piece(int(i)))


def _utf8_length(lead: int) -> int:
    """Bytes in the UTF-8 sequence that ``lead`` starts (0: ``lead`` cannot start one)."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def well_formed_bytes(ids: Sequence[int], byte_values: np.ndarray) -> list[int]:
    """Positions in ``ids`` to keep: every non-byte piece, and the byte pieces that form
    complete, valid UTF-8 sequences (Python's strict decoder: no overlong forms, surrogates or
    code points above U+10FFFF); a lead byte without all its continuation bytes and a stray
    continuation byte are dropped, one byte at a time, as a UTF-8 decoder's error recovery."""
    keep: list[int] = []
    i, n = 0, len(ids)
    vocab = len(byte_values)
    while i < n:
        value = int(byte_values[ids[i]]) if 0 <= ids[i] < vocab else -1
        if value < 0:
            keep.append(i)
            i += 1
            continue
        size = _utf8_length(value)
        run = [int(byte_values[j]) if 0 <= j < vocab else -1 for j in ids[i : i + size]]
        if size and len(run) == size and min(run) >= 0:
            try:
                bytes(run).decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                keep.extend(range(i, i + size))
                i += size
                continue
        i += 1  # not the start of a complete character: drop this byte
    return keep


def utf8_tables(byte_values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-id tables for decoding that only ever emits whole UTF-8 characters.

    ``need``: continuation bytes a lead byte piece requires (0 for other ids); ``low`` /
    ``high``: the range of its first continuation byte (Unicode's table of well-formed
    sequences: E0 A0..BF, ED 80..9F, F0 90..BF, F4 80..8F, else 80..BF); ``cont``: the id is a
    continuation byte piece (0x80..0xBF); ``never``: a byte that starts no valid sequence
    (C0, C1, F5..FF). A decoder tracks per hypothesis how many continuation bytes are still due
    and their allowed range: while some are due only continuation bytes in range may follow
    (not EOS, not a word piece); otherwise no continuation byte and no ``never`` byte may.
    """
    import numpy as np

    size = len(byte_values)
    need = np.zeros(size, np.int32)
    low = np.full(size, 0x80, np.int32)
    high = np.full(size, 0xBF, np.int32)
    cont = np.zeros(size, bool)
    never = np.zeros(size, bool)
    first_range = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF),
                   0xF4: (0x80, 0x8F)}
    for i, value in enumerate(byte_values.tolist()):
        if value < 0:
            continue
        if 0x80 <= value <= 0xBF:
            cont[i] = True
        elif _utf8_length(value) == 0:
            never[i] = True
        else:
            need[i] = _utf8_length(value) - 1
            low[i], high[i] = first_range.get(value, (0x80, 0xBF))
    return {"byte": byte_values.astype(np.int32), "need": need, "low": low, "high": high,
            "cont": cont, "never": never}


def mask_like(text: str, originals: list[str]) -> str:
    """Mask the placeholders of ``text`` that also occur in ``originals`` (a translation's source),
    so a target uses the same ``<phK>`` index as the source placeholder it corresponds to."""

    def _sub(match: re2._Match) -> str:
        token = match.group(0)
        return f"<ph{originals.index(token)}>" if token in originals else token

    return _PLACEHOLDER_RE.sub(_sub, text)
