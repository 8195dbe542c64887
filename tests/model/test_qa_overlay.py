"""The qa overlay file shared by two processes (replicas on one data directory): a save keeps
what the other wrote and drops only what this one removed. No TensorFlow."""

from __future__ import annotations

from pathlib import Path

from model.qa_fingerprint import pair_fingerprint
from model.qa_overlay import Overlay


def test_two_processes_saving_one_overlay_keep_each_others_pairs(tmp_path: Path) -> None:
    a, b = Overlay.load(tmp_path), Overlay.load(tmp_path)  # both start from the same file
    a.added.append(("where is the key", "under the mat"))
    a.save(tmp_path)
    b.added.append(("what is rnn", "a recurrent network"))
    b.save(tmp_path)  # b never saw a's pair: it is kept, not overwritten
    assert sorted(Overlay.load(tmp_path).added) == [
        ("what is rnn", "a recurrent network"), ("where is the key", "under the mat")]

    a.added.remove(("where is the key", "under the mat"))  # a removes the pair it held
    a.removed.append(("who made you", None))  # and a shipped entry
    a.save(tmp_path)
    on_disk = Overlay.load(tmp_path)
    assert on_disk.added == [("what is rnn", "a recurrent network")]  # b's pair survives
    assert on_disk.removed == [("who made you", None)]

    b.forgotten.append(pair_fingerprint("what is rnn", "a recurrent network"))
    b.save(tmp_path)  # a forgotten pair leaves the file whoever had it
    assert Overlay.load(tmp_path).added == []

    a.removed.clear()  # a re-adds the shipped entry: its removal leaves the file
    a.save(tmp_path)
    final = Overlay.load(tmp_path)
    assert final.removed == [] and final.forgotten == b.forgotten


def test_an_unreadable_overlay_file_is_replaced_by_this_processs_view(tmp_path: Path) -> None:
    (tmp_path / "qa_overlay.json").write_text("{not json", encoding="utf-8")
    overlay = Overlay(added=[("q", "a")])
    overlay.save(tmp_path)
    assert Overlay.load(tmp_path).added == [("q", "a")]
