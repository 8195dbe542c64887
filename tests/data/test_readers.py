"""Readers and writers for users' own data."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.data.readers import read_chatterbot_yaml, read_tsv, read_tsv_rows, write_tsv


def test_read_tsv_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("# header comment\n\nhello\t你好\n  # indented comment\nbye\t再见\n", "utf-8")
    assert read_tsv(path) == [("hello", "你好"), ("bye", "再见")]


def test_read_tsv_handles_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_bytes("\ufeffhello\t你好\r\nbye\t再见\r\n".encode())
    assert read_tsv(path) == [("hello", "你好"), ("bye", "再见")]


@pytest.mark.parametrize(
    "content, lineno",
    [
        ("ok\tfine\nno tab here\n", 2),
        ("ok\tfine\n# c\nthree\tcolumns\there\n", 3),
        ("\tmissing source\n", 1),
    ],
)
def test_read_tsv_malformed_line_names_line_number(
    tmp_path: Path, content: str, lineno: int
) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(content, "utf-8")
    with pytest.raises(ValueError, match=rf"bad\.tsv:{lineno}:"):
        read_tsv(path)


def test_write_then_read_roundtrip_sanitizes_fields(tmp_path: Path) -> None:
    path = tmp_path / "out" / "pairs.tsv"
    count = write_tsv(path, [("a\tb", "c\nd"), ("x", "y")])
    assert count == 2
    assert path.read_bytes() == b"a b\tc d\nx\ty\n"
    assert read_tsv(path) == [("a b", "c d"), ("x", "y")]


def test_read_tsv_rows_three_columns(tmp_path: Path) -> None:
    path = tmp_path / "rows.tsv"
    write_tsv(path, [("s", "t", "g")])
    assert read_tsv_rows(path) == [("s", "t", "g")]


def test_read_chatterbot_yaml_pairs_and_coercion(fixtures: Path) -> None:
    pairs = read_chatterbot_yaml(fixtures / "chatterbot" / "english" / "greetings.yml")
    assert pairs == [
        ("Hello", "Hi there!"),
        ("Hi there!", "How are you doing?"),
        ("How are you doing?", "I am doing well."),
        ("What is the answer to everything?", "42"),
        ("Is the sky blue?", "yes"),
        ("What is your name?", "My name is Bot."),
    ]


def test_read_chatterbot_yaml_tolerates_odd_documents(tmp_path: Path) -> None:
    path = tmp_path / "odd.yml"
    path.write_text("just a string\n", "utf-8")
    assert read_chatterbot_yaml(path) == []
    path.write_text("categories: [x]\nconversations: 3\n", "utf-8")
    assert read_chatterbot_yaml(path) == []


def test_cache_rows_keep_hash_sources(tmp_path: Path) -> None:
    from model.data.tasks import drop_comment_like

    path = tmp_path / "rows.tsv"
    write_tsv(path, [("# of items", "项目数", "g"), ("x", "y", "g")])
    rows = read_tsv_rows(path)
    assert rows == [("# of items", "项目数", "g"), ("x", "y", "g")]
    assert drop_comment_like(rows) == [("x", "y", "g")]
