"""Each extractor on its tiny fixture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from model.data import aiml, catalogs, chat, lohelp, manuals, qa, summarize


def test_find_catalogs_prefers_mo_and_zh_cn_only(fixtures: Path) -> None:
    root = fixtures / "deb" / "demo-pkg"
    found = catalogs.find_catalogs(root)
    assert [p.name for p in found] == ["demo.mo"]
    assert catalogs.catalog_domain(root, found[0]) == "demo"


def test_deb_catalog_extraction(fixtures: Path) -> None:
    rows = catalogs.extract_catalogs([("demo-pkg", fixtures / "deb" / "demo-pkg")])
    pairs = {(en, zh) for en, zh, _g in rows}
    assert ("File", "文件") in pairs
    assert ("Open Recent", "最近打开") in pairs
    assert ("Quit", "退出") in pairs
    assert ("Save all documents & close", "保存全部文档并关闭") in pairs
    assert ("Copied %d files to %s", "已复制 %d 个文件到 %s") in pairs
    assert ("Open the file {filename} in a new window", "在新窗口中打开文件 {filename}") in pairs
    assert all(
        en not in {"%s: %s", "translator-credits", "Untranslated in Chinese"} for en, _zh in pairs
    )
    assert {g for _e, _z, g in rows} == {"demo-pkg/demo"}
    assert len(rows) == len(pairs)  # exact duplicates dropped


def test_wheel_po_extraction_skips_fuzzy_obsolete_untranslated(fixtures: Path) -> None:
    rows = catalogs.extract_catalogs([("demo", fixtures / "wheel" / "demo_wheel")])
    pairs = {(en, zh) for en, zh, _g in rows}
    assert pairs == {
        ("Save changes", "保存更改"),
        ("Hello, %(name)s!", "你好，%(name)s！"),
        ("%(count)s item", "%(count)s 个项目"),
    }
    assert {g for *_x, g in rows} == {"demo/demo/django"}


def test_lohelp_html_and_xhp(fixtures: Path) -> None:
    rows = lohelp.extract_lohelp(fixtures / "lohelp" / "en-US", fixtures / "lohelp" / "zh-CN")
    pairs = {(en, zh): g for en, zh, g in rows}
    assert pairs[("Opening Documents", "打开文档")] == "text/shared/demo"
    assert (
        "Select the file you want to open and click Open.",
        "选择要打开的文件并点击「打开」。",
    ) in pairs
    assert (
        "Use the shortcut Ctrl + F to open the Find toolbar.",
        "使用快捷键 Ctrl + F 打开「查找」工具栏。",
    ) in pairs
    assert ("Bold & italic text", "粗体和斜体文本") in pairs
    assert pairs[("Function List", "函数列表")] == "text/shared/func"
    choose = ("Choose Tools - Options to change the settings.", "选择工具 - 选项以更改设置。")
    assert choose in pairs
    texts = " ".join(en for en, _zh in pairs)
    assert "not translated" not in texts and "Only in English" not in texts
    assert "embedded" not in texts and "Command" not in texts and "functions;list" not in texts


def test_manual_alignment(fixtures: Path) -> None:
    pages = manuals.pair_pages(
        fixtures / "manual" / "en", fixtures / "manual" / "zh", ".en.html", ".zh-cn.html"
    )
    assert len(pages) == 1
    rows = manuals.extract_manuals([("demo-manual", pages)])
    pairs = {(en, zh) for en, zh, _g in rows}
    assert ("Basics", "基础") in pairs
    assert ("What is this FAQ?", "本 FAQ 是什么？") in pairs
    assert (
        "This document answers frequently asked questions about the system.",
        "本文档回答关于该系统的常见问题。",
    ) in pairs
    assert ("Use the apt tool to install packages.", "使用 apt 工具安装软件包。") in pairs
    assert all("Prev" not in en and "apt-get update" not in en for en, _zh in pairs)
    assert {g for *_x, g in rows} == {"demo-manual/ch01"}


def test_heading_numbers() -> None:
    assert manuals.strip_heading_number("Chapter 1. Basics") == "Basics"
    assert manuals.strip_heading_number("2.1.3. Title here") == "Title here"
    assert manuals.strip_heading_number("第 1 章 定义和概览") == "定义和概览"
    assert manuals.strip_heading_number("A.1. Appendix item") == "Appendix item"


def test_chitchat(fixtures: Path) -> None:
    rows = chat.chitchat_rows(fixtures / "chitchat.json")
    assert rows == [
        ("Hello how are you?", "I'm good, thanks", "chitchat/conv-a"),
        ("I'm good, thanks", "What did you do today?", "chitchat/conv-a"),
        ("Hi", "Hey & welcome", "chitchat/conv-b"),
    ]


def test_chatterbot_chat(fixtures: Path) -> None:
    rows = chat.chatterbot_chat_rows([fixtures / "chatterbot" / "english" / "greetings.yml"])
    assert rows[0] == ("Hello", "Hi there!", "chatterbot/english/greetings.yml#0")
    assert ("What is the answer to everything?", "42", "chatterbot/english/greetings.yml#1") in rows
    assert len({g for *_x, g in rows}) == 4


def test_chatterbot_qa(fixtures: Path) -> None:
    files = sorted((fixtures / "chatterbot").glob("*/*.yml"))
    rows = qa.chatterbot_qa_rows(files)
    assert ("你好", "你好！", "chatterbot/chinese/greetings.yml") in rows
    assert ("Hello", "Hi there!", "chatterbot/english/greetings.yml") in rows
    assert ("Hi there!", "How are you doing?", "chatterbot/english/greetings.yml") not in rows


def test_faq_rows(fixtures: Path) -> None:
    en = faq = qa.faq_rows([fixtures / "manual" / "en" / "ch01.en.html"], "en")
    assert faq[0][0] == "What is this FAQ?"
    assert faq[0][1].startswith("This document answers frequently asked questions")
    assert "[1]" not in faq[0][1]
    assert en[1] == (
        "How do I install a package?",
        "Use the apt tool to install packages.",
        "debian-faq/en/ch01",
    )
    zh = qa.faq_rows([fixtures / "manual" / "zh" / "ch01.zh-cn.html"], "zh-cn")
    assert zh[0][0] == "本 FAQ 是什么？"


def test_truncate_answer() -> None:
    text = "First sentence here. " * 30
    short = qa.truncate_answer(text, words=20)
    assert short.endswith(".") and len(short.split()) <= 20
    assert len(qa.truncate_answer("字" * 300)) == 160


def test_translation_index_descriptions(fixtures: Path) -> None:
    rows = summarize.read_translation_files([fixtures / "Translation-en"])
    by_target = {t: (s, g) for s, t, g in rows}
    assert set(by_target) == {
        "library for frobnicating widgets - development files",
        "utilities to inspect and repair baz archives",
    }
    body, group = by_target["library for frobnicating widgets - development files"]
    assert group == "foo"
    assert "header files; static library." in body and "*" not in body
    assert by_target["utilities to inspect and repair baz archives"][1] == "baz"


def test_package_group() -> None:
    assert summarize.package_group("libssl-dev") == "ssl"
    assert summarize.package_group("libssl3") == "ssl"
    assert summarize.package_group("python3-numpy") == "numpy"
    assert summarize.package_group("gcc-12-locales") == "gcc"
    assert summarize.package_group("2048") == "2048"


def test_description_length_limits() -> None:
    long_body = [" " + " ".join(f"w{i}" for i in range(200))]
    record = summarize.Description("pkg", "a synopsis here", long_body)
    rows = summarize.description_rows([record])
    assert len(rows[0][0].split()) == 120


def test_docstrings(fixtures: Path, tmp_path: Path) -> None:
    pkg = tmp_path / "demo_pkg"
    shutil.copytree(fixtures / "pydoc" / "demo_pkg", pkg)
    (pkg / "broken.py").write_text("def broken(:\n    pass\n", "utf-8")
    rows = summarize.docstring_rows([("demo_pkg", pkg)])
    targets = {t for _s, t, _g in rows}
    assert targets == {
        "Demo package whose docstrings feed the summarization extractor tests.",
        "Frobnicate a widget in place.",
    }
    body = next(s for s, t, _g in rows if t.startswith("Frobnicate"))
    assert "Args" not in body and body.startswith("The widget is inspected")
    assert {g for *_x, g in rows} == {"demo_pkg"}


def test_chitchat_tolerates_odd_json(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text(
        json.dumps({"x": {"messages": [["plain"], {"text": "dict turn"}, 3]}, "y": []}), "utf-8"
    )
    assert chat.chitchat_rows(path) == [("plain", "dict turn", "chitchat/x")]


def test_aiml_paraphrase_rows(fixtures: Path) -> None:
    rows = aiml.aiml_paraphrase_rows(sorted((fixtures / "aiml").glob("*.aiml")))
    pairs = [(a, b) for a, b, _g in rows]
    # literal srai-only categories, lower-cased, whitespace collapsed
    assert ("what makes you tick", "how do you work", "aiml/reduction") in rows
    assert ("how do you talk", "how do you work") in pairs
    # wildcards, <that> context, templates with text beside the srai, one-word sides: skipped
    assert not any("*" in a or "tell me" in b or b == "i like cats" for a, b in pairs)
    assert ("who made you", "who created you") not in pairs
    assert ("hi", "hello") not in pairs
    # duplicates once; the "i am X -> call me X" shape at most PER_SHAPE times
    assert pairs.count(("carry on", "go on")) == 1
    assert sum(b.startswith("call me") for _a, b in pairs) == aiml.PER_SHAPE
    # a file that is not well-formed XML is skipped, not fatal
    assert all(g == "aiml/reduction" for *_x, g in rows)


def test_chinese_translation_index_descriptions(fixtures: Path) -> None:
    """Translation-zh_CN: a Chinese description -> its Chinese synopsis; untranslated (English)
    records, too-short ones and near-duplicates (libfoo1 repeats libfoo-dev) are dropped."""
    rows = summarize.read_translation_files([fixtures / "Translation-zh_CN"], chinese=True)
    assert [(t, g) for _, t, g in rows] == [("用于处理小部件的库 - 开发文件", "foo")]
    body = rows[0][0]
    assert body.startswith("Foo 是一个处理各种形状和大小的小部件的库") and "头文件;" in body
    assert "*" not in body


def test_chinese_descriptions_are_cut_at_a_sentence_end() -> None:
    text = "这是一个句子。" * 60  # 360 ideographs
    cut = summarize._cut_zh(text, 200)
    assert cut.endswith("。") and 150 <= summarize.zh_length(cut) <= 200
