"""English word substitutes from Princeton WordNet 3.0 (Debian ``wordnet-base``).

The qa dual encoder sees few ways of saying the same thing: a user asks "which creature makes
the biggest noise" where the bank says "what is the loudest animal". WordNet lists, for each
sense of a word, its synonyms and related words; the qa training turns them into question
paraphrases by replacing words (synonym replacement as in EDA, Wei & Zou 2019).

Rows are ``(word, substitute, "wordnet/<pos>/<relation>")``:

* ``syn``: another word of one of the word's ``senses`` most frequent senses (default: the
  first; later senses are mostly rare ones, loud -> gaudy);
* ``similar``: an adjective "similar to" the first sense (big -> huge);
* ``hypernym`` / ``hyponym``: a word one level more general / more specific than the first
  sense of a noun or verb (giggle -> laugh, laugh -> giggle), at most ``MAX_HYPONYMS`` more
  specific ones;
* ``base``: an irregular inflection and its base form from the exception lists
  (biggest -> big), so that inflected words find their substitutes.

A word is only read in its most usual part of speech (the most tagged senses in SemCor:
"call" as a verb, not as the noun "telephone call"). Multi-word lemmas keep their words
("get to", "animate being"); lemmas of more than ``MAX_WORDS`` words are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from model.data.readers import Row

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
MAX_WORDS = 3
MAX_HYPONYMS = 8
_MARKER = re.compile(r"\([a-z]+\)$")  # adjective position markers: big(a), galore(ip)


def _lemma(word: str) -> str:
    return _MARKER.sub("", word).replace("_", " ").lower()


def read_synsets(path: Path) -> dict[str, tuple[list[str], list[tuple[str, str]]]]:
    """``offset -> (words, [(pointer symbol, target offset)])`` of one ``data.<pos>`` file.

    Pointers to other parts of speech are dropped; satellite adjectives (``s``) live in
    ``data.adj`` with the head adjectives, so offsets stay unique within one file.
    """
    synsets: dict[str, tuple[list[str], list[tuple[str, str]]]] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line or line.startswith(" "):  # licence header lines start with two spaces
            continue
        fields = line.split(" | ", 1)[0].split()
        offset, count = fields[0], int(fields[3], 16)
        words = [_lemma(fields[4 + 2 * i]) for i in range(count)]
        at = 4 + 2 * count
        pointers = []
        for i in range(int(fields[at])):
            symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
            if pos == fields[2] or (pos in "as" and fields[2] in "as"):
                pointers.append((symbol, target))
        synsets[offset] = (words, pointers)
    return synsets


def read_index(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """``(lemma, synset offsets (most frequent sense first), tagged sense count)`` of one
    ``index.<pos>`` file; the count says how often the lemma was seen in this part of speech
    in the SemCor corpus."""
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line or line.startswith(" "):
            continue
        fields = line.split()
        senses, pointer_count = int(fields[2]), int(fields[3])
        offsets = fields[6 + pointer_count :]
        if len(offsets) == senses:
            yield _lemma(fields[0]), offsets, int(fields[5 + pointer_count])


def wordnet_rows(root: Path, senses: int = 1) -> list[Row]:
    """Substitute rows for every lemma of WordNet's database folder ``root`` (holding
    ``index.noun``, ``data.noun``, ``noun.exc`` ...), deduplicated, in file order."""
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()

    def add(word: str, other: str, group: str) -> None:
        if other != word and len(other.split()) <= MAX_WORDS and (word, other) not in seen:
            seen.add((word, other))
            rows.append((word, other, group))

    usual: dict[str, tuple[int, str]] = {}  # lemma -> (tagged count, its most usual pos)
    for pos, name in POS_FILES.items():
        for lemma, _, tagged in read_index(root / f"index.{name}"):
            if tagged > usual.get(lemma, (-1, ""))[0]:
                usual[lemma] = (tagged, pos)
    for pos, name in POS_FILES.items():
        synsets = read_synsets(root / f"data.{name}")
        for lemma, offsets, _ in read_index(root / f"index.{name}"):
            if len(lemma.split()) > MAX_WORDS or usual[lemma][1] != pos:
                continue
            for offset in offsets[:senses]:
                for other in synsets.get(offset, ([], []))[0]:
                    add(lemma, other, f"wordnet/{pos}/syn")
            pointers = synsets.get(offsets[0], ([], []))[1]
            relations = {"&": "similar"} if pos == "a" else {"@": "hypernym", "~": "hyponym"}
            hyponyms = 0
            for symbol, target in pointers:
                if symbol not in relations:
                    continue
                for other in synsets.get(target, ([], []))[0]:
                    if symbol == "~":
                        hyponyms += 1
                        if hyponyms > MAX_HYPONYMS:
                            break
                    add(lemma, other, f"wordnet/{pos}/{relations[symbol]}")
        exceptions = root / f"{name}.exc"
        if exceptions.is_file():
            for line in exceptions.read_text(encoding="latin-1").splitlines():
                forms = [_lemma(w) for w in line.split()]
                if len(forms) >= 2:
                    add(forms[0], forms[1], f"wordnet/{pos}/base")
    return rows
