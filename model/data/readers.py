"""Readers and writers for users' own data, and the deterministic group-aware splitter.

* ``read_tsv`` / ``write_tsv``: ``source<TAB>target`` files, UTF-8 (a BOM is accepted), LF or
  CRLF, ``#`` comment lines and blank lines ignored.
* ``read_chatterbot_yaml``: the chatterbot-corpus YAML format.
* ``split_pairs``: train/dev/test by hash of a group id, with cross-split de-duplication.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from model.data.clean import collapse_whitespace, normalize_key

Pair = tuple[str, str]
Row = tuple[str, str, str]  # source, target, group

DEFAULT_MAX_HELDOUT = 2000


# --- TSV ---------------------------------------------------------------------------------------


def _parse_tsv_line(line: str, lineno: int, path: Path, columns: int) -> tuple[str, ...]:
    """Split one non-comment line into exactly ``columns`` non-empty fields."""
    fields = line.split("\t")
    if len(fields) != columns:
        raise ValueError(
            f"{path}:{lineno}: expected {columns} tab-separated columns, found {len(fields)}"
        )
    if not all(f.strip() for f in fields[:2]):
        raise ValueError(f"{path}:{lineno}: empty source or target field")
    return tuple(fields)


def _iter_tsv(path: Path, columns: int, comments: bool = True) -> Iterable[tuple[str, ...]]:
    """Yield parsed rows of a UTF-8 TSV file (BOM, CRLF and blank lines handled; ``#`` lines
    skipped when ``comments``)."""
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or (comments and line.lstrip().startswith("#")):
                continue
            yield _parse_tsv_line(line, lineno, Path(path), columns)


def read_tsv(path: str | Path) -> list[Pair]:
    """Read ``source<TAB>target`` pairs.

    Blank lines and lines starting with ``#`` are skipped. Raises ``ValueError`` naming the
    file and line number when a line does not have exactly two non-empty fields.
    """
    return [(s.strip(), t.strip()) for s, t in _iter_tsv(Path(path), 2)]


def read_tsv_rows(path: str | Path, comments: bool = False) -> list[Row]:
    """Read ``source<TAB>target<TAB>group`` rows (the per-source files of the corpus cache).

    These files are written by the builder, so ``#`` starts no comment unless ``comments``.
    """
    return [(s, t, g) for s, t, g in _iter_tsv(Path(path), 3, comments)]


def _format_fields(fields: Sequence[str]) -> str:
    """Join fields with tabs after making sure none contains a tab or a line break."""
    return "\t".join(collapse_whitespace(str(f)) for f in fields)


def write_tsv(path: str | Path, pairs: Iterable[Sequence[str]]) -> int:
    """Write rows (pairs, or triples with a group) as UTF-8 TSV with LF endings.

    Tabs and line breaks inside fields are replaced by spaces. Returns the number of rows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as handle:
        for row in pairs:
            handle.write(_format_fields(row) + "\n")
            count += 1
    tmp.replace(path)
    return count


# --- chatterbot YAML ---------------------------------------------------------------------------


def _statement_text(value: Any) -> str | None:
    """Coerce one chatterbot statement to text; ``None`` for values that are not statements."""
    if value is None or isinstance(value, dict | list | tuple | set):
        return None
    if isinstance(value, bool):
        value = "yes" if value else "no"  # YAML 1.1 turns a bare yes/no into a boolean
    text = collapse_whitespace(str(value))
    return text or None


def conversation_pairs(conversation: Any) -> list[Pair]:
    """Consecutive statements of one chatterbot conversation -> (turn, reply) pairs."""
    if not isinstance(conversation, list):
        return []
    texts = [_statement_text(v) for v in conversation]
    return [(a, b) for a, b in itertools.pairwise(texts) if a and b]


def load_chatterbot_conversations(path: str | Path) -> list[Any]:
    """Return the raw ``conversations`` list of a chatterbot YAML file (empty if absent)."""
    import yaml  # local import: pyyaml is only needed for this reader

    with Path(path).open(encoding="utf-8-sig") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        return []
    conversations = data.get("conversations") or []
    return conversations if isinstance(conversations, list) else []


