"""The routing rules: what a message asks for (qa | chat | translate | summarize) and the text
it is about. One rule set, used by the intent model's predictor (``model.router``) and by the
bot (through ``model.api``); it imports no TensorFlow.

* ``route_by_rules``: the bot's fallback when no intent model is loaded, in this order:

  1. An explicit request to translate ("translate to Chinese: ...", "translate: ...",
     "把这句话翻译成英文:...", "翻译:...") -> translate, with the text after the request and the
     target language it names (otherwise the other language than the text's script).
  2. An explicit request to summarize ("tl;dr: ...", "summarize: ...", "总结一下:...") or a long
     text (at least 40 words, or 80 Chinese characters) -> summarize.
  3. A question (ends in ? or ？, starts with a question word, or uses 吗/什么/怎么/为什么/...)
     -> question answering.
  4. Anything else -> chat.

* ``extract_translation`` / ``extract_summary_text``: once the model has said translate or
  summarize, the text the request is about (the instruction words removed) and the target
  language (``target_language``: the one named, else the other language of the text).
* ``MIN_CONFIDENCE``: below it the intent model's label is not followed (the message is treated
  as a question; ``Route.label`` keeps the model's label).

Every pattern is RE2 (``google-re2``): matching takes time linear in the length of the text,
whatever the text (Python's backtracking ``re`` took minutes on 4,096 characters of crafted
whitespace). RE2 differs from ``re`` in three ways the patterns below account for:

* ``\\s`` is ASCII there: ``_S`` is exactly the characters Python's ``\\s`` matches.
* ``\\b`` is ASCII there: patterns with ``\\b`` (their words are all ASCII) run on ``_shadow``
  of the text, where every non-ASCII letter or digit is ``_``, so that a boundary falls where
  Python's Unicode ``\\b`` puts it; the match positions are the same in both strings.
* no lookaround: the few places that used one check the neighbouring character in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import re2

from model.tokenizer import WHITESPACE, normalize

INTENTS = ("qa", "chat", "translate", "summarize")
MIN_CONFIDENCE = 0.6  # the intent model's label is followed only at this confidence or above
LONG_TEXT_WORDS = 40
LONG_TEXT_CJK = 80

_S_CHARS = WHITESPACE  # Python's \s, as an RE2 class body
_S = f"[{_S_CHARS}]"
# CJK ideographs: extension A, unified, compatibility, extensions B-F (as model.data.clean)
_CJK_CHARS = r"\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}\x{20000}-\x{2ebef}"
_CJK = re2.compile(f"[{_CJK_CHARS}]")
_SPACES = re2.compile(f"{_S}+")

# Language names -> "en" / "zh", for both the rules and the extraction.
LANGUAGE_NAMES = {
    "english": "en", "eng": "en", "en": "en", "英文": "en", "英语": "en", "英語": "en",
    "chinese": "zh", "mandarin": "zh", "zh": "zh", "simplified chinese": "zh",
    "traditional chinese": "zh", "中文": "zh", "汉语": "zh", "漢語": "zh", "华语": "zh",
    "中国话": "zh", "简体中文": "zh", "繁体中文": "zh",
}


def _names(lang: str | None = None, ascii_only: bool | None = None) -> str:
    """An alternation of the language names (longest first), as a non-capturing group."""
    names = [name for name, code in LANGUAGE_NAMES.items()
             if (lang is None or code == lang)
             and (ascii_only is None or name.isascii() == ascii_only)]
    return "(?:" + "|".join(sorted(names, key=len, reverse=True)) + ")"


def _shadow(text: str) -> str:
    """``text`` with each non-ASCII letter or digit replaced by ``_``: RE2's ASCII ``\\b`` on
    the shadow is Python's Unicode ``\\b`` on the text (same length, same positions)."""
    if text.isascii():
        return text
    return "".join("_" if not char.isascii() and char.isalnum() else char for char in text)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def cjk_count(text: str) -> int:
    return len(_CJK.findall(text))


def translation_task(text: str, target: str | None = None) -> str:
    """``translate-zh-en`` for Chinese text (or target ``en``), else ``translate-en-zh``."""
    if target == "en":
        return "translate-zh-en"
    if target == "zh":
        return "translate-en-zh"
    return "translate-zh-en" if has_cjk(text) else "translate-en-zh"


# -- the rules ---------------------------------------------------------------------------------

