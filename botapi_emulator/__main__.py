"""Standalone emulator with a line-based user, for manual runs and transcripts.

Usage::

    python -m botapi_emulator --port 8081 [--token 123456:TEST] [--username my_bot]

It prints the base URL and the token to give the bot, waits until the bot connects, then
reads lines from stdin (or ``--script FILE``) and prints what the bot says::

    USER_ID CHAT_ID text...            a message (CHAT_ID = USER_ID: private; negative: group)
    USER_ID CHAT_ID >MESSAGE_ID text   a reply to message MESSAGE_ID of that chat
    :press USER_ID CHAT_ID MESSAGE_ID DATA   press an inline button
    :edit USER_ID CHAT_ID MESSAGE_ID text    edit a message
    :sticker USER_ID CHAT_ID / :photo USER_ID CHAT_ID [caption]
    :sleep SECONDS / :quit             (lines starting with '#' are comments)

After each line it waits for the bot's answer (``--reply-timeout``) and until the bot has been
quiet for ``--quiet`` seconds, so a script gives a deterministic transcript.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, TextIO

from .models import Chat, User
from .server import BotAPIServer
from .world import JSON, BotWorld


class LineUser:
    """Turns input lines into user actions and prints the bot's messages and edits."""

    def __init__(self, world: BotWorld, out: TextIO, as_json: bool, language: str):
        self.world = world
        self.out = out
        self.as_json = as_json
        self.language = language
        self._printed: dict[int, int] = {}
        self._edits_printed = 0

    def emit(self, event: str, text: str, payload: Any = None) -> None:
        """Print one event, as text or as a JSON line."""
        if self.as_json:
            self.out.write(json.dumps({"event": event, "data": payload}, ensure_ascii=False))
        else:
            self.out.write(text)
        self.out.write("\n")
        self.out.flush()

    async def _user(self, user_id: int) -> User:
        if user_id not in self.world.users:
            await self.world.add_user(
                user_id, f"User{user_id}", f"user{user_id}", language_code=self.language
            )
        return self.world.users[user_id]

    async def _chat(self, chat_id: int, user: User) -> Chat:
        if chat_id in self.world.chats:
            return self.world.chats[chat_id]
        if chat_id == user.id:
            return await self.world.private_chat(user)
        if chat_id > 0:
            raise ValueError("a private chat's id is the user's id")
        supergroup = str(chat_id).startswith("-100")
        return await self.world.group(f"Group {chat_id}", supergroup=supergroup, chat_id=chat_id)

    @staticmethod
    def describe(message: JSON) -> str:
        """One line for a message: ids, reply target, text or media, buttons."""
        parts = [f"#{message['message_id']}"]
        reply = message.get("reply_to_message")
        if reply:
            parts.append(f"reply to #{reply['message_id']}")
        body = message.get("text") or message.get("caption") or ""
        for media in ("photo", "document", "sticker", "voice"):
            if media in message:
                body = f"<{media}> {body}".strip()
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        buttons = " | ".join(
            f"{b['text']}={b.get('callback_data') or b.get('url') or '?'}" for r in rows for b in r
        )
        suffix = f"  [buttons: {buttons}]" if buttons else ""
        return f"({', '.join(parts)}) {body}{suffix}"

    def flush_bot_output(self) -> int:
        """Print bot messages and edits not printed yet; return how many messages."""
        count = 0
        for chat_id, ids in self.world.outbox.items():
            for message_id in ids[self._printed.get(chat_id, 0) :]:
                message = self.world.messages[(chat_id, message_id)]
                self.emit(
                    "bot_message",
                    f"[bot -> chat {chat_id}] {self.describe(message)}",
                    message,
                )
                count += 1
            self._printed[chat_id] = len(ids)
        for _, chat_id, message_id, what in self.world.edit_log[self._edits_printed :]:
            message = self.world.messages[(chat_id, message_id)]
            self.emit(
                "bot_edit",
                f"[bot edited {what} in chat {chat_id}] {self.describe(message)}",
                message,
            )
        self._edits_printed = len(self.world.edit_log)
        return count

    async def handle(self, line: str) -> int | None:
        """Perform one input line; return the chat id to wait on (None: nothing to wait)."""
        words = line.split(" ")
        if words[0] == ":sleep":
            await asyncio.sleep(float(words[1]))
            return None
        if words[0] in (":press", ":edit", ":sticker", ":photo"):
            user = await self._user(int(words[1]))
            chat = await self._chat(int(words[2]), user)
            if words[0] == ":press":
                query = await self.world.press_button(
                    chat, user, int(words[3]), " ".join(words[4:]), strict=False
                )
                self.emit("user_press", f"[user {user.id} pressed {query['data']!r}]", query)
            elif words[0] == ":edit":
                edited = await self.world.edit_text(chat, user, int(words[3]), " ".join(words[4:]))
                self.emit("user_edit", f"[user {user.id} edited] {self.describe(edited)}", edited)
            elif words[0] == ":sticker":
                sent = await self.world.send_sticker(chat, user)
                self.emit("user_message", f"[user {user.id}] {self.describe(sent)}", sent)
            else:
                sent = await self.world.send_photo(chat, user, caption=" ".join(words[3:]) or None)
                self.emit("user_message", f"[user {user.id}] {self.describe(sent)}", sent)
            return chat.id
        user = await self._user(int(words[0]))
        chat = await self._chat(int(words[1]), user)
        rest = words[2:]
        reply_to: int | None = None
        if rest and rest[0].startswith(">") and rest[0][1:].isdigit():
            reply_to = int(rest[0][1:])
            rest = rest[1:]
        sent = await self.world.send_text(chat, user, " ".join(rest), reply_to=reply_to)
        self.emit("user_message", f"[user {user.id} -> chat {chat.id}] {self.describe(sent)}", sent)
        return chat.id

    async def settle(self, chat_id: int, reply_timeout: float, quiet: float) -> None:
        """Wait for the bot's first message to ``chat_id``, then until it is quiet."""
        start = len(self.world.outbox.get(chat_id, []))
        await self.world.wait_until(
            lambda: len(self.world.outbox.get(chat_id, [])) > start, reply_timeout
        )
        while True:
            before = (sum(len(v) for v in self.world.outbox.values()), len(self.world.edit_log))
            self.flush_bot_output()
            await asyncio.sleep(quiet)
            after = (sum(len(v) for v in self.world.outbox.values()), len(self.world.edit_log))
            if after == before:
                break
        self.flush_bot_output()


