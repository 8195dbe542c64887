"""The qa pairs added and removed at run time, kept with the bot's data (not with the model)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from model.registry import _atomic_write_text

OVERLAY = "qa_overlay.json"


@dataclass
class Overlay:
    """Pairs added and removed at run time, kept with the bot's data (not with the model)."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str | None]] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)  # pair fingerprints: never served again

    @classmethod
    def load(cls, directory: Path | None) -> Overlay:
        path = Path(directory) / OVERLAY if directory else None
        if path is None or not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([(q, a) for q, a in data.get("added", [])],
                   [(q, a) for q, a in data.get("removed", [])],
                   [str(f) for f in data.get("forgotten", [])])

    def save(self, directory: Path) -> None:
        data = {"added": [list(p) for p in self.added], "removed": [list(p) for p in self.removed],
                "forgotten": self.forgotten}
        text = json.dumps(data, ensure_ascii=False, indent=1)
        _atomic_write_text(Path(directory) / OVERLAY, text)