_LANG = f"(?P<lang>{_names()[3:-1]})"
_SEP = f"{_S}*[:：,，\\-–—]?{_S}*"
_TRANSLATE_RULES = [
    # "translate to chinese: good morning", "please translate this into English - ..."
    re2.compile(f"(?is)^{_S}*(?:please{_S}+|pls{_S}+)?translate{_S}+(?:this{_S}+|it{_S}+)?"
                f"(?:in)?to{_S}+{_LANG}{_SEP}(?P<text>.+)$"),
    # "translate good morning to chinese"
    re2.compile(f"(?is)^{_S}*(?:please{_S}+)?translate{_S}+(?P<text>.+?){_S}+(?:in)?to{_S}+"
                f"{_LANG}{_S}*[.!]?{_S}*$"),
    # "translate: good morning"
    re2.compile(f"(?is)^{_S}*(?:please{_S}+)?translate{_S}*[:：]{_S}*(?P<text>.+)$"),
    # "把这句话翻译成英文:早上好", "翻译成中文:good morning"
    re2.compile(f"(?is)^{_S}*(?:请)?(?:把|將|将)?(?:这句话|這句話|这段话|下面的话|它)?"
                f"(?:翻译|翻譯|译)成{_LANG}(?:吧)?{_SEP}(?P<text>.+)$"),
    # "早上好 翻译成英文"
    re2.compile(f"(?is)^{_S}*(?:请)?(?:把|將|将)?(?P<text>.+?){_S}*(?:翻译|翻譯|译)成{_LANG}"
                f"{_S}*[。.!！]?{_S}*$"),
    # "翻译:早上好"
    re2.compile(f"(?s)^{_S}*(?:请)?(?:翻译|翻譯)(?:一下)?{_SEP}(?P<text>.+)$"),
]
_SUMMARIZE_RULES = [
    re2.compile(f"(?is)^{_S}*(?:tl{_S}*;?{_S}*dr|summari[sz]e(?:{_S}+this)?|summary|"
                f"sum{_S}+up){_S}*[:：,\\-–—]{_S}*(?P<text>.+)$"),
    re2.compile(f"(?s)^{_S}*(?:请)?(?:总结|總結|概括|摘要)(?:一下)?{_S}*[:：,，]{_S}*(?P<text>.+)$"),
]
_QUESTION_START = re2.compile(  # on _shadow(text)
    f"(?i)^{_S}*(?:what|who|whom|whose|where|when|why|how|which|is|are|am|was|were|can|could|"
    r"do|does|did|will|would|should|shall|may|have|has)\b")
_QUESTION_ZH = re2.compile(r"吗|嗎|什么|什麼|怎么|怎麼|为什么|為什麼|哪|谁|誰|如何|几|幾|是否|多少")


@dataclass(frozen=True)
class Route:
    """Where one message goes and with which text."""

    intent: str  # qa | chat | translate | summarize
    text: str
    target: str | None = None  # translate: "en" or "zh"
    source: str = "rules"  # rules | model
    confidence: float = 1.0
    label: str | None = None  # the intent model's own label (also below MIN_CONFIDENCE)


def is_long(text: str) -> bool:
    return len(text.split()) >= LONG_TEXT_WORDS or cjk_count(text) >= LONG_TEXT_CJK


def is_question(text: str) -> bool:
    stripped = text.strip()
    return (stripped.endswith(("?", "？")) or _QUESTION_START.match(_shadow(stripped)) is not None
            or _QUESTION_ZH.search(stripped) is not None)


def route_by_rules(text: str) -> Route:
    """The rules of the module docstring."""
    for rule in _TRANSLATE_RULES:
        if (match := rule.match(text)) and match.group("text").strip():
            named = match.groupdict().get("lang")
            target = LANGUAGE_NAMES.get(named.lower()) if named else None
            return Route("translate", match.group("text").strip(), target)
    for rule in _SUMMARIZE_RULES:
        if (match := rule.match(text)) and match.group("text").strip():
            return Route("summarize", match.group("text").strip())
    if is_long(text):
        return Route("summarize", text.strip())
    if is_question(text):
        return Route("qa", text.strip())
    return Route("chat", text.strip())


# -- extraction (after the intent model said translate or summarize) ----------------------------

