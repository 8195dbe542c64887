"""No message holds the event loop: while every text handler reads adversarial text, the loop
never stalls for 100 ms and another user's /start is answered within a second.

The text is bait for the routing and tokenizer patterns, built from their own structure: the
keywords they look for ("translate", "to", "翻译成", "tl;dr", "%0" ...) and the separators they
repeat (runs of spaces, NBSP, newlines, colons), up to and past Telegram's 4096 characters.
Before the rules moved to RE2 one such message (issue 13) froze every chat for minutes. The
messages go through the fallback rules (no intent model) and through an intent model that does
what ``model.intent_predictor.IntentPredictor.predict`` does with a message in its worker thread.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import build_application
from model.api import Prediction, extract_summary_text, extract_translation, route_by_rules
from model.tokenizer import mask_placeholders, normalize
from tests.bot.conftest import BotHarness, make_settings
from tests.bot.fakes import BOT_USERNAME, FakeBotAPI, FakeModel, FakeModels, Person

MAX_LAG_S = 0.1
START_WITHIN_S = 1.0
TICK_S = 0.005

KEYWORDS = ["translate", "translate to", "to", "into", "in", "please", "this", "english",
            "chinese", "zh", "en", "翻译成", "翻译", "译成", "英文", "中文", "把", "请", "tl;dr",
            "tl", "dr", "summarize", "summary", "总结一下", "总结", "what", "how do you say",
            "%0", "%", "0", "%(", "{", "{0:", "'", "‘", "\"", "“", "「", "x", "早上好", "?", "。"]
SEPARATORS = [" ", " ", "\u00a0", "\n", "\t", "\u3000", ":", "：", "-", " - ", "->", ",", "."]
# how the patterns start
LEADS = ["", "translate", "translate to", "please translate", "翻译成", "翻译", "请把", "tl;dr",
         "summarize", "总结一下", "how do you say", "%0", "what is", "早上好"]
PREFIXES = ["", "", "", "", "/translate ", "/translate zh ", "/summarize ", "/ask ", "/teach ",
            f"@{BOT_USERNAME} "]

@st.composite
def bait(draw: st.DrawFn) -> str:
    """A handler prefix, how a pattern starts, then two runs of a separator each followed by a
    keyword (the shape that makes a backtracking pattern try every split), up to 5000
    characters."""
    text = draw(st.sampled_from(PREFIXES)) + draw(st.sampled_from(LEADS))
    for _ in range(2):
        separator, keyword = draw(st.sampled_from(SEPARATORS)), draw(st.sampled_from(KEYWORDS))
        text += separator * draw(st.integers(0, 4200)) + keyword * draw(st.integers(1, 3))
    return text[:5000]


class RouterLikeModel(FakeModel):
    """The intent model's pure-Python work on a message, as ``IntentPredictor.predict`` does it
    (the label comes from the rules instead of the network)."""

    def __init__(self) -> None:
        super().__init__("intent")

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        out: list[Prediction] = []
        for raw in texts:
            text = normalize(raw) if "\n" not in raw else raw.strip()
            mask_placeholders(text)  # the tokenizer masks placeholders before encoding
            label, payload, target = route_by_rules(text).intent, text, None
            if label == "translate":
                payload, target = extract_translation(text)
            elif label == "summarize":
                payload = extract_summary_text(text)
            out.append(Prediction(payload, 0.9, "intent", "v-fake", True, label, target))
        return out


class Watched:
    """One application on its own loop, with a ticker measuring how late the loop runs it."""

    def __init__(self, tmp_path: Path, with_intent: bool) -> None:
        self.loop = asyncio.new_event_loop()
        models = FakeModels.default()
        overrides: dict[str, Any] = {"store_group_messages": True}
        if with_intent:
            models.models["intent"] = RouterLikeModel()
            overrides["preload_tasks"] = ["intent"]
        api = FakeBotAPI()
        app = build_application(make_settings(tmp_path, **overrides), loader=models,
                                request=api)
        self.loop.run_until_complete(app.initialize())
        assert app.post_init is not None
        self.loop.run_until_complete(app.post_init(app))
        self.harness = BotHarness(app, api, models)
        self.people = itertools.count(5000)
        self.worst_lag = 0.0
        if with_intent:
            self.loop.run_until_complete(self._until_ready("intent"))

    async def _until_ready(self, task: str) -> None:
        for _ in range(500):
            if self.harness.services.inference.ready(task):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{task} did not load")

    async def _tick(self) -> None:
        """How long the loop was held: a tick's lateness, counted only as far as this process
        used the CPU meanwhile (a process the OS did not schedule held nothing; a pattern
        backtracking in the loop, or in a worker thread that keeps the GIL, uses it all)."""
        while True:
            before, cpu = self.loop.time(), time.process_time()
            await asyncio.sleep(TICK_S)
            late = self.loop.time() - before - TICK_S
            self.worst_lag = max(self.worst_lag, min(late, time.process_time() - cpu))

    async def exchange(self, text: str, group: bool) -> float:
        """Deliver ``text`` and, while it is handled, another user's /start; the seconds the
        /start took. ``worst_lag`` is the loop's longest stall meanwhile."""
        sender, other = Person(next(self.people), "Mallory"), Person(next(self.people), "Ann")
        chat_id = -sender.id if group else sender.id
        harness = self.harness
        gc.disable()  # a collection of the test process's heap is not the handlers' work
        ticker = asyncio.create_task(self._tick())
        try:
            await asyncio.sleep(TICK_S * 2)
            self.worst_lag = 0.0
            adversary = asyncio.create_task(harness.send(sender, text, chat_id))
            await asyncio.sleep(0)
            started = time.monotonic()
            replies = await harness.send(other, "/start")
            start_s = time.monotonic() - started
            await adversary
        finally:
            ticker.cancel()
            gc.enable()
        assert replies, "/start got no answer"
        return start_s

    def close(self) -> None:
        app = self.harness.app
        assert app.post_shutdown is not None
        self.loop.run_until_complete(app.post_shutdown(app))
        self.loop.run_until_complete(app.shutdown())
        self.loop.close()


@pytest.fixture(params=["rules", "intent model"])
def watched(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Watched]:
    watched = Watched(tmp_path, with_intent=request.param == "intent model")
    try:
        for warm_up in ("hello", "/start", "translate to chinese: good morning"):
            watched.loop.run_until_complete(watched.exchange(warm_up, group=False))
        yield watched
    finally:
        watched.close()


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(text=bait(), group=st.booleans())
def test_adversarial_text_never_holds_the_loop(watched: Watched, text: str, group: bool) -> None:
    if group and not text.startswith(("/", "@")):
        text = f"@{BOT_USERNAME} {text}"  # addressed to the bot, so that it is answered
    start_s = watched.loop.run_until_complete(watched.exchange(text, group))
    assert watched.worst_lag < MAX_LAG_S, (
        f"the loop stalled {watched.worst_lag * 1000:.0f} ms on {text[:60]!r}... "
        f"({len(text)} characters)")
    assert start_s < START_WITHIN_S, f"/start took {start_s:.2f} s"


def test_the_issue_message_in_both_paths(watched: Watched) -> None:
    for text in ("translate" + " " * 4087 + "x", "%0" + "0" * 4094):
        start_s = watched.loop.run_until_complete(watched.exchange(text, group=False))
        assert watched.worst_lag < MAX_LAG_S and start_s < START_WITHIN_S, (
            watched.worst_lag, start_s)
