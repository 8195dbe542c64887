"""Labelled messages for the intent router: templates in English and Chinese + corpus messages.

Labels: ``qa`` (a question seeking information), ``chat`` (greetings, small talk, feelings),
``translate`` (a request to translate a text) and ``summarize`` (a request to summarize, or a
long pasted paragraph). ``build_intent_examples`` mixes:

* real messages from the corpora: qa-bank questions (Debian FAQ, chatterbot topics that seek
  facts), chit-chat turns and chatterbot small-talk statements, long package descriptions,
  docstrings and FAQ answers (English and Chinese);
* templates wrapped around corpus texts: translation requests (target language and payload are
  known, so the examples also test extraction) and summary requests.

The hand-written held-out set in ``tests/fixtures/intent/heldout.tsv`` is not produced here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from model.data.clean import has_cjk
from model.data.readers import read_tsv, read_tsv_rows

LABELS = ("qa", "chat", "translate", "summarize")

# chatterbot topics whose first lines are small talk rather than questions seeking facts
SMALL_TALK_TOPICS = ("greetings", "conversations", "emotion", "psychology", "gossip", "humor",
                     "botprofile", "ai")

TRANSLATE_EN = [
    "translate to {lang}: {x}", "translate into {lang}: {x}", "Translate this to {lang}: {x}",
    "translate the following into {lang}: {x}", "{lang} translation: {x}",
    "how do you say \"{x}\" in {lang}?", "how to say '{x}' in {lang}", "what is \"{x}\" in {lang}",
    "what's the {lang} for \"{x}\"?", "say \"{x}\" in {lang}", "{x} -> {lang}",
    "translate \"{x}\" into {lang} please", "can you translate this into {lang}? {x}",
    "please translate to {lang}: {x}", "{lang} please: {x}", "translate: {x}",
    "could you translate \"{x}\"", "in {lang}: {x}", "{x} in {lang}?", "translate {x}",
    "tr {code}: {x}", "help me translate this sentence into {lang}: {x}",
    "I need this in {lang}: {x}", "what does \"{x}\" mean in {lang}",
]
TRANSLATE_ZH = [
    "翻译成{zlang}：{x}", "把这句话翻译成{zlang}：{x}", "翻译：{x}", "请翻译：{x}",
    "{x} 用{zlang}怎么说", "“{x}”用{zlang}怎么说？", "帮我翻译一下：{x}", "翻译一下 {x}",
    "{x} 翻译成{zlang}", "把“{x}”翻译成{zlang}", "{zlang}翻译：{x}",
    "请把下面的句子译成{zlang}：{x}",
    "{x} 的{zlang}是什么", "“{x}”的{zlang}怎么说", "译成{zlang}：{x}", "{pair}：{x}",
    "帮我把这段话翻成{zlang}：{x}", "这句话{zlang}怎么讲：{x}", "翻译 {x}",
]
SUMMARIZE_EN = [
    "summarize: {x}", "Summarize this: {x}", "summarize the following text: {x}", "tl;dr: {x}",
    "TL;DR {x}", "tldr: {x}", "can you summarize this? {x}", "give me a summary: {x}",
    "summary please: {x}", "{x} tl;dr?", "{x}\n\nsummarize", "{x} Summarize this for me.",
    "please summarize in one sentence: {x}", "what is this text about? {x}",
    "make it shorter: {x}", "short version please: {x}", "one-line summary: {x}",
    "{x} Can you give me the short version?", "brief summary of this: {x}",
]
SUMMARIZE_ZH = [
    "总结：{x}", "总结一下：{x}", "帮我总结一下这段话：{x}", "概括：{x}", "请概括以下内容：{x}",
    "摘要：{x}", "{x} 总结一下", "{x}\n帮我概括一下", "用一句话总结：{x}", "简单总结下：{x}",
    "这段话讲了什么？{x}", "太长不看：{x}", "{x} 这段话的要点是什么？", "给这段文字写个摘要：{x}",
]
CHAT_EN = [
    "hi", "hello", "hey", "good morning", "good night", "thanks", "thank you so much", "ok",
    "cool", "see you", "bye", "how are you", "how's it going", "nice", "haha", "lol", "yes",
    "no", "sure", "I'm bored", "I'm happy today", "I'm sad", "what's up", "good afternoon",
    "take care", "you're great", "that's funny", "sounds good", "sorry", "never mind",
]
CHAT_ZH = [
    "你好", "您好", "嗨", "早上好", "早安", "晚上好", "晚安", "谢谢", "多谢", "好的", "嗯嗯",
    "哈哈", "哈哈哈", "再见", "拜拜", "你好吗", "最近怎么样", "吃了吗", "我很开心", "我有点难过",
    "今天好累", "好无聊", "你真棒", "太好了", "没关系", "对不起", "在吗", "我回来了", "周末愉快",
    "好开心啊", "今天下雨了", "我想睡觉了", "你在干嘛", "明天见", "好久不见", "你真好",
    "最近过得好吗", "今天怎么样", "假期开心吗", "你忙什么呢", "吃饭了没", "心情怎么样",
]
CHAT_ZH_TEMPLATES = ["{a}，{b}", "{a}！{b}", "{a}呀", "{a}啦", "{a}~", "{a}，{b}。"]
QA_EN_TEMPLATES = [
    "what is {t}?", "What is {t}", "what does {t} mean?", "how do I use {t}?",
    "how can I configure {t}?", "where can I find {t}?", "what is the purpose of {t}?",
    "how does {t} work?", "why is {t} needed?", "which package provides {t}?",
    "is there a way to change {t}?", "who created {t}?", "how do I enable {t}?",
    "which {t} is the biggest?", "how many {t} are there?", "when was {t} invented?",
    "where is {t} located?", "what's the difference between {t} and a file?",
]
QA_ZH_TEMPLATES = [
    "什么是{t}？", "{t}是什么？", "{t}是什么意思", "如何使用{t}？", "怎么配置{t}？",
    "在哪里可以找到{t}？",
    "{t}有什么用？", "{t}是怎么工作的？", "为什么需要{t}？", "怎样打开{t}？", "谁发明了{t}？",
    "{t}在哪里？", "哪个{t}最好？", "{t}有多少种？", "{t}是什么时候出现的？", "{t}怎么设置",
    "最大的{t}是哪个？", "{t}和文件有什么区别？", "怎么删除{t}？",
]

LANG_NAMES = {"zh": ["Chinese", "chinese", "Mandarin", "simplified Chinese"],
              "en": ["English", "english"]}
ZH_LANG_NAMES = {"zh": ["中文", "汉语", "中文"], "en": ["英文", "英语", "英文"]}
PAIR_NAMES = {"zh": ["英译中", "英翻中"], "en": ["中译英", "中翻英"]}


@dataclass(frozen=True)
class IntentExample:
    text: str
    label: str
    target_lang: str = "-"  # translate only: "en" or "zh"
    payload: str = "-"  # translate / summarize: the text the request is about


def _target_for(payload: str) -> str:
    return "en" if has_cjk(payload) else "zh"


def translate_request(payload: str, rng: random.Random) -> IntentExample:
    """Wrap ``payload`` in an English or Chinese translation request to the other language."""
    target = _target_for(payload)
    if rng.random() < 0.5:
        template = rng.choice(TRANSLATE_EN)
        text = template.format(lang=rng.choice(LANG_NAMES[target]), code=target, x=payload)
    else:
        template = rng.choice(TRANSLATE_ZH)
        text = template.format(zlang=rng.choice(ZH_LANG_NAMES[target]), x=payload,
                               pair=rng.choice(PAIR_NAMES[target]))
    return IntentExample(text, "translate", target, payload)


def summarize_request(paragraph: str, rng: random.Random, bare_share: float = 0.3) -> IntentExample:
    """A long paragraph, bare (pasted) or wrapped in a summary request in its language."""
    if rng.random() < bare_share:
        return IntentExample(paragraph, "summarize", "-", paragraph)
    templates = SUMMARIZE_ZH if has_cjk(paragraph) and rng.random() < 0.8 else SUMMARIZE_EN
    text = rng.choice(templates).format(x=paragraph)
    return IntentExample(text, "summarize", "-", paragraph)


def chat_message(rng: random.Random) -> str:
    """A short greeting / small-talk line, English or Chinese, sometimes two joined."""
    if rng.random() < 0.5:
        first = rng.choice(CHAT_EN)
        if rng.random() < 0.3:
            first = f"{first}, {rng.choice(CHAT_EN)}"
        return first + rng.choice(["", "", "!", ".", " :)", "!!", "?"])
    a, b = rng.choice(CHAT_ZH), rng.choice(CHAT_ZH)
    return rng.choice(CHAT_ZH_TEMPLATES).format(a=a, b=b) if rng.random() < 0.4 else a


def casual_variant(text: str, rng: random.Random) -> str:
    """Sometimes lower-cased and without its final punctuation, as people type in chats."""
    if rng.random() < 0.3:
        text = text.lower() if not has_cjk(text) else text
    if rng.random() < 0.3:
        text = text.rstrip("?？!！.。 ")
    return text or "?"


def joined_turns(turns: Sequence[str], rng: random.Random, min_words: int = 45,
                 min_chars_zh: int = 80) -> str:
    """Several chat turns joined into one long, personal, non-technical paragraph (a pasted
    story or message to summarize)."""
    parts: list[str] = []
    while sum(len(p) if has_cjk(p) else len(p.split()) for p in parts) < (
        min_chars_zh if turns and has_cjk(turns[0]) else min_words
    ):
        turn = rng.choice(turns).strip()
        parts.append(turn if turn[-1:] in ".!?。！？" else turn + ("。" if has_cjk(turn) else "."))
    return ("" if has_cjk(parts[0]) else " ").join(parts)


def long_paragraphs(texts: Sequence[str], rng: random.Random, min_words: int = 40,
                    min_chars_zh: int = 80) -> list[str]:
    """Paragraphs long enough to be summarized; short Chinese ones are joined to reach it."""
    out: list[str] = []
    pending = ""
    for text in texts:
        if has_cjk(text):
            pending += text
            if len(pending) >= min_chars_zh:
                out.append(pending)
                pending = ""
        elif len(text.split()) >= min_words:
            out.append(text)
    rng.shuffle(out)
    return out


@dataclass
class IntentSources:
    """Texts read from the corpus cache for the router's examples."""

    qa_questions: list[str]
    small_talk: list[str]
    chat_turns: list[str]
    paragraphs_en: list[str]
    paragraphs_zh: list[str]
    short_en: list[str]
    short_zh: list[str]
    terms_en: list[str]
    terms_zh: list[str]