_EN = _names("en", ascii_only=True)
_ZH = _names("zh", ascii_only=True)
_EN_WORDS = _names("en", ascii_only=False)
_ZH_WORDS = _names("zh", ascii_only=False)
# (language, pattern, runs on the shadow): the first that matches names the target
_TARGET_PATTERNS = [
    ("en", re2.compile(f"(?:中译英|中翻英|汉译英|翻译成{_EN_WORDS}|译成{_EN_WORDS}|翻成{_EN_WORDS}"
                       f"|{_EN_WORDS}(?:怎么说|怎么讲|翻译|是什么)|的{_EN_WORDS})"), False),
    ("zh", re2.compile(f"(?:英译中|英翻中|英译汉|翻译成{_ZH_WORDS}|译成{_ZH_WORDS}|翻成{_ZH_WORDS}"
                       f"|{_ZH_WORDS}(?:怎么说|怎么讲|翻译|是什么)|的{_ZH_WORDS})"), False),
    ("en", re2.compile(f"(?i)\\b(?:in|into|to|for){_S}+{_EN}\\b|\\b{_EN}{_S}+"
                       f"(?:for|translation|please)\\b|\\btr{_S}+en\\b|^{_S}*{_EN}{_S}*:"), True),
    ("zh", re2.compile(f"(?i)\\b(?:in|into|to|for){_S}+{_ZH}\\b|\\b{_ZH}{_S}+"
                       f"(?:for|translation|please)\\b|\\btr{_S}+zh\\b|^{_S}*{_ZH}{_S}*:"), True),
]
_DOUBLE_QUOTED = re2.compile(r"[\"“「『]([^\"“”「」『』]+?)[\"”」』]")
_SINGLE_QUOTES = re2.compile(r"['‘’]")
_LANGUAGE_ONLY = re2.compile(f"(?i)^(?:{_EN}|{_ZH}|{_ZH_WORDS}|{_EN_WORDS})[{_S_CHARS}.?!。？！]*$")
_SEPARATOR = re2.compile(f"[:：]|{_S}-{_S}|{_S}->{_S}|\n")
# instruction phrases removed when the text has no quote or separator to cut at
_INSTRUCTION_EN = re2.compile(  # on _shadow(text)
    f"(?i)\\b(?:(?:can|could|would|will){_S}+you{_S}+)?(?:please{_S}+)?(?:help{_S}+me{_S}+)?"
    f"(?:translate|translation|tr)\\b(?:{_S}+(?:this|that|the following|the sentence|"
    f"this sentence|it|for me|please))*|\\bhow{_S}+(?:do|would|can|should){_S}+(?:you|i|we)"
    f"{_S}+say\\b|\\bwhat(?:'s|{_S}+is|{_S}+does)?(?:{_S}+the{_S}+{_EN}|{_S}+the{_S}+{_ZH})?"
    f"(?:{_S}+for)?\\b|\\bsay\\b|\\b(?:{_EN}|{_ZH}){_S}+(?:translation|version)(?:{_S}+of)?\\b|"
    f"\\b(?:in|into|to|for){_S}+(?:{_EN}|{_ZH})\\b|\\bmean\\b|\\bplease\\b|\\bfor me\\b|->")
_INSTRUCTION_ZH = re2.compile(
    f"(?:请|麻烦)?(?:你)?(?:帮我|帮忙)?(?:把)?(?:这句话|这句|下面的句子|下面这句|这段话|下面的话)?"
    f"(?:翻译成|译成|翻成|翻译为|翻译一下|翻译)(?:{_ZH_WORDS}|{_EN_WORDS})?(?:是什么|怎么说)?"
    f"|(?:用)?(?:{_ZH_WORDS}|{_EN_WORDS})(?:怎么说|怎么讲|翻译|是什么)|的(?:{_ZH_WORDS}|{_EN_WORDS})"
    r"(?:是什么|怎么说)?|中译英|英译中|中翻英|英翻中")
_SUMMARY_WORDS = re2.compile(
    r"(?i)summar|tl;?dr|gist|short version|main point|condense|sum up|one line|in short|shorter|"
    r"brief|what is this (?:text )?about|总结|概括|摘要|要点|太长|主要内容|归纳|讲了什么")
# "tl;dr", "summarize please" ...: the keyword, then (in code) no letter, digit or ideograph
_SUMMARY_KEYWORD = re2.compile(
    f"(?i)^{_S}*(?:tl;?dr|summary|summari[sz]e|总结一下|总结|概括|摘要)({_S}+please)?")
_AFTER_KEYWORD = re2.compile(f"[{_S_CHARS}:：,.!。！-]*")
_SHORT_LEAD = re2.compile(r"^[^:：\n]{0,30}[:：\n]")  # "this:", "the following text:"
# up to a colon, a line break, or an end of sentence followed by a space or non-ASCII character
_LEADING_SEGMENT = re2.compile(f"^(.{{0,80}}?)(?:[:：\n]|[?？.。!！]([{_S_CHARS}]|"
                               r"[^\x00-\x7f]))")
# the last sentence: after an end of sentence, at most 80 characters to the end
_TRAILING_SENTENCE = re2.compile(f"[.。!！?？]{_S}*([^.。!！?？]{{1,80}}[.。!！?？]*){_S}*$")


def _search_shadowed(pattern: re2._Regexp, text: str) -> bool:
    return pattern.search(_shadow(text)) is not None


def _sub_shadowed(pattern: re2._Regexp, replacement: str, text: str) -> str:
    """``pattern.sub(replacement, text)`` with the matches found on ``_shadow(text)``."""
    pieces, last = [], 0
    for match in pattern.finditer(_shadow(text)):
        pieces += [text[last : match.start()], replacement]
        last = match.end()
    return "".join(pieces) + text[last:]


