"""Terminal chat (``python -m bot`` without a token): the same services, models and storage
as the Telegram bot, one local user in one local chat.

Each line is stored and answered like a Telegram message; the reply is followed by the model
that produced it, so the terminal doubles as a quick check of the installed models.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import replace
from typing import TextIO

from bot.config import Settings
from bot.services.commands import LANGUAGES, MODES, parse_choice, parse_translate, split_command
from bot.services.container import Services, build_services
from bot.services.conversation import Reply
from bot.services.inference import ModelLoader
from bot.services.turns import Turn, cap_input
from bot.storage.records import IncomingMessage, OutgoingMessage
from bot.texts import say

log = logging.getLogger(__name__)

CONSOLE_CHAT_ID = 0  # Telegram never uses 0 for a chat or a user
CONSOLE_USER_ID = 0
CONSOLE_HELP = "\n/chat TEXT - a chat reply\n/quit - leave"
BANNER = (
    "Terminal chat on the local models. /help lists commands, /quit leaves.\n"
    "Models load in the background; the first answers may take a few seconds.\n"
    "To go live on Telegram: put TELEGRAM_BOT_TOKEN=<token from @BotFather> in .env "
    "(see .env.example) and run `make run` again."
)


class Console:
    """Turns one input line into a reply, through the bot's services."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def answer(self, line: str) -> str | None:
        """The reply to print; None means quit."""
        line = line.strip()
        if not line:
            return "Type a message, or /help."
        admitted, _ = cap_input(line, self.services.turns.max_input_chars)  # before parsing
        parts = split_command(admitted) if admitted.startswith("/") else None
        if parts and parts[0] in ("quit", "exit"):
            return None
        turn = await self._begin(line, parts[0] if parts else None)
        reply = await self._reply(turn, parts)
        if turn.truncated and reply.task is not None:  # as in bot.handlers.outgoing.respond
            note = say(turn.lang, "truncated", n=self.services.turns.max_input_chars)
            reply = replace(reply, text=f"{reply.text}\n\n{note}")
        message_id = await self.services.turns.next_message_id(CONSOLE_CHAT_ID)
        await self.services.turns.finish(turn, [OutgoingMessage(
            CONSOLE_CHAT_ID, message_id, reply.text, turn.message_id, reply.task, reply.version,
            reply.confidence, reply.model_ms, reply.batch_size,
            latency_ms=(time.monotonic() - turn.received_at) * 1000)])
        if reply.task is None:
            return reply.text
        meta = f"{reply.task} {reply.version}, confidence {reply.confidence or 0:.2f}"
        return f"{reply.text}\n  ({meta})"

    async def _begin(self, line: str, command: str | None) -> Turn:
        turns = self.services.turns
        message_id = await turns.next_message_id(CONSOLE_CHAT_ID)
        turn = await turns.begin(IncomingMessage(
            chat_id=CONSOLE_CHAT_ID, chat_type="console", chat_title="terminal",
            message_id=message_id, user_id=CONSOLE_USER_ID, username=None,
            first_name="you", language_code=None, text=line, command=command,
        ))
        assert turn is not None  # a fresh message id is never a duplicate
        return turn

    async def _reply(self, turn: Turn, parts: tuple[str, str | None, str] | None) -> Reply:
        conversation, lang = self.services.conversation, turn.lang
        if parts is None:
            return await conversation.free_text(turn.text or "", turn.mode, lang)
        command, _, argument = parts
        if command in ("help", "start"):
            return Reply(say(lang, "help") + CONSOLE_HELP)
        if command == "ask":
            return await conversation.ask(argument, lang) if argument else Reply(
                say(lang, "usage_ask"))
        if command == "translate":
            target, text = parse_translate(argument)
            return await conversation.translate(text, target, lang) if text else Reply(
                say(lang, "usage_translate"))
        if command == "summarize":
            return await conversation.summarize(argument, lang) if argument else Reply(
                say(lang, "usage_summarize"))
        if command == "chat":
            return await conversation.chat(argument, lang) if argument else Reply(
                "Usage: /chat TEXT")
        if command == "mode":
            return await self._set_mode(turn, argument)
        if command == "lang":
            return await self._set_language(turn, argument)
        return Reply(say(lang, "unknown_command", command=f"/{command}"))

    async def _set_mode(self, turn: Turn, argument: str) -> Reply:
        mode = parse_choice(argument, MODES)
        if mode is None:
            return Reply(say(turn.lang, "usage_mode", mode=turn.mode))
        await self.services.turns.set_mode(turn.chat_id, mode)
        return Reply(say(turn.lang, "mode_set", mode=mode))

    async def _set_language(self, turn: Turn, argument: str) -> Reply:
        lang = parse_choice(argument, LANGUAGES)
        if lang is None:
            return Reply(say(turn.lang, "usage_lang", lang=turn.lang))
        await self.services.turns.set_language(turn.user_id, lang)
        return Reply(say(lang, "lang_set"))


async def chat_in_terminal(
    settings: Settings,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    loader: ModelLoader | None = None,
) -> None:
    """Read lines until EOF or /quit, answering each through the bot's services."""
    services = await build_services(settings, loader)
    console = Console(services)
    print(BANNER, file=stdout, flush=True)
    try:
        while True:
            print("> ", end="", file=stdout, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            try:
                reply = await console.answer(line)
            except Exception:  # keep the chat alive; the traceback goes to the log
                log.exception("the terminal chat failed on a line")
                reply = say(settings.default_language, "error")
            if reply is None:
                break
            print(reply, file=stdout, flush=True)
    finally:
        await services.close()


def run_console(settings: Settings, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
                loader: ModelLoader | None = None) -> None:
    asyncio.run(chat_in_terminal(settings, stdin, stdout, loader))
