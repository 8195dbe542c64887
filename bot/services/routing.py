"""Where free text goes: question answering, chat, translation or summarization.

The ``intent`` model decides when it is installed (below its confidence threshold the message
counts as a question; when question answering is not sure of it, only what is no question goes
to chat, see ``unsure_answer_goes_to_chat``). Until it loads
(or when it fails), simple documented rules decide, in this order:

1. An explicit request to translate ("translate to Chinese: ...", "translate: ...",
   "把这句话翻译成英文:...", "翻译:...") -> translate, with the text after the request and the
   target language it names (otherwise the other language than the text's script).
2. An explicit request to summarize ("tl;dr: ...", "summarize: ...", "总结一下:...") or a long
   text (at least 40 words, or 80 Chinese characters) -> summarize.
3. A question (ends in ? or ？, starts with a question word, or uses 吗/什么/怎么/为什么/...)
   -> question answering.
4. Anything else -> chat.

The rules, the extraction and the confidence threshold are ``model.routing_rules`` (through
``model.api``): one rule set for the bot and the intent model.
"""

from __future__ import annotations

import logging

from bot.services.inference import InferenceError, InferenceService, ModelAnswer
from model.api import (  # the one rule set, shared with the intent model's extraction
    INTENTS,
    MIN_CONFIDENCE,
    Route,
    has_cjk,
    is_long,
    is_question,
    route_by_rules,
    translation_task,
)

__all__ = ["Route", "Router", "has_cjk", "is_long", "is_question", "route_by_rules",
           "translation_task", "unsure_answer_goes_to_chat"]

log = logging.getLogger(__name__)


def _route_from_model(answer: ModelAnswer, text: str, min_confidence: float) -> Route:
    """Read the intent model's output; the rules fill in what it does not extract.

    The intent model's predictions carry ``label`` and ``target_lang`` and put the extracted
    text (what to translate or summarize) in ``text``; a label-only model may instead answer
    the label as its text. Below ``min_confidence`` the message is treated as a question (the
    router's documented low-confidence rule); the model's own label is kept in ``label`` for
    ``unsure_answer_goes_to_chat``.
    """
    labelled = answer.label is not None
    label = (answer.label if answer.label is not None else answer.text).strip().lower()
    rules = route_by_rules(text)
    if label not in INTENTS:
        return rules
    if answer.confidence < min_confidence:
        return Route("qa", text.strip(), None, "model", answer.confidence, label)
    same = rules.intent == label
    payload = answer.text.strip() if labelled else ""
    target = answer.target_lang
    return Route(
        intent=label,
        text=payload or (rules.text if same else text.strip()),
        target=str(target) if target else (rules.target if same else None),
        source="model",
        confidence=answer.confidence,
        label=label,
    )


def unsure_answer_goes_to_chat(route: Route, text: str, min_confidence: float) -> bool:
    """Question answering was not sure of ``text``: may the chat model reply instead?

    Only to chit-chat. The chat model knows no facts, and given a factual question it makes one
    up ("what is the capital of France?" -> "omaha nebraska"), so a question gets an honest
    "I don't know that yet". A question is what the router labels ``qa`` at its threshold or
    above, or any message the rules see as one (a question mark, a question word, 吗/什么/...);
    what remains went to question answering only because the router was unsure of its label,
    and chat replies to it.
    """
    if route.label == "qa" and route.confidence >= min_confidence:
        return False
    return not is_question(text)


class Router:
    """Routes free text with the intent model when it is loaded, else with the rules."""

    def __init__(self, inference: InferenceService, min_confidence: float = MIN_CONFIDENCE) -> None:
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