def target_language(text: str, payload: str) -> str:
    """The language named in the request ("en" / "zh"), else the other one of the payload."""
    for lang, pattern, shadowed in _TARGET_PATTERNS:
        if pattern.search(_shadow(text) if shadowed else text):
            return lang
    return "en" if has_cjk(payload) else "zh"


def _quoted(text: str) -> str | None:
    """The first quoted part: "..." “...” 「...」 『...』, or '...' ‘...’ between non-letters."""
    double = _DOUBLE_QUOTED.search(text)
    end = double.start() if double else len(text)
    quotes = [m.start() for m in _SINGLE_QUOTES.finditer(text)]
    for opening, closing in pairwise(quotes):
        if opening >= end:
            break
        if (text[opening] in "'‘" and text[closing] in "'’" and closing > opening + 1
                and not _ascii_letter(text, opening - 1) and not _ascii_letter(text, closing + 1)):
            return text[opening + 1 : closing]
    return double.group(1) if double else None


def _ascii_letter(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isascii() and text[index].isalpha()


def extract_translation(text: str) -> tuple[str, str]:
    """(text to translate, target language) of a translation request.

    A quoted part wins; otherwise the part after a separator (colon, " - ", newline) when the
    part before it names the request; otherwise the message without its instruction words.
    """
    text = normalize(text)
    quoted = _quoted(text)
    if quoted and quoted.strip():
        payload = quoted.strip()
    else:
        payload = _after_separator(text) or _strip_instruction(text)
        payload = payload.strip(" \t\"'“”‘’「」?？。:：") or text
    return payload, target_language(text, payload)


def _after_separator(text: str) -> str:
    match = _SEPARATOR.search(text)
    if not match:
        return ""
    head, tail = text[: match.start()], text[match.end():].strip()
    if not tail:
        return ""
    if _LANGUAGE_ONLY.match(tail):  # "good night -> Chinese"
        return head.strip()
    if (_search_shadowed(_INSTRUCTION_EN, head) or _INSTRUCTION_ZH.search(head)
            or any(p.search(_shadow(head) if s else head) for _, p, s in _TARGET_PATTERNS)):
        return _strip_instruction(tail) if _search_shadowed(_INSTRUCTION_EN, tail) else tail
    return ""


def _strip_instruction(text: str) -> str:
    stripped = _INSTRUCTION_ZH.sub(" ", text) if has_cjk(text) else text
    stripped = _sub_shadowed(_INSTRUCTION_EN, " ", stripped)
    return _SPACES.sub(" ", stripped).strip(" ,.!?？，。")


def _is_word_char(char: str) -> bool:
    """Python's ``\\w`` (and the unified ideographs)."""
    return char.isalnum() or char == "_" or "\u4e00" <= char <= "\u9fff"


def _summary_keyword_end(body: str) -> int | None:
    """Where a leading "tl;dr" / "summarize (please)" / "总结一下" and its separators end, when
    the keyword is not the start of a longer word; None without one."""
    keyword = _SUMMARY_KEYWORD.match(body)
    if not keyword:
        return None
    for end in ([keyword.end(), keyword.start(1)] if keyword.group(1)
                else [keyword.end()]):
        if end >= len(body) or not _is_word_char(body[end]):
            separators = _AFTER_KEYWORD.match(body, end)
            return separators.end() if separators else end
    return None


def extract_summary_text(text: str) -> str:
    """The paragraph of a summary request, without the instruction before or after it.

    A leading segment (up to a colon, a line break or the end of its first sentence) or a short
    last sentence is dropped when it speaks of summarizing ("tl;dr", "sum up", "总结一下").
    """
    body = text.strip()
    keyword_end = _summary_keyword_end(body)
    if keyword_end is not None:  # "tl;dr ...", "summarize this: ...", "总结一下：..."
        keyword = body[:keyword_end]
        body = body[keyword_end:].strip()
        if not any(char in ":：\n" for char in keyword):  # not already past the separator
            lead = _SHORT_LEAD.match(body)
            body = body[lead.end():].strip() if lead else body
    for _ in range(2):  # "Can you give me a short summary of the following? ..."
        match = _LEADING_SEGMENT.match(body)
        if not match:
            break
        end = match.start(2) if match.group(2) else match.end()
        if not _SUMMARY_WORDS.search(match.group(1) or body[:end]):
            break
        body = body[end:].strip()
    match = _TRAILING_SENTENCE.search(body)
    if match and _SUMMARY_WORDS.search(match.group(1)):
        body = body[: match.start(1)].strip()
    return body or text.strip()
