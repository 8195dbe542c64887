"""Sending replies: quoted, split at Telegram's length limit, recorded with their model version."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from telegram import InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatAction, MessageLimit
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.context import BotContext
from bot.handlers.keyboards import feedback_keyboard
from bot.services.conversation import Reply
from bot.storage.records import OutgoingMessage
from bot.texts import say

log = logging.getLogger(__name__)

TYPING_REPEAT_S = 4.5  # Telegram shows "typing" for about 5 seconds
SEND_ATTEMPTS = 6  # a reply is tried this often before the turn fails (about 30 s of waits)
SEND_BACKOFF_S = 0.5  # the first wait; it doubles after each failure, up to SEND_BACKOFF_MAX_S
SEND_BACKOFF_MAX_S = 10.0

T = TypeVar("T")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Pieces of at most ``limit`` UTF-16 code units (Telegram's measure), cut at a line break
    or a space when there is one in the second half of the piece."""
    pieces: list[str] = []
    rest = text
    while _utf16_len(rest) > limit:
        cut, size = 0, 0
        for index, char in enumerate(rest):  # the longest prefix that fits
            size += _utf16_len(char)
            if size > limit:
                break
            cut = index + 1
        window = rest[:cut]
        for separator in ("\n", " "):
            position = window.rfind(separator)
            if position > cut // 2:
                cut = position + 1
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    if rest.strip() or not pieces:
        pieces.append(rest)
    return [piece for piece in pieces if piece] or [text[:1] or " "]


async def with_retries(send: Callable[[], Awaitable[T]], what: str) -> T:
    """Call the Bot API, retrying what may pass on a second try: 5xx answers, time-outs and
    dropped connections (with exponential back-off) and 429 (after ``retry_after``; PTB's rate
    limiter has already retried those it could). A request refused as such (400, 403) is not
    retried.

    A time-out can hide a reply that Telegram accepted before the answer was lost; retrying
    then sends it twice. The alternative, giving up, loses it, so the bot retries (see the
    README: at least once).
    """
    delay = SEND_BACKOFF_S
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await send()
        except BadRequest:
            raise
        except (NetworkError, RetryAfter) as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            wait = _retry_after_s(exc) if isinstance(exc, RetryAfter) else delay
            log.warning("%s failed (%s: %s); retry %d of %d in %.1f s", what,
                        type(exc).__name__, exc, attempt, SEND_ATTEMPTS - 1, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, SEND_BACKOFF_MAX_S)
    raise AssertionError("unreachable")


def _retry_after_s(exc: RetryAfter) -> float:
    after = exc.retry_after
    return float(after.total_seconds() if hasattr(after, "total_seconds") else after) + 0.1


async def respond(update: Update, context: BotContext, reply: Reply,
                  markup: InlineKeyboardMarkup | None = None) -> None:
    """Send the reply quoting the user's message, then record it and close the turn.

    ``markup`` goes under the last piece; a model's answer gets 👍/👎 there by default."""
    message = update.effective_message
    turn = context.current_turn
    assert message is not None
    if turn.truncated and reply.task is not None:  # a model read only the first MAX_INPUT_CHARS
        note = say(turn.lang, "truncated", n=context.services.settings.max_input_chars)
        reply = replace(reply, text=f"{reply.text}\n\n{note}")
    sent = []
    ready = time.monotonic()
    quote = ReplyParameters(message.message_id, allow_sending_without_reply=True)
    pieces = split_text(reply.text)
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        buttons = (markup or (feedback_keyboard() if reply.task else None)) if last else None

        def send(piece: str = piece, first: bool = index == 0,
                 buttons: InlineKeyboardMarkup | None = buttons) -> Awaitable[Message]:
            return message.reply_text(piece, reply_parameters=quote if first else None,
                                      reply_markup=buttons)

        posted = await with_retries(
            send, f"reply to message {message.message_id} in chat {message.chat_id}")
        sent.append(OutgoingMessage(
            chat_id=posted.chat_id, message_id=posted.message_id, text=piece,
            reply_to_message_id=message.message_id, task=reply.task,
            model_version=reply.version, confidence=reply.confidence,
            model_ms=reply.model_ms, batch_size=reply.batch_size,
            latency_ms=(time.monotonic() - turn.received_at) * 1000,
        ))
    try:
        await context.services.turns.finish(turn, sent)
    except Exception:
        # The user has the answer; only its record failed (rolled back). An error reply now
        # would follow a good answer, so the log is told, not the user. The message is marked
        # failed on its own (no reply to it will be recorded), so that neither a restart nor
        # another replica answers it again and the chat's next messages do not wait for it;
        # if that fails too (the database is away), it stays unanswered in storage and a
        # restart within RECOVERY_WINDOW_S answers it again.
        log.exception("answered message %s in chat %s but could not record the answer",
                      turn.message_id, turn.chat_id)
        try:
            await context.services.turns.unrecorded(turn)
        except Exception:
            log.exception("nor could it mark message %s in chat %s failed", turn.message_id,
                          turn.chat_id)
        return
    log.debug("chat %s message %s: answer ready after %.0f ms (model %.0f ms), sent in %.0f ms",
              turn.chat_id, turn.message_id, (ready - turn.received_at) * 1000,
              reply.model_ms or 0, (time.monotonic() - ready) * 1000)


async def close_silently(context: BotContext) -> None:
    """The turn gets no reply (e.g. a sticker in a group)."""
    await context.services.turns.close(context.current_turn)


@contextlib.asynccontextmanager
async def typing(context: BotContext, chat_id: int) -> AsyncIterator[None]:
    """Show "typing..." while the body runs, unless it finishes within the configured delay."""
    delay = context.services.settings.typing_delay_ms / 1000

    async def keep_typing() -> None:
        await asyncio.sleep(delay)
        while True:
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
            await asyncio.sleep(TYPING_REPEAT_S)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
