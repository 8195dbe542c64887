"""The intent model: extraction rules, a tiny training run, the shipped model."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from model.data.intent import (
    LABELS,
    IntentSources,
    build_intent_examples,
    summarize_request,
    translate_request,
)
from model.intent_model import IntentClassifier
from model.intent_predictor import (
    IntentConfig,
    IntentPredictor,
    extract_summary_text,
    extract_translation,
    intent_inputs,
    load_intent_dir,
    save_intent,
)
from model.intent_train import HELDOUT, heldout_report, read_heldout
from model.task_specs import PRETRAINED_DIR
from model.tokenizer import Tokenizer, TokenizerSpec
from tests.model.seeding import DATA_SEED, seeded

pytestmark = pytest.mark.tf  # builds or trains TensorFlow models

PARAGRAPH_EN = ("The package provides a small daemon that watches a directory and uploads every "
                "new file to a remote server. It retries failed uploads, keeps a log of what was "
                "sent and can be configured with a single file. A command line tool shows the "
                "queue and the transfer speed.")
PARAGRAPH_ZH = ("这个工具可以定期检查网站是否正常运行。如果网站无法访问，"
                "它会立即通过邮件和短信通知管理员，并记录每次故障的时间和持续时长。"
                "所有检查结果都可以在网页上查看，还可以导出成表格。")


@pytest.mark.parametrize(("message", "payload", "target"), [
    ("translate to Chinese: good morning", "good morning", "zh"),
    ("把这句话翻译成英文：早上好", "早上好", "en"),
    ("how do you say 'where is the station' in chinese?", "where is the station", "zh"),
    ("“保存文件”用英语怎么说？", "保存文件", "en"),
    ("Translate \"Open the file\" into Chinese please", "Open the file", "zh"),
    ("翻译：今天很热", "今天很热", "en"),
    ("translate: the disk is full", "the disk is full", "zh"),
    ("Good luck 翻译成中文", "Good luck", "zh"),
    ("english translation of 你好吗 please", "你好吗", "en"),
])
def test_translation_extraction(message: str, payload: str, target: str) -> None:
    assert extract_translation(message) == (payload, target)


@pytest.mark.parametrize("message", [
    f"tl;dr: {PARAGRAPH_EN}",
    f"summarize this: {PARAGRAPH_EN}",
    f"Can you give me a short summary of the following? {PARAGRAPH_EN}",
    f"{PARAGRAPH_EN} Can you summarize that?",
    PARAGRAPH_EN,
])
def test_summary_extraction_english(message: str) -> None:
    assert extract_summary_text(message) == PARAGRAPH_EN


@pytest.mark.parametrize("message", [
    f"总结一下：{PARAGRAPH_ZH}",
    f"帮我概括这段话：{PARAGRAPH_ZH}",
    f"{PARAGRAPH_ZH}能帮我总结一下吗？",
    PARAGRAPH_ZH,
])
def test_summary_extraction_chinese(message: str) -> None:
    assert extract_summary_text(message) == PARAGRAPH_ZH


def test_template_requests_extract_their_payload() -> None:
    rng = random.Random(5)
    payloads = ["open the file", "the network is down", "文件已保存", "请稍候"]
    for _ in range(400):
        example = translate_request(rng.choice(payloads), rng)
        got = extract_translation(example.text)
        assert got == (example.payload, example.target_lang), example.text
    for paragraph in (PARAGRAPH_EN, PARAGRAPH_ZH):
        for _ in range(60):
            example = summarize_request(paragraph, rng)
            assert extract_summary_text(example.text) == paragraph, example.text


def _tiny_sources() -> IntentSources:
    return IntentSources(
        qa_questions=["what is debian?", "how do I install a package?", "谁发明了电灯泡？",
                      "如何安装软件包？", "where is the source code?", "什么是操作系统？"],
        small_talk=["you are funny", "我很开心", "hello there", "你好呀"],
        chat_turns=["i just got home", "that sounds fun", "my dog is sleeping"],
        paragraphs_en=[PARAGRAPH_EN],
        paragraphs_zh=[PARAGRAPH_ZH],
        short_en=["open the file", "save your work", "good night"],
        short_zh=["打开文件", "保存工作", "晚安"],
        terms_en=["kernel", "printer", "file manager"],
        terms_zh=["内核", "打印机", "文件管理器"],
    )


def test_tiny_intent_model_learns_and_round_trips(tmp_path: Path) -> None:
    import keras

    seeded(1)
    examples = build_intent_examples(_tiny_sources(), per_label=120, seed=1 + DATA_SEED)
    assert {e.label for e in examples} == set(LABELS)
    tokenizer = Tokenizer.train([e.text for e in examples], TokenizerSpec(vocab_size=800))
    config = IntentConfig(vocab_size=tokenizer.vocab_size, embed_dim=16, units=16, hidden=16,
                          dropout=0.0, max_len=32)
    model = IntentClassifier.from_config_object(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    inputs = intent_inputs(tokenizer, [e.text for e in examples], config.max_len)
    labels = np.array([config.labels.index(e.label) for e in examples])
    model.fit(inputs, labels, epochs=4, batch_size=32, verbose=0)
    predictor = IntentPredictor(model, tokenizer, config)
    predicted = [p.label for p in predictor.predict([e.text for e in examples])]
    accuracy = np.mean([p == e.label for p, e in zip(predicted, examples, strict=True)])
    assert accuracy > 0.9
    save_intent(predictor, tmp_path)
    loaded = load_intent_dir(tmp_path)
    texts = [e.text for e in examples[:20]]
    np.testing.assert_allclose(loaded.probabilities(texts), predictor.probabilities(texts),
                               atol=2e-2)


def test_heldout_file_is_well_formed() -> None:
    rows = read_heldout(HELDOUT)
    assert len(rows) >= 100
    assert {r.label for r in rows} == set(LABELS)
    for row in rows:
        if row.label == "translate":
            assert row.target_lang in {"en", "zh"} and row.payload != "-"


SHIPPED = PRETRAINED_DIR / "intent"


@pytest.mark.skipif(not (SHIPPED / "card.json").is_file(), reason="no shipped intent version")
@pytest.mark.parametrize(("message", "label"), [
    ("hello! how are you doing?", "chat"),
    ("thanks, you made my day", "chat"),
    ("你好，很高兴认识你", "chat"),
    ("哈哈，你真有意思", "chat"),
    ("How do I report a bug in Debian?", "qa"),
    ("who invented the telephone?", "qa"),
    ("如何从源码包构建二进制包？", "qa"),
    ("谁写了哈姆雷特？", "qa"),
    ("translate to Chinese: good morning", "translate"),
    ("how do you say 'thank you' in chinese", "translate"),
    ("把这句话翻译成英文：早上好", "translate"),
    ("“取消”用英语怎么说", "translate"),
    (f"tl;dr: {PARAGRAPH_EN}", "summarize"),
    (PARAGRAPH_EN, "summarize"),
    (f"总结一下：{PARAGRAPH_ZH}", "summarize"),
    (PARAGRAPH_ZH, "summarize"),
])
def test_shipped_router_routes_each_class_in_both_languages(message: str, label: str) -> None:
    [prediction] = shipped_router().predict([message])
    assert prediction.label == label, shipped_router().probabilities([message])
    assert 0.0 <= prediction.confidence <= 1.0
    assert prediction.sure == (prediction.confidence >= shipped_router().config.min_confidence)


@pytest.mark.skipif(not (SHIPPED / "card.json").is_file(), reason="no shipped intent version")
def test_shipped_router_meets_the_heldout_bar() -> None:
    report = heldout_report(shipped_router(), read_heldout(HELDOUT))
    assert report["accuracy"] >= 0.95, report["errors"]
    translate = shipped_router().predict(["把这句话翻译成英文：早上好"])[0]
    assert (translate.text, translate.target_lang) == ("早上好", "en")


_CACHE: dict[str, IntentPredictor] = {}


def shipped_router() -> IntentPredictor:
    if "router" not in _CACHE:
        _CACHE["router"] = load_intent_dir(SHIPPED)
    return _CACHE["router"]
