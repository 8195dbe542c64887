"""What the bot answers, independent of Telegram: the same code serves the terminal chat.

Each operation takes text and the user's language and returns ``Reply`` objects; model failures
become a clear sentence in that language (the details go to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.services.inference import (
    InferenceError,
    InferenceService,
    InferenceTimeout,
    ModelAnswer,
    TaskUnavailable,
)
from bot.services.routing import (
    Route,
    Router,
    has_cjk,
    translation_task,
    unsure_answer_goes_to_chat,
)
from bot.storage.records import ChatLine
from bot.texts import say

log = logging.getLogger(__name__)

DIGEST_CHUNK_CHARS = 500
DIGEST_CHUNK_LINES = 8


@dataclass(frozen=True)
class Reply:
    """A reply to send; ``task``/``version`` say which model produced it (None: no model)."""

    text: str
    task: str | None = None
    version: str | None = None
    confidence: float | None = None
    model_ms: float | None = None  # the model's time: queue wait + decode
    batch_size: int | None = None


def _from_answer(text: str, answer: ModelAnswer) -> Reply:
    return Reply(text, answer.task, answer.version, answer.confidence, answer.model_ms,
                 answer.batch_size)


class Conversation:
    """Answers, translations, summaries, chat replies and digests."""

    def __init__(
        self,
        inference: InferenceService,
        router: Router,
        max_input_chars: int = 1000,
        teach_hint_in_groups: bool = False,
    ) -> None:
        self.inference = inference
        self.router = router
        self.max_input_chars = max_input_chars
        # ADMIN_USER_IDS is set: "I don't know" in a group says an admin can /teach it
        self.teach_hint_in_groups = teach_hint_in_groups

    # -- operations -------------------------------------------------------------------------
    async def free_text(self, text: str, mode: str, lang: str, in_group: bool = False) -> Reply:
        """Plain text: the chat's mode decides, or the router when the mode is ``auto``."""
        if mode == "auto":
            route = await self.router.route(text)
        else:
            route = Route(mode, text)
        if route.intent == "translate":
            return await self.translate(route.text, route.target, lang)
        if route.intent == "summarize":
            return await self.summarize(route.text, lang)
        if route.intent == "qa":
            return await self.ask(route.text, lang, route=route if mode == "auto" else None,
                                  in_group=in_group)
        return await self.chat(route.text, lang)

    async def translate(self, text: str, target: str | None, lang: str) -> Reply:
        return await self._run(translation_task(text, target), text, lang, _flag_unsure(lang))

    async def summarize(self, text: str, lang: str) -> Reply:
        return await self._run("summarize", text, lang, _flag_unsure(lang))

    async def chat(self, text: str, lang: str) -> Reply:
        return await self._run("chat", text, lang)

    async def ask(self, question: str, lang: str, route: Route | None = None,
                  in_group: bool = False) -> Reply:
        """Question answering; the chat model answers when QA has no model.

        ``/ask`` (no ``route``) shows, when QA is not sure, the closest answer it knows, marked
        as such. Free text routed here (``route``) is answered only from the bank: when QA is
        not sure, a question gets "I don't know that yet" in the user's language (and, in a
        group with ADMIN_USER_IDS set, the hint that an admin can /teach it), never a reply the
        chat model makes up; only what the router was unsure of and is no question goes to the
        chat model (``unsure_answer_goes_to_chat``).
        """
        if not await self.inference.available("qa"):
            return await self.chat(question, lang)
        unsure: list[bool] = []

        def render(answer: ModelAnswer) -> str:
            if answer.sure:
                return answer.text
            unsure.append(True)
            if route is not None:  # in the question's language: 法国的首都是哪里? -> Chinese
                hint = in_group and self.teach_hint_in_groups
                return say("zh" if has_cjk(question) else "en",
                           "dont_know_teach" if hint else "dont_know")
            closest = (answer.closest_answer or answer.text).strip()
            if closest:
                return say(lang, "not_sure_closest", answer=closest)
            return say(lang, "not_sure")

        reply = await self._run("qa", question, lang, render)
        if unsure and route is not None and unsure_answer_goes_to_chat(
                route, question, self.router.min_confidence):
            chat = await self.chat(question, lang)
            if chat.task is not None:  # the chat model answered (it may be missing too)
                return chat
        return reply

    async def digest(self, lines: Sequence[ChatLine], lang: str) -> Reply:
        """One summarized line per stretch of conversation, naming who spoke in it."""
        if not lines:
            return Reply(say(lang, "digest_empty"))
        chunks = _chunk(lines)
        sources = [_as_paragraph(chunk)[: self.max_input_chars] for chunk in chunks]
        try:
            answers = await self.inference.predict_many("summarize", sources)
        except InferenceError as exc:
            return self._failure("summarize", exc, lang)
        bullets = []
        for chunk, answer in zip(chunks, answers, strict=True):
            names = ", ".join(dict.fromkeys(line.author for line in chunk))
            summary = answer.text.strip() or chunk[-1].text[:80]
            bullets.append(f"• {names}: {summary}")
        header = say(lang, "digest_header", n=len(lines))
        if not all(a.sure for a in answers if a.text.strip()):
            bullets.append(say(lang, "low_confidence"))
        last = answers[-1]
        return Reply("\n".join([header, *bullets]), last.task, last.version,
                     min(a.confidence for a in answers), max(a.model_ms for a in answers),
                     max(a.batch_size for a in answers))

    # -- helpers ----------------------------------------------------------------------------
    async def _run(
        self,
        task: str,
        text: str,
        lang: str,
        render: Callable[[ModelAnswer], str] | None = None,
    ) -> Reply:
        truncated = len(text) > self.max_input_chars
        try:
            answer = await self.inference.predict(task, text[: self.max_input_chars])
        except InferenceError as exc:
            return self._failure(task, exc, lang)
        body = render(answer) if render else answer.text
        if not body.strip():
            body = say(lang, "empty_answer")
        if truncated:
            body = f"{body}\n\n{say(lang, 'truncated', n=self.max_input_chars)}"
        return _from_answer(body, answer)

    def _failure(self, task: str, exc: InferenceError, lang: str) -> Reply:
        if isinstance(exc, TaskUnavailable):
            return Reply(say(lang, "unavailable", task=task))
        if isinstance(exc, InferenceTimeout):
            log.warning("time-out: %s", exc)
            return Reply(say(lang, "timeout"))
        log.error("model failure on %s: %s", task, exc)
        return Reply(say(lang, "error"))


def _flag_unsure(lang: str) -> Callable[[ModelAnswer], str]:
    """A translation or summary, with one line saying so when the model is not confident of it
    (below the task's ``min_confidence``, chosen on dev)."""

    def render(answer: ModelAnswer) -> str:
        if answer.sure or not answer.text.strip():
            return answer.text
        return f"{answer.text}\n{say(lang, 'low_confidence')}"

    return render


def _as_paragraph(lines: Sequence[ChatLine]) -> str:
    """Chat lines as one paragraph of sentences, which is what the summarizer was trained on."""
    sentences = [line.text.strip() for line in lines if line.text.strip()]
    return " ".join(s if s.endswith((".", "!", "?", "。", "！", "？")) else f"{s}."
                    for s in sentences)


def _chunk(lines: Sequence[ChatLine]) -> list[list[ChatLine]]:
    chunks: list[list[ChatLine]] = [[]]
    size = 0
    for line in lines:
        if chunks[-1] and (size + len(line.text) > DIGEST_CHUNK_CHARS
                           or len(chunks[-1]) >= DIGEST_CHUNK_LINES):
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line.text)
    return chunks