def _sample(items: Sequence[str], n: int, rng: random.Random) -> list[str]:
    return rng.sample(list(items), min(n, len(items)))


def read_intent_sources(corpora: Path, rng: random.Random, n: int = 4000) -> IntentSources:
    """Pick the router's raw texts from the corpus cache (``python -m model data build``)."""
    sources, tasks = corpora / "sources", corpora / "tasks"
    qa_rows = read_tsv_rows(sources / "qa-chatterbot.tsv") + read_tsv_rows(
        sources / "qa-debian-faq.tsv")
    small = [q for q, _, g in qa_rows if any(f"/{t}.yml" in g for t in SMALL_TALK_TOPICS)]
    small += [a for _, a, g in qa_rows if "chatterbot/chinese" in g and len(a) <= 30]
    questions = [q for q, _, g in qa_rows if not any(f"/{t}.yml" in g for t in SMALL_TALK_TOPICS)]
    chat = read_tsv(tasks / "chat" / "dev.tsv") + read_tsv(tasks / "chat" / "test.tsv")
    summ = read_tsv(tasks / "summarize" / "dev.tsv")
    parallel = read_tsv(tasks / "translate-en-zh" / "dev.tsv")
    faq_answers = [a for _, a, g in qa_rows if g.startswith("debian-faq")]
    paragraphs = long_paragraphs([s for s, _ in summ] + faq_answers + [z for _, z in parallel],
                                 rng)
    short = [(e, z) for e, z in parallel if 2 <= len(e.split()) <= 14]
    terms = [(e, z) for e, z in parallel if 1 <= len(e.split()) <= 3 and len(z) <= 8]
    return IntentSources(
        qa_questions=questions,
        small_talk=small,
        chat_turns=_sample([t for t, _ in chat if len(t.split()) <= 25], n, rng),
        paragraphs_en=[p for p in paragraphs if not has_cjk(p)][:n],
        paragraphs_zh=[p for p in paragraphs if has_cjk(p)][:n],
        short_en=_sample([e for e, _ in short], n, rng),
        short_zh=_sample([z for _, z in short], n, rng),
        terms_en=_sample([e for e, _ in terms], n, rng),
        terms_zh=_sample([z for _, z in terms], n, rng),
    )


