"""Back-translation (Sennrich et al. 2016): everyday English -> synthetic Chinese, as extra
Chinese -> English training pairs whose English side is real.

    python -m model.backtranslate --limit 6000

English turns of the chat corpus (``<data>/tasks/chat/train.tsv``, first column: chitchat and
chatterbot conversations) of 3-12 words are translated by the current ``translate-en-zh``
version; pairs whose output has no Chinese, keeps Latin letters, holds U+FFFD, repeats itself
or has an implausible length are dropped, and so is anything matching the held-out everyday
sets. The result is
written as ``<data>/tasks/translate-backtranslated/train.tsv`` (English<TAB>Chinese, the
column order of the translation corpus), which ``translate-zh-en`` mixes into its training
(:data:`model.task_specs.BACKTRANSLATED`); ``translate-en-zh`` never trains on it.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import re2

from model.data.clean import has_cjk, length_ratio_ok, word_count
from model.data.everyday import drop_heldout, heldout_keys
from model.data.readers import read_tsv, write_tsv

CORPUS = "translate-backtranslated"
_ENGLISH = re2.compile(r"^[A-Za-z][A-Za-z0-9 ,.'!?-]*$")


def english_turns(chat_train: Path, low: int = 3, high: int = 12) -> list[str]:
    """Distinct English turns of ``low``-``high`` words, plain letters and punctuation only."""
    seen: set[str] = set()
    out: list[str] = []
    for source, _reply in read_tsv(chat_train):
        text = " ".join(source.split())
        if low <= word_count(text) <= high and _ENGLISH.match(text) and text not in seen:
            seen.add(text)
            out.append(text)
    return out


def keep_pair(english: str, chinese: str) -> bool:
    """A synthetic pair worth training on."""
    if not chinese or "\ufffd" in chinese or not has_cjk(chinese):
        return False
    if re.search(r"[A-Za-z]", chinese):  # English left untranslated: the model did not know
        return False
    grams = [chinese[i : i + 3] for i in range(len(chinese) - 2)]
    if len(grams) != len(set(grams)):  # a decoder loop
        return False
    return length_ratio_ok(english, chinese)


def backtranslate(
    texts: Sequence[str], translate: Callable[[list[str]], list[str]], batch: int = 64
) -> list[tuple[str, str]]:
    """``(english, synthetic chinese)`` pairs that pass :func:`keep_pair`."""
    pairs: list[tuple[str, str]] = []
    for start in range(0, len(texts), batch):
        chunk = list(texts[start : start + batch])
        for english, chinese in zip(chunk, translate(chunk), strict=True):
            if keep_pair(english, chinese):
                pairs.append((english, chinese))
    return pairs


def _rows(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    return [(e, z, "bt") for e, z in pairs]


def main(argv: list[str] | None = None) -> int:
    from model.predictor import load_seq2seq
    from model.settings import settings_from_env

    parser = argparse.ArgumentParser(prog="python -m model.backtranslate")
    parser.add_argument("--limit", type=int, default=6000, help="English turns to translate")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--greedy", action="store_true")
    args = parser.parse_args(argv)
    settings = settings_from_env()
    data = settings.data_dir
    turns = english_turns(data / "tasks" / "chat" / "train.tsv")
    keys = heldout_keys()
    turns = [t for t, _z, _g in drop_heldout(((t, t, "") for t in turns), keys)]
    random.Random(args.seed).shuffle(turns)
    turns = turns[: args.limit]
    model = load_seq2seq("translate-en-zh", settings)
    started = time.monotonic()

    def translate(chunk: list[str]) -> list[str]:
        return [p.text for p in model.predict(chunk, beam=not args.greedy, dictionary=False)]

    pairs = backtranslate(turns, translate)
    rows = drop_heldout(_rows(pairs), keys)
    out = data / "tasks" / CORPUS / "train.tsv"
    count = write_tsv(out, ((e, z) for e, z, _g in rows))
    print(f"{count} of {len(turns)} turns kept, by {model.version}, "
          f"in {time.monotonic() - started:.0f}s -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