def read_chatterbot_yaml(path: str | Path) -> list[Pair]:
    """Read a chatterbot-corpus YAML file (``categories:``, ``conversations:``).

    Each conversation is a list of statements; consecutive statements become
    ``(statement, reply)`` pairs. Numbers and booleans are coerced to text, nested mappings or
    lists and empty values are skipped.
    """
    pairs: list[Pair] = []
    for conversation in load_chatterbot_conversations(path):
        pairs.extend(conversation_pairs(conversation))
    return pairs


# --- splitting ---------------------------------------------------------------------------------


def group_bucket(group: str, seed: str) -> float:
    """Deterministic position of a group in [0, 1) from sha1(seed + group)."""
    digest = hashlib.sha1(f"{seed}\x1f{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _target(total: int, fraction: float, cap: int | None) -> int:
    """Rows wanted in a held-out split: ``fraction`` of all rows (at least one), capped."""
    if fraction <= 0 or total == 0:
        return 0
    wanted = max(1, round(total * fraction))
    return min(wanted, cap) if cap is not None else wanted


def _assign_groups(
    groups: dict[str, list[Row]], dev: float, test: float, seed: str, cap: int | None
) -> dict[str, str]:
    """Map each group to ``train``, ``dev`` or ``test``.

    Groups are visited in hash order and go to test, else dev, while they fit in the split's
    target size; a group may take at most a quarter of a target so that held-out sets span
    several documents. A split still empty after that pass takes the first group (in hash
    order) that fits at all. Everything else is train.
    """
    order = sorted(groups, key=lambda g: (group_bucket(g, seed), g))
    total_rows = sum(len(v) for v in groups.values())
    targets = {"test": _target(total_rows, test, cap), "dev": _target(total_rows, dev, cap)}
    filled = {"test": 0, "dev": 0}
    membership: dict[str, str] = {}
    for share_limited in (True, False):
        open_splits = [s for s in ("test", "dev") if not share_limited and filled[s] == 0]
        splits = ("test", "dev") if share_limited else tuple(open_splits)
        for group in order:
            if group in membership:
                continue
            size = len(groups[group])
            for split in splits:
                limit = max(1, targets[split] // 4) if share_limited else targets[split]
                if filled[split] + size <= targets[split] and size <= limit:
                    membership[group] = split
                    filled[split] += size
                    break
            if not share_limited and all(filled[s] for s in splits):
                break
    for group in order:
        membership.setdefault(group, "train")
    return membership


def _drop_seen(rows: list[Row], seen: set[str]) -> list[Row]:
    """Rows whose normalized source is not in ``seen``."""
    return [row for row in rows if normalize_key(row[0]) not in seen]


def split_pairs(
    rows: Sequence[Row],
    dev: float,
    test: float,
    seed: str,
    max_heldout: int | None = DEFAULT_MAX_HELDOUT,
    dedupe: bool = True,
) -> tuple[list[Row], list[Row], list[Row]]:
    """Split ``(source, target, group)`` rows into train, dev and test by group.

    Whole groups (documents) are held out, so dev/test rows come from documents never seen
    in train. Groups are visited in ``sha1(seed, group)`` order and fill test, then dev, up to
    ``test`` / ``dev`` times the number of rows (each capped at ``max_heldout``), skipping
    groups that do not fit or that would take more than a quarter of the split; the result
    depends only on the rows and the seed, not on their order. With ``dedupe``, train loses
    rows whose normalized source (:func:`normalize_key`) occurs in dev or test, and dev loses
    rows whose source occurs in test. Rows keep their input order within each split and keep
    their group. A data set with a single group has no dev/test.
    """
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row[2]].append(row)
    membership = _assign_groups(groups, dev, test, seed, max_heldout)
    out: dict[str, list[Row]] = {"train": [], "dev": [], "test": []}
    for row in rows:
        out[membership[row[2]]].append(row)
    if dedupe:
        test_keys = {normalize_key(r[0]) for r in out["test"]}
        out["dev"] = _drop_seen(out["dev"], test_keys)
        dev_keys = {normalize_key(r[0]) for r in out["dev"]}
        out["train"] = _drop_seen(out["train"], test_keys | dev_keys)
    return out["train"], out["dev"], out["test"]