def build_intent_examples(src: IntentSources, per_label: int, seed: int) -> list[IntentExample]:
    """About ``per_label`` examples of each label, shuffled."""
    rng = random.Random(seed)
    qa = [IntentExample(casual_variant(q, rng), "qa") for q in src.qa_questions]
    for _ in range(max(per_label - len(qa), 0)):
        if rng.random() < 0.5 and src.terms_en:
            qa.append(IntentExample(rng.choice(QA_EN_TEMPLATES).format(
                t=rng.choice(src.terms_en)), "qa"))
        elif src.terms_zh:
            qa.append(IntentExample(rng.choice(QA_ZH_TEMPLATES).format(
                t=rng.choice(src.terms_zh)), "qa"))
    chat = [IntentExample(casual_variant(t, rng), "chat")
            for t in src.small_talk + src.chat_turns[: per_label // 2]]
    chat += [IntentExample(chat_message(rng), "chat")
             for _ in range(max(per_label - len(chat), per_label // 4))]
    payloads = src.short_en + src.short_zh + src.chat_turns[per_label // 2:][:500]
    translate = [translate_request(rng.choice(payloads), rng) for _ in range(per_label)]
    paragraphs = src.paragraphs_en + src.paragraphs_zh
    stories = [joined_turns(src.chat_turns, rng) for _ in range(per_label // 8)]
    zh_talk = [t for t in src.small_talk if has_cjk(t)]
    stories += [joined_turns(zh_talk, rng) for _ in range(per_label // 8 if zh_talk else 0)]
    summarize = [summarize_request(rng.choice(paragraphs), rng)
                 for _ in range(per_label - len(stories))]
    summarize += [summarize_request(story, rng, bare_share=0.5) for story in stories]
    examples = qa[: per_label * 2] + chat[: per_label * 2] + translate + summarize
    rng.shuffle(examples)
    return examples
