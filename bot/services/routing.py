"""Where free text goes: question answering, chat, translation or summarization.

The ``intent`` model decides when it is installed (below its confidence threshold the message
counts as a question, answered by chat when question answering is not sure). Until it loads
(or when it fails), simple documented rules decide, in this order:

1. An explicit request to translate ("translate to Chinese: ...", "translate: ...",
   "把这句话翻译成英文:...", "翻译:...") -> translate, with the text after the request and the
   target language it names (otherwise the other language than the text's script).
2. An explicit request to summarize ("tl;dr: ...", "summarize: ...", "总结一下:...") or a long
   text (at least 40 words, or 80 Chinese characters) -> summarize.
3. A question (ends in ? or ？, starts with a question word, or uses 吗/什么/怎么/为什么/...)
   -> question answering.
4. Anything else -> chat.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.services.inference import InferenceError, InferenceService, ModelAnswer

log = logging.getLogger(__name__)

INTENTS = ("qa", "chat", "translate", "summarize")
LONG_TEXT_WORDS = 40
LONG_TEXT_CJK = 80

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LANG_WORDS = {
    "english": "en", "en": "en", "英文": "en", "英语": "en", "英語": "en",
    "chinese": "zh", "mandarin": "zh", "zh": "zh", "中文": "zh", "汉语": "zh", "漢語": "zh",
}
_LANG = r"(?P<lang>english|chinese|mandarin|en|zh|中文|英文|英语|英語|汉语|漢語)"
_SEP = r"\s*[:：,，\-–—]?\s*"
_TRANSLATE_RULES = [
    # "translate to chinese: good morning", "please translate this into English - ..."
    re.compile(rf"^\s*(?:please\s+|pls\s+)?translate\s+(?:this\s+|it\s+)?(?:in)?to\s+{_LANG}"
               rf"{_SEP}(?P<text>.+)$", re.I | re.S),
    # "translate good morning to chinese"
    re.compile(rf"^\s*(?:please\s+)?translate\s+(?P<text>.+?)\s+(?:in)?to\s+{_LANG}\s*[.!]?\s*$",
               re.I | re.S),
    # "translate: good morning"
    re.compile(r"^\s*(?:please\s+)?translate\s*[:：]\s*(?P<text>.+)$", re.I | re.S),
    # "把这句话翻译成英文:早上好", "翻译成中文:good morning"
    re.compile(rf"^\s*(?:请)?(?:把|將|将)?(?:这句话|這句話|这段话|下面的话|它)?(?:翻译|翻譯|译)成"
               rf"{_LANG}(?:吧)?{_SEP}(?P<text>.+)$", re.I | re.S),
    # "早上好 翻译成英文"
    re.compile(rf"^\s*(?:请)?(?:把|將|将)?(?P<text>.+?)\s*(?:翻译|翻譯|译)成{_LANG}\s*[。.!！]?\s*$",
               re.I | re.S),
    # "翻译:早上好"
    re.compile(rf"^\s*(?:请)?(?:翻译|翻譯)(?:一下)?{_SEP}(?P<text>.+)$", re.S),
]
_SUMMARIZE_RULES = [
    re.compile(r"^\s*(?:tl\s*;?\s*dr|summari[sz]e(?:\s+this)?|summary|sum\s+up)\s*[:：,\-–—]"
               r"\s*(?P<text>.+)$", re.I | re.S),
    re.compile(r"^\s*(?:请)?(?:总结|總結|概括|摘要)(?:一下)?\s*[:：,，]\s*(?P<text>.+)$", re.S),
]
_QUESTION_START = re.compile(
    r"^\s*(?:what|who|whom|whose|where|when|why|how|which|is|are|am|was|were|can|could|do|"
    r"does|did|will|would|should|shall|may|have|has)\b", re.I)
_QUESTION_ZH = re.compile(r"吗|嗎|什么|什麼|怎么|怎麼|为什么|為什麼|哪|谁|誰|如何|几|幾|是否|多少")


@dataclass(frozen=True)
class Route:
    """Where one message goes and with which text."""

    intent: str  # qa | chat | translate | summarize
    text: str
    target: str | None = None  # translate: "en" or "zh"
    source: str = "rules"  # rules | model
    confidence: float = 1.0


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def translation_task(text: str, target: str | None = None) -> str:
    """``translate-zh-en`` for Chinese text (or target ``en``), else ``translate-en-zh``."""
    if target == "en":
        return "translate-zh-en"
    if target == "zh":
        return "translate-en-zh"
    return "translate-zh-en" if has_cjk(text) else "translate-en-zh"


def is_long(text: str) -> bool:
    return len(text.split()) >= LONG_TEXT_WORDS or len(_CJK.findall(text)) >= LONG_TEXT_CJK


def is_question(text: str) -> bool:
    stripped = text.strip()
    return (stripped.endswith(("?", "？")) or bool(_QUESTION_START.match(stripped))
            or bool(_QUESTION_ZH.search(stripped)))


def route_by_rules(text: str) -> Route:
    """The rules of the module docstring."""
    for rule in _TRANSLATE_RULES:
        if (match := rule.match(text)) and match.group("text").strip():
            named = match.groupdict().get("lang")
            target = _LANG_WORDS.get(named.lower()) if named else None
            return Route("translate", match.group("text").strip(), target)
    for rule in _SUMMARIZE_RULES:
        if (match := rule.match(text)) and match.group("text").strip():
            return Route("summarize", match.group("text").strip())
    if is_long(text):
        return Route("summarize", text.strip())
    if is_question(text):
        return Route("qa", text.strip())
    return Route("chat", text.strip())


def _route_from_model(answer: ModelAnswer, text: str, min_confidence: float) -> Route:
    """Read the intent model's output; the rules fill in what it does not extract.

    The intent model's predictions carry ``label`` and ``target_lang`` and put the extracted
    text (what to translate or summarize) in ``text``; a label-only model may instead answer
    the label as its text. Below ``min_confidence`` the message is treated as a question,
    which falls back to chat when question answering is not sure (the router's documented
    low-confidence rule).
    """
    labelled = answer.label is not None
    label = (answer.label if answer.label is not None else answer.text).strip().lower()
    rules = route_by_rules(text)
    if label not in INTENTS:
        return rules
    if answer.confidence < min_confidence:
        return Route("qa", text.strip(), None, "model", answer.confidence)
    same = rules.intent == label
    payload = answer.text.strip() if labelled else ""
    target = answer.target_lang
    return Route(
        intent=label,
        text=payload or (rules.text if same else text.strip()),
        target=str(target) if target else (rules.target if same else None),
        source="model",
        confidence=answer.confidence,
    )


class Router:
    """Routes free text with the intent model when it is loaded, else with the rules."""

    def __init__(self, inference: InferenceService, min_confidence: float = 0.6) -> None:
        self.inference = inference
        self.min_confidence = min_confidence

    async def route(self, text: str) -> Route:
        if self.inference.ready("intent"):
            try:
                answer = await self.inference.predict("intent", text)
            except InferenceError as exc:
                log.warning("intent model failed, routing by rules: %s", exc)
            else:
                return _route_from_model(answer, text, self.min_confidence)
        return route_by_rules(text)
