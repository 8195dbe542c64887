from pathlib import Path

import pytest

from model.tokenizer import (
    CONTROL_TOKENS,
    EOS_ID,
    Tokenizer,
    TokenizerSpec,
    mask_like,
    mask_placeholders,
    unmask_placeholders,
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
