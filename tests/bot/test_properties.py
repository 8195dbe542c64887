"""Property-based tests of every handler: arbitrary Unicode (emoji, right-to-left, zero-width,
combining marks, NUL), lengths from 0 to 100k characters, malformed commands and entities.

For every input: no unhandled exception (nothing reaches the error handler), every reply is
a sendable Telegram message (1 to 4096 UTF-16 code units, not blank), a message addressed to
the bot gets at least one reply, and the stored text is exactly what was sent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import build_application
from bot.texts import say
from tests.bot.conftest import BotHarness, make_settings
from tests.bot.fakes import BOT_USERNAME, FakeBotAPI, FakeModel, FakeModels, Person

SPECIALS = [
    "\x00", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # NUL, zero-width, BOM
    "\u202e", "\u202d", "\u200f", "\u061c",  # bidi overrides and marks
    "\u0301", "\u0308", "\u20dd",  # combining marks
    "👍", "👨‍👩‍👧", "🏳️‍🌈", "🇨🇳",  # emoji, ZWJ sequences, flags
    "שלום", "مرحبا", "中文", "日本語", "ʕ•ᴥ•ʔ", "\n", "\t", " ", "/", "@", "\\",
]
PREFIXES = [
    "", "/start", "/help ", "/ask ", "/translate ", "/translate zh ", "/translate en ",
    "/summarize ", "/mode ", "/lang ", "/digest ", "/nonsense ", f"/translate@{BOT_USERNAME} ",
    "/translate@other_bot ", f"@{BOT_USERNAME} ", "/", "//", "/ ", "/@", "/translate@",
    "/ask\n", "/ASK ", "/ẗranslate ",
]
LENGTHS = [0, 1, 4095, 4096, 4097, 10_000, 100_000]
ENTITY_TYPES = ["bot_command", "mention", "hashtag", "url", "bold", "code", "pre",
                "text_link", "spoiler", "blockquote"]

unicode_text = st.lists(
    st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(SPECIALS)),
    max_size=60).map("".join)


@st.composite
def message_texts(draw: st.DrawFn) -> str:
    """A command prefix (maybe) and arbitrary text, sometimes blown up to a chosen length."""
    text = draw(st.sampled_from(PREFIXES)) + draw(unicode_text)
    if draw(st.booleans()):
        length = draw(st.sampled_from(LENGTHS))
        text = (text * (length // max(len(text), 1) + 1))[:length] if text else "x" * length
    return text


entities = st.lists(st.fixed_dictionaries({
    "type": st.sampled_from(ENTITY_TYPES),
    "offset": st.integers(-3, 120),
    "length": st.integers(-1, 120),
}).map(lambda e: {**e, "url": "https://example.org"} if e["type"] == "text_link" else e),
    max_size=4)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Live:
    """One application (fake models, fake Bot API) on its own event loop, for many examples."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        models = FakeModels.default()
        models.models["qa"] = FakeModel("qa")
        api = FakeBotAPI()
        app = build_application(make_settings(tmp_path, store_group_messages=True),
                                loader=models, request=api)
        self.loop.run_until_complete(app.initialize())
        assert app.post_init is not None
        self.loop.run_until_complete(app.post_init(app))
        self.harness = BotHarness(app, api, models)
        self.people = itertools.count(1000)
        self.errors: list[logging.LogRecord] = []

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        app = self.harness.app
        assert app.post_shutdown is not None
        self.run(app.post_shutdown(app))
        self.run(app.shutdown())
        self.loop.close()


class _Errors(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    live = Live(tmp_path)
    handler = _Errors(live.errors)
    logging.getLogger().addHandler(handler)
    try:
        yield live
    finally:
        logging.getLogger().removeHandler(handler)
        live.close()


def check_exchange(live: Live, text: str, chat: str, extra: dict[str, Any] | None = None
                   ) -> list[str]:
    """Send ``text`` from a new person; check the properties; the replies."""
    harness = live.harness
    person = Person(next(live.people), "Zoë")
    chat_id = person.id if chat == "private" else -person.id
    live.errors.clear()
    replies = live.run(harness.send(person, text, chat_id, extra=extra))
    assert not live.errors, [r.getMessage() for r in live.errors]
    assert say("en", "error") not in replies
    for reply in replies:
        assert reply.strip() and utf16_len(reply) <= 4096, reply[:200]
    [(stored, status)] = live.run(harness.rows(
        "SELECT text, status FROM messages WHERE chat_id=:c AND message_id=:m "
        "AND direction='in'", c=chat_id, m=harness.chatter.message_id))
    assert stored == text
    if chat == "private":
        assert replies and status == "answered"
    return replies


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(text=message_texts(), chat=st.sampled_from(["private", "group"]))
def test_any_text_in_any_chat(live: Live, text: str, chat: str) -> None:
    check_exchange(live, text, chat)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=message_texts(), chat=st.sampled_from(["private", "group"]), found=entities)
def test_malformed_entities(live: Live, text: str, chat: str, found: list[dict[str, Any]]
                            ) -> None:
    """Entities that do not fit the text (offsets past its end, negative lengths, a command
    entity on no command) must not break the bot."""
    check_exchange(live, text, chat, extra={"entities": found})


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=message_texts(), second=message_texts())
def test_edits_store_the_new_text_exactly(live: Live, first: str, second: str) -> None:
    harness = live.harness
    person = Person(next(live.people), "Edith")
    live.errors.clear()
    live.run(harness.send(person, first))
    message_id = harness.chatter.message_id
    assert live.run(harness.send(person, second, edited_of=message_id)) == []
    assert not live.errors, [r.getMessage() for r in live.errors]
    [(stored,)] = live.run(harness.rows(
        "SELECT text FROM messages WHERE chat_id=:c AND message_id=:m AND direction='in'",
        c=person.id, m=message_id))
    assert stored == second


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(caption=st.one_of(st.none(), message_texts()),
       kind=st.sampled_from(["sticker", "photo", "voice", "document", "location"]),
       chat=st.sampled_from(["private", "group"]))
def test_non_text_messages_with_any_caption(live: Live, caption: str | None, kind: str,
                                            chat: str) -> None:
    payloads: dict[str, Any] = {
        "sticker": {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1,
                    "is_animated": False, "is_video": False, "type": "regular"},
        "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
        "voice": {"file_id": "v", "file_unique_id": "v", "duration": 1},
        "document": {"file_id": "d", "file_unique_id": "d"},
        "location": {"latitude": 1.0, "longitude": 2.0},
    }
    extra: dict[str, Any] = {kind: payloads[kind]}
    if caption is not None and kind in ("photo", "voice", "document"):
        extra["caption"] = caption
    harness = live.harness
    person = Person(next(live.people), "Nat")
    chat_id = person.id if chat == "private" else -person.id
    live.errors.clear()
    replies = live.run(harness.send(person, None, chat_id, extra=extra))
    assert not live.errors, [r.getMessage() for r in live.errors]
    if chat == "private":
        assert replies == [say("en", "only_text")]
    else:
        assert replies == []
