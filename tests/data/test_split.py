"""Deterministic, group-aware splitting and cross-split de-duplication."""

from __future__ import annotations

import random

from model.data.clean import normalize_key
from model.data.readers import split_pairs
from model.data.tasks import SplitPolicy, short_rows, split_task


def _rows(groups: int = 300, per_group: int = 5) -> list[tuple[str, str, str]]:
    return [
        (f"source {g}-{i}", f"target {g}-{i}", f"doc{g}")
        for g in range(groups)
        for i in range(per_group)
    ]


def test_split_is_deterministic_and_order_independent() -> None:
    rows = _rows()
    first = split_pairs(rows, 0.05, 0.05, seed="s")
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    second = split_pairs(shuffled, 0.05, 0.05, seed="s")
    for a, b in zip(first, second, strict=True):
        assert sorted(a) == sorted(b)
    assert split_pairs(rows, 0.05, 0.05, seed="other") != first


def test_groups_never_straddle_splits() -> None:
    train, dev, test = split_pairs(_rows(), 0.05, 0.05, seed="s")
    groups = [{r[2] for r in part} for part in (train, dev, test)]
    assert dev and test
    assert not groups[0] & groups[1] and not groups[0] & groups[2] and not groups[1] & groups[2]
    assert len(train) + len(dev) + len(test) == 1500


def test_heldout_sizes_follow_fraction_and_cap() -> None:
    _train, dev, test = split_pairs(_rows(), 0.05, 0.05, seed="s")
    assert 60 <= len(test) <= 75 and 60 <= len(dev) <= 75
    _train, dev, test = split_pairs(_rows(), 0.2, 0.2, seed="s", max_heldout=20)
    assert len(dev) <= 20 and len(test) <= 20


def test_big_groups_are_not_held_out() -> None:
    rows = [(f"big {i}", "t", "big") for i in range(500)] + _rows(100, 2)
    train, dev, test = split_pairs(rows, 0.05, 0.05, seed="s")
    assert all(r[2] != "big" for r in dev + test)
    assert sum(r[2] == "big" for r in train) == 500


def test_cross_split_dedupe_by_normalized_source() -> None:
    rows = _rows(200, 3)
    _train, _dev, test = split_pairs(rows, 0.05, 0.05, seed="s", dedupe=False)
    held = test[0]
    other_group = next(r[2] for r in rows if r[2] != held[2])
    duplicate = ("  " + held[0].upper() + " ", "different target", other_group)
    train, dev, test = split_pairs([*rows, duplicate], 0.05, 0.05, seed="s")
    test_keys = {normalize_key(r[0]) for r in test}
    dev_keys = {normalize_key(r[0]) for r in dev}
    assert not any(normalize_key(r[0]) in test_keys | dev_keys for r in train)
    assert not any(normalize_key(r[0]) in test_keys for r in dev)


def test_single_group_has_no_heldout() -> None:
    rows = [(f"s{i}", "t", "only") for i in range(50)]
    train, dev, test = split_pairs(rows, 0.1, 0.1, seed="s")
    assert len(train) == 50 and not dev and not test


def test_qa_policy_keeps_everything_in_train() -> None:
    rows = _rows(50, 4)
    splits = split_task(rows, "qa", SplitPolicy(max_heldout=5, all_in_train=True))
    assert splits["train"] == rows
    assert 0 < len(splits["test"]) <= 5 and 0 < len(splits["dev"]) <= 5


def test_short_rows() -> None:
    rows = [("one two", "t", "g"), ("one two three", "t", "g"), (" ".join("x" * 16), "t", "g")]
    assert short_rows(rows, (3, 15)) == [("one two three", "t", "g")]
