"""Hyper-parameters of an encoder-decoder (no TensorFlow import, so the CLI and data tools
stay fast to start)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ModelConfig:
    """Hyper-parameters of one encoder-decoder."""

    vocab_size: int = 8000
    embed_dim: int = 128
    encoder_units: int = 192
    decoder_units: int = 256
    dropout: float = 0.1
    copy: bool = False
    # Activation of the attention "combine" layer (see model/layers.py AttentionDecoder).
    combine_activation: str = "relu"
    max_source_len: int = 64
    max_target_len: int = 48
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known.setdefault("combine_activation", "tanh")  # versions saved before the field existed
        return cls(**known)