async def _read_line(source: TextIO) -> str | None:
    line = await asyncio.to_thread(source.readline)
    return None if line == "" else line.rstrip("\n")


async def main(argv: list[str] | None = None) -> int:
    """Run the standalone emulator until EOF, ``:quit`` or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m botapi_emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", help="bot token to register (default: a fresh one)")
    parser.add_argument("--username", default="emulated_bot", help="the bot's username")
    parser.add_argument("--privacy", action="store_true", help="group privacy mode on")
    parser.add_argument("--lang", default="en", help="language_code of the simulated users")
    parser.add_argument("--script", help="read input lines from this file instead of stdin")
    parser.add_argument(
        "--wait-for-bot",
        type=float,
        default=120.0,
        help="seconds to wait for the bot to connect before sending",
    )
    parser.add_argument("--reply-timeout", type=float, default=60.0)
    parser.add_argument("--quiet", type=float, default=1.0)
    parser.add_argument("--stay", action="store_true", help="keep serving after the input ends")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument("--timing", action="store_true", help="print how long each reply took")
    args = parser.parse_args(argv)

    server = BotAPIServer(args.host, args.port)
    await server.start()
    world = server.register_bot(
        args.token, username=args.username, can_read_all_group_messages=not args.privacy
    )
    user = LineUser(world, sys.stdout, args.json, args.lang)
    info = {
        "url": server.url,
        "base_url": server.base_url,
        "base_file_url": server.base_file_url,
        "token": world.token,
        "username": world.username,
    }
    user.emit(
        "ready",
        f"Bot API emulator on {server.url}\n"
        f"  TELEGRAM_API_BASE_URL={server.base_url}\n"
        f"  base_file_url={server.base_file_url}\n"
        f"  TELEGRAM_BOT_TOKEN={world.token}\n"
        f"Input lines: USER_ID CHAT_ID [>REPLY_TO_ID] text  (see --help)",
        info,
    )
    source: TextIO = open(args.script, encoding="utf-8") if args.script else sys.stdin  # noqa: SIM115
    try:
        connected = await world.wait_until(
            lambda: world.last_poll is not None or world.webhook is not None,
            args.wait_for_bot,
        )
        if not connected:
            user.emit("warning", "[no bot connected yet; sending anyway]")
        while True:
            raw = await _read_line(source)
            if raw is None:
                break
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line == ":quit":
                break
            try:
                chat_id = await user.handle(line)
            except (ValueError, KeyError, IndexError) as exc:
                user.emit("error", f"[error: {exc}]", str(exc))
                continue
            if chat_id is not None:
                started = time.monotonic()
                await user.settle(chat_id, args.reply_timeout, args.quiet)
                if args.timing:
                    user.emit("timing", f"[settled after {time.monotonic() - started:.2f}s]")
        while args.stay:
            await asyncio.sleep(args.quiet)
            user.flush_bot_output()
    finally:
        if source is not sys.stdin:
            source.close()
        user.flush_bot_output()
        await server.stop()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
