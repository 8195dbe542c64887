import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.tokenizer import (
    CONTROL_TOKENS,
    EOS_ID,
    Tokenizer,
    TokenizerSpec,
    mask_like,
    mask_placeholders,
    unmask_placeholders,
    utf8_tables,
    well_formed_bytes,
)

CORPUS = [
    "Open the file %s in a new window",
    "Save the document as {0}",
    "打开文件并保存到 %s",
    "无法找到文件 {name}",
    "The quick brown fox jumps over the lazy dog",
    "Welcome, %(user)s! You have %d new messages.",
    "选择一个选项，然后单击“确定”。",
] * 40


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.train(CORPUS, TokenizerSpec(vocab_size=400))


@pytest.mark.parametrize(
    "text",
    [
        "Open the file",
        "打开文件",
        "Emoji 👋🏽 and 🇨🇳 flags",
        "",
        "mixed 中文 and English, 100% sure",
        "Rare chars: Ω ж ﬁ ∑",
    ],
)
def test_round_trip(tokenizer: Tokenizer, text: str) -> None:
    ids, originals = tokenizer.encode_masked(text)
    assert tokenizer.decode_unmasked(ids, originals) == text
    assert EOS_ID not in ids


def test_empty_text_has_no_ids(tokenizer: Tokenizer) -> None:
    assert tokenizer.encode("") == []
    assert tokenizer.decode([]) == ""


def test_placeholders_become_single_tokens(tokenizer: Tokenizer) -> None:
    ids, originals = tokenizer.encode_masked("Save %1$s to {0} now")
    assert originals == ["%1$s", "{0}"]
    pieces = [tokenizer.id_to_piece(i) for i in ids]
    assert "<ph0>" in pieces and "<ph1>" in pieces
    assert tokenizer.decode_unmasked(ids, originals) == "Save %1$s to {0} now"


def test_placeholder_masking_rules() -> None:
    masked, found = mask_placeholders("%d of %(total)s done, 100% sure, {}")
    assert found == ["%d", "%(total)s", "{}"]
    assert masked == "<ph0> of <ph1> done, 100% sure, <ph2>"
    assert unmask_placeholders(masked, found) == "%d of %(total)s done, 100% sure, {}"
    # the target side reuses the source's indices, whatever their order
    assert mask_like("{1} 和 {0}", ["{0}", "{1}"]) == "<ph1> 和 <ph0>"


def test_control_tokens_reserved(tokenizer: Tokenizer) -> None:
    assert all(tokenizer.control_ids[t] > EOS_ID for t in CONTROL_TOKENS)


def test_save_load(tokenizer: Tokenizer, tmp_path: Path) -> None:
    tokenizer.save(tmp_path)
    again = Tokenizer.load(tmp_path)
    assert again.encode("打开文件 Open") == tokenizer.encode("打开文件 Open")
    assert again.vocab_size == tokenizer.vocab_size


# -- character boundaries: byte-fallback pieces never become U+FFFD or half a character ----------

@functools.cache
def _byte_ids(tokenizer: Tokenizer) -> dict[int, int]:
    """byte value -> id of its byte-fallback piece (every byte has one)."""
    return {int(v): i for i, v in enumerate(tokenizer.byte_values) if v >= 0}


def test_every_byte_has_a_piece(tokenizer: Tokenizer) -> None:
    ids = _byte_ids(tokenizer)
    assert sorted(ids) == list(range(256))
    assert tokenizer.id_to_piece(ids[0xE6]) == "<0xE6>"


def test_a_character_cut_in_half_is_left_out(tokenizer: Tokenizer) -> None:
    """The summary model wrote 时�� when it emitted 时 and the first two bytes of 间."""
    byte = _byte_ids(tokenizer)
    shi, jian = "时".encode(), "間".encode()
    ids = [byte[b] for b in shi] + [byte[b] for b in jian[:2]]
    assert tokenizer.decode(ids) == "时"
    assert tokenizer.decode([byte[b] for b in jian[1:]]) == ""  # stray continuation bytes
    assert tokenizer.decode([byte[0xC0], byte[0x80]]) == ""  # overlong: never valid
    assert tokenizer.decode([byte[b] for b in "\ufffd".encode()]) == ""  # not even spelled out


# Any sequence of byte pieces, mixed with a few word pieces and special ids.
_ID_SEQUENCES = st.lists(
    st.one_of(st.integers(0, 255).map(lambda b: ("byte", b)),
              st.sampled_from([("id", 0), ("id", 3), ("text", "file"), ("text", "打开")])),
    max_size=40,
)


def _ids_of(tokenizer: Tokenizer, items: list[tuple[str, object]]) -> list[int]:
    byte = _byte_ids(tokenizer)
    ids: list[int] = []
    for kind, value in items:
        if kind == "byte":
            ids.append(byte[int(value)])  # type: ignore[call-overload]
        elif kind == "id":
            ids.append(int(value))  # type: ignore[call-overload]
        else:
            ids.extend(tokenizer.encode(str(value)))
    return ids


@settings(max_examples=300, deadline=None, derandomize=True)
@given(items=_ID_SEQUENCES)
def test_any_byte_piece_sequence_decodes_to_whole_characters(
    tokenizer: Tokenizer, items: list[tuple[str, object]]
) -> None:
    ids = _ids_of(tokenizer, items)
    text = tokenizer.decode(ids)
    assert "\ufffd" not in text
    text.encode("utf-8")  # no lone surrogate: every character is whole
    kept = well_formed_bytes(ids, tokenizer.byte_values)
    run = bytes(int(tokenizer.byte_values[ids[i]]) for i in kept
                if tokenizer.byte_values[ids[i]] >= 0)
    run.decode("utf-8")  # the bytes kept are valid UTF-8 on their own
    # decoding is idempotent on what it keeps: nothing valid is thrown away
    assert tokenizer.decode([ids[i] for i in kept]) == text


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                              blacklist_characters="\ufffd<>%{}"), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(text=_TEXT)
def test_every_prefix_of_a_text_decodes_to_a_prefix_of_it(tokenizer: Tokenizer,
                                                          text: str) -> None:
    """A decoder stopped at any step (the length limit) shows whole characters only."""
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    for end in range(len(ids)):
        assert text.startswith(tokenizer.decode(ids[:end]))


def test_utf8_tables_follow_the_unicode_table_of_well_formed_sequences(
    tokenizer: Tokenizer,
) -> None:
    tables = utf8_tables(tokenizer.byte_values)
    byte = _byte_ids(tokenizer)
    assert tables["need"][byte[0x41]] == 0 and tables["need"][byte[0xC3]] == 1
    assert tables["need"][byte[0xE6]] == 2 and tables["need"][byte[0xF0]] == 3
    assert (tables["low"][byte[0xE0]], tables["high"][byte[0xE0]]) == (0xA0, 0xBF)
    assert (tables["low"][byte[0xED]], tables["high"][byte[0xED]]) == (0x80, 0x9F)
    assert (tables["low"][byte[0xF4]], tables["high"][byte[0xF4]]) == (0x80, 0x8F)
    assert tables["cont"][byte[0x80]] and tables["cont"][byte[0xBF]]
    assert not tables["cont"][byte[0xC0]] and tables["never"][byte[0xC0]]
    assert tables["never"][byte[0xF5]] and not tables["never"][byte[0xF4]]
    word = tokenizer.encode("file")[0]
    assert tables["byte"][word] == -1 and not tables["cont"][word] and tables["need"][word] == 0
