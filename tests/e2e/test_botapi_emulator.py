"""The Bot API emulator driven by the real, unmodified python-telegram-bot 22.8 stack.

A tiny PTB ``Application`` (echo, commands, inline keyboard, photos) runs against the
emulator over HTTP with long polling or a webhook; the tests act as Telegram users through the
harness and check both what the bot saw and what the emulator recorded. The fault tests also
document how PTB itself reacts to 429, 500/502, time-outs and dropped connections.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    TelegramObject,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, Conflict, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from botapi_emulator import AsyncBotHandle, BotAPIHarness, BotHandle, detect_entities, format_text
from botapi_emulator.errors import ApiError

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x80\x00\x00\x01\xe0\x08\x02\x00\x00\x00"
    + b"\x00" * 64
)


# ------------------------------------------------------------------------------------------
# a tiny PTB bot
# ------------------------------------------------------------------------------------------


@dataclass
class Seen:
    """What the bot under test saw."""

    messages: list[tuple[int, int, str]] = field(default_factory=list)
    replies_to: list[int | None] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


class Endpoint(Protocol):
    """Where a bot finds its Bot API server (a bot handle, or a server in another process)."""

    @property
    def token(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    @property
    def base_file_url(self) -> str: ...


def build_app(
    handle: Endpoint, configure: Callable[[ApplicationBuilder], Any] | None
) -> tuple[Any, Seen]:
    """An Application pointed at the emulator, with a handful of handlers."""
    seen = Seen()
    builder = (
        Application.builder()
        .token(handle.token)
        .base_url(handle.base_url)
        .base_file_url(handle.base_file_url)
        .concurrent_updates(True)
    )
    if configure is not None:
        builder = configure(builder)
    app = builder.build()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message and update.effective_user
        await update.effective_message.reply_text(
            f"hello {update.effective_user.first_name}", do_quote=True
        )

    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("A", callback_data="pick:a"),
                    InlineKeyboardButton("B", callback_data="pick:b"),
                ]
            ]
        )
        await update.effective_message.reply_text("pick one", reply_markup=keyboard)

    async def picked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query and query.data
        await query.answer(f"picked {query.data}")
        await query.edit_message_text(f"you picked {query.data.split(':')[1]}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message and message.text is not None
        seen.messages.append((message.chat_id, message.message_id, message.text))
        reply = message.reply_to_message
        seen.replies_to.append(reply.from_user.id if reply and reply.from_user else None)
        await message.reply_text(f"echo: {message.text}", do_quote=True)

    async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.edited_message
        assert message and message.text is not None and message.edit_date is not None
        seen.edited.append(message.text)
        await message.reply_text(f"edited: {message.text}")

    async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message and message.photo
        await context.bot.send_chat_action(message.chat_id, ChatAction.UPLOAD_PHOTO)
        biggest = message.photo[-1]
        data = await (await biggest.get_file()).download_as_bytearray()
        await message.reply_photo(bytes(data), caption=f"photo {biggest.width}x{biggest.height}")

    async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message
        await context.bot.send_chat_action(update.effective_message.chat_id, ChatAction.TYPING)
        await update.effective_message.reply_text("I only read text")

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        seen.errors.append(context.error)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(picked))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.TEXT, edited))
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, echo)
    )
    app.add_handler(MessageHandler(filters.PHOTO, photo))
    app.add_handler(
        MessageHandler(filters.Sticker.ALL | filters.VOICE | filters.Document.ALL, not_text)
    )
    app.add_error_handler(on_error)
    return app, seen


@asynccontextmanager
async def running(
    handle: Endpoint,
    configure: Callable[[ApplicationBuilder], Any] | None = None,
    webhook: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[Any, Seen]]:
    """Run the tiny bot with long polling (or ``start_webhook(**webhook)``) meanwhile."""
    app, seen = build_app(handle, configure)
    async with app:
        if webhook is None:
            await app.updater.start_polling(poll_interval=0.0, timeout=dtm.timedelta(seconds=5))
        else:
            await app.updater.start_webhook(**webhook)
        await app.start()
        try:
            yield app, seen
        finally:
            await app.updater.stop()
            await app.stop()


def unknown_fields(obj: object, path: str = "") -> list[str]:
    """Fields PTB did not recognise (``api_kwargs``) anywhere inside a parsed object."""
    found: list[str] = []
    if isinstance(obj, TelegramObject):
        if obj.api_kwargs:
            found.append(f"{path or type(obj).__name__}: {sorted(obj.api_kwargs)}")
        for name, value in obj._get_attrs(recursive=False).items():
            found += unknown_fields(value, f"{path}.{name}")
    elif isinstance(obj, (list, tuple)):
        for index, item in enumerate(obj):
            found += unknown_fields(item, f"{path}[{index}]")
    return found


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def api(botapi_bot: BotHandle) -> AsyncBotHandle:
    """The async view of a fresh bot (the PTB app runs on the test's event loop)."""
    return botapi_bot.aio


# ------------------------------------------------------------------------------------------
# conversations through PTB
# ------------------------------------------------------------------------------------------


async def test_private_command_and_echo(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice", username="alice_w")
    chat = await api.private_chat(alice)
    async with running(api) as (app, seen):
        assert app.bot.username == api.username and app.bot.bot.is_bot
        sent = await api.send_text(chat, alice, "/start")
        assert sent["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
        (reply,) = await api.wait_bot_messages(chat)
        assert reply["text"] == "hello Alice"
        assert reply["from"]["id"] == api.bot_id and reply["from"]["is_bot"] is True
        assert reply["chat"] == {
            "id": 1001,
            "username": "alice_w",
            "first_name": "Alice",
            "type": "private",
        }
        assert reply["reply_to_message"]["message_id"] == sent["message_id"]
        assert abs(reply["date"] - time.time()) < 5  # seconds, not milliseconds
        assert reply["message_id"] == sent["message_id"] + 1

        await api.send_text(chat, alice, "hi 😀 there")
        (echo,) = await api.wait_bot_messages(chat)
        assert echo["text"] == "echo: hi 😀 there"
        assert seen.messages[-1][2] == "hi 😀 there" and not seen.errors
    assert await api.collect_bot_messages(chat, quiet=0.1) == []


async def test_group_commands_mentions_and_replies(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice", username="alice_w")
    bob = await api.user(1002, "Bob", language_code="zh")
    group = await api.group("Readers", members=[alice, bob])
    basic = await api.group("Old group", supergroup=False, members=[bob])
    assert group.id < -1_000_000_000_000 and group.type == "supergroup"
    assert basic.id < 0 and basic.type == "group"
    async with running(api) as (_, seen):
        await api.send_text(group, alice, "/start")
        await api.send_text(group, bob, f"/start@{api.username}")
        replies = await api.wait_bot_messages(group, n=2)
        assert sorted(r["text"] for r in replies) == ["hello Alice", "hello Bob"]
        assert all(r["chat"]["title"] == "Readers" for r in replies)

        # another bot's command: PTB's CommandHandler ignores it, and so does the echo
        other = await api.send_text(group, alice, "/start@some_other_bot")
        assert other["entities"][0]["length"] == len("/start@some_other_bot")
        assert await api.collect_bot_messages(group, quiet=0.3) == []

        text = f"what do you think @{api.username}?"
        mention = await api.send_text(group, alice, text)
        assert mention["entities"] == [
            {"offset": text.index("@"), "length": len(api.username) + 1, "type": "mention"}
        ]
        (echo,) = await api.wait_bot_messages(group)
        await api.send_text(group, bob, "a reply to the bot", reply_to=echo)
        (second,) = await api.wait_bot_messages(group)
        # one level deep only, as documented: no reply_to_message inside reply_to_message
        assert "reply_to_message" not in second["reply_to_message"]
        assert seen.replies_to[-1] == api.bot_id

        await api.send_text(basic, bob, "/start")
        (hello,) = await api.wait_bot_messages(basic)
        assert hello["chat"]["type"] == "group" and hello["text"] == "hello Bob"


async def test_inline_keyboard_and_callback_query(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    async with running(api):
        await api.send_text(chat, alice, "/menu")
        (menu,) = await api.wait_bot_messages(chat)
        buttons = menu["reply_markup"]["inline_keyboard"][0]
        assert [b["callback_data"] for b in buttons] == ["pick:a", "pick:b"]
        with pytest.raises(ValueError, match="no button"):
            await api.press_button(chat, alice, menu, "pick:z")
        query = await api.press_button(chat, alice, menu, "pick:b")
        assert query["chat_instance"] and query["message"]["message_id"] == menu["message_id"]
        answer = await api.wait_callback_answer(query)
        assert answer["text"] == "picked pick:b" and answer["show_alert"] is False
        current = await api.wait_message(chat, menu, lambda m: m["text"] == "you picked b")
        assert "reply_markup" not in current  # editMessageText without markup drops it
        assert current["edit_date"] >= menu["date"]
        # the keyboard is gone, so the button cannot be pressed again
        with pytest.raises(ValueError, match="no button"):
            await api.press_button(chat, alice, menu, "pick:a")
        (call,) = await api.calls("answerCallbackQuery")
        assert call.accepted and call.params["callback_query_id"] == query["id"]


async def test_edited_message(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    async with running(api) as (_, seen):
        draft = await api.send_text(chat, alice, "draft")
        await api.wait_bot_messages(chat)
        edited = await api.edit_text(chat, alice, draft, "final /start")
        assert edited["message_id"] == draft["message_id"] and edited["edit_date"] >= draft["date"]
        assert edited["entities"] == [{"offset": 6, "length": 6, "type": "bot_command"}]
        (reply,) = await api.wait_bot_messages(chat)
        assert reply["text"] == "edited: final /start" and seen.edited == ["final /start"]
        kinds = [next(k for k in u if k != "update_id") for u in await api.updates()]
        assert kinds == ["message", "edited_message"]


async def test_photo_upload_download_and_chat_action(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    async with running(api) as (_, seen):
        sent = await api.send_photo(chat, alice, data=PNG, caption="look", width=640, height=480)
        assert [(p["width"], p["height"]) for p in sent["photo"]][-1] == (640, 480)
        assert len(sent["photo"]) == 3 and sent["caption"] == "look"
        (reply,) = await api.wait_bot_messages(chat)
        assert reply["caption"] == "photo 640x480"
        assert reply["photo"][-1]["width"] == 640  # read from the uploaded PNG's header
        assert await api.file_bytes(reply["photo"][-1]["file_id"]) == PNG
        assert await api.chat_actions(chat) == ["upload_photo"]
        (upload,) = await api.calls("sendPhoto")
        assert upload.files["photo"][1] == len(PNG)  # multipart upload
        assert [c.method for c in await api.calls("getFile")] == ["getFile"]
        assert not seen.errors


async def test_non_text_messages(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    async with running(api):
        sticker = await api.send_sticker(chat, alice, emoji="🐱")
        voice = await api.send_voice(chat, alice, duration=3)
        document = await api.send_document(chat, alice, b"some notes", "notes.txt")
        assert sticker["sticker"]["type"] == "regular" and voice["voice"]["duration"] == 3
        assert document["document"]["file_name"] == "notes.txt"
        replies = await api.wait_bot_messages(chat, n=3)
        assert [r["text"] for r in replies] == ["I only read text"] * 3
        assert await api.chat_actions(chat) == ["typing"] * 3


async def test_duplicate_delivery_is_seen_twice(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    async with running(api) as (_, seen):
        message = await api.send_text(chat, alice, "only once please")
        await api.wait_bot_messages(chat)
        new_id = await api.deliver_again(message)  # same message, new update_id
        await api.wait_bot_messages(chat)
        first_id = (await api.updates())[0]["update_id"]
        assert new_id > first_id
        assert await api.deliver_again(first_id, same_id=True) == first_id  # already confirmed
        await api.wait_bot_messages(chat)
        key = (chat.id, message["message_id"], "only once please")
        assert seen.messages == [key, key, key]  # deduplication is the bot's job


async def test_concurrent_users_get_their_own_replies(api: AsyncBotHandle) -> None:
    users = [await api.user(2000 + i, f"User{i}") for i in range(20)]
    chats = [await api.private_chat(u) for u in users]

    async def converse(index: int) -> list[str]:
        texts = []
        for turn in range(2):
            await api.send_text(chats[index], users[index], f"u{index} t{turn}")
            (reply,) = await api.wait_bot_messages(chats[index])
            texts.append(reply["text"])
        return texts

    async with running(api):
        results = await asyncio.gather(*(converse(i) for i in range(20)))
    assert results == [[f"echo: u{i} t0", f"echo: u{i} t1"] for i in range(20)]


# ------------------------------------------------------------------------------------------
# Bot API methods through PTB's Bot
# ------------------------------------------------------------------------------------------


async def test_commands_by_scope_and_language(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice", language_code="en")
    bob = await api.user(1002, "Bob", language_code="zh")
    private = await api.private_chat(alice)
    bobs = await api.private_chat(bob)
    group = await api.group("Readers", members=[alice, bob])
    other = await api.group("Others", members=[alice])
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        assert await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
        await bot.set_my_commands([BotCommand("start", "开始")], language_code="zh")
        await bot.set_my_commands(
            [BotCommand("ask", "Ask"), BotCommand("mode", "Mode")],
            scope=BotCommandScopeAllPrivateChats(),
        )
        await bot.set_my_commands(
            [BotCommand("mode", "模式")], scope=BotCommandScopeAllPrivateChats(), language_code="zh"
        )
        await bot.set_my_commands([BotCommand("digest", "Digest")], BotCommandScopeAllGroupChats())
        await bot.set_my_commands([BotCommand("translate", "Tr")], BotCommandScopeChat(group.id))

        assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
        assert [c.description for c in await bot.get_my_commands(language_code="zh")] == ["开始"]
        assert await bot.get_my_commands(scope=BotCommandScopeChat(other.id)) == ()
        assert await api.commands({"type": "all_group_chats"}) == [
            {"command": "digest", "description": "Digest"}
        ]
        assert await api.commands(language_code="zh") == [
            {"command": "start", "description": "开始"}
        ]

        def names(found: list[dict[str, Any]]) -> list[str]:
            return [c["command"] for c in found]

        assert names(await api.visible_commands(private, alice)) == ["ask", "mode"]
        assert [c["description"] for c in await api.visible_commands(bobs, bob)] == ["模式"]
        assert names(await api.visible_commands(group, alice)) == ["translate"]
        assert names(await api.visible_commands(other, alice)) == ["digest"]
        await bot.delete_my_commands(scope=BotCommandScopeChat(group.id))
        assert names(await api.visible_commands(group, alice)) == ["digest"]

        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Start", "uppercase is refused")])
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.set_my_commands([BotCommand("x", "y")], BotCommandScopeChat(-42))


async def test_message_limits_parse_modes_and_chat_errors(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(chat.id, "x" * 4097)
        assert (await bot.send_message(chat.id, "x" * 4096)).text == "x" * 4096
        emoji = await bot.send_message(chat.id, "😀" * 4096)  # counted in characters
        assert emoji.text is not None and len(emoji.text) == 4096
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(chat.id, "   ")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(999, "hello")

        html = await bot.send_message(
            chat.id, "<b>bold</b> &lt;3 <a href='https://x.org'>x</a>", parse_mode="HTML"
        )
        assert html.text == "bold <3 x"
        assert [(e.type, e.offset, e.length) for e in html.entities] == [
            ("bold", 0, 4),
            ("text_link", 8, 1),
        ]
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(chat.id, "1 < 2", parse_mode="HTML")
        with pytest.raises(BadRequest, match="reserved"):
            await bot.send_message(chat.id, "1.5", parse_mode="MarkdownV2")
        v2 = await bot.send_message(chat.id, "*1\\.5* _ok_", parse_mode="MarkdownV2")
        assert v2.text == "1.5 ok" and [e.type for e in v2.entities] == ["bold", "italic"]

        await api.block_bot(alice)
        with pytest.raises(Exception, match="blocked by the user"):
            await bot.send_message(chat.id, "are you there?")
        await api.block_bot(alice, blocked=False)

        sent = await api.bot_messages(chat)
        assert [len(m["text"]) for m in sent] == [4096, 4096, 9, 6]
        statuses = [c.status for c in await api.calls("sendMessage")]
        assert statuses == [400, 200, 200, 400, 400, 200, 400, 400, 200, 403]


async def test_ptb_parses_every_emitted_object_without_unknown_fields(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice", username="alice_w", last_name="W")
    bob = await api.user(1002, "Bob")
    chat = await api.private_chat(alice)
    group = await api.group("Readers", members=[alice], admins=[bob])
    await api.set_member_status(group, alice, "creator")
    first = await api.send_text(chat, alice, "/start@x_bot hi @bob_b #tag https://a.org 😀")
    await api.send_text(group, alice, "in a group", reply_to=None)
    await api.send_photo(chat, alice, caption="pic /cmd")
    await api.send_sticker(chat, alice)
    await api.send_voice(chat, alice)
    await api.send_document(chat, alice, b"data", "d.bin", "application/octet-stream")
    await api.edit_text(chat, alice, first, "edited")
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("go", callback_data="go")]])
        sent = await bot.send_message(
            chat.id,
            "pick",
            reply_markup=keyboard,
            reply_parameters=ReplyParameters(first["message_id"], quote="edited"),
        )
        assert sent.quote is not None and sent.quote.text == "edited"
        await api.press_button(chat, alice, sent.to_dict(), "go")
        await api.send_text(chat, alice, "reply to bot", reply_to=sent.to_dict())
        photo = await bot.send_photo(chat.id, PNG, caption="c")
        results: list[object] = [
            bot.bot,
            sent,
            photo,
            await bot.send_document(chat.id, b"doc", filename="a.txt"),
            await bot.get_chat(chat.id),
            await bot.get_chat(group.id),
            await bot.get_webhook_info(),
            await bot.get_file(photo.photo[0].file_id),
        ]
        for user_id in (alice.id, bob.id, api.bot_id):
            results.append(await bot.get_chat_member(group.id, user_id))
        updates = await bot.get_updates()
        assert len(updates) == 9
        results += updates
    problems = [p for obj in results for p in unknown_fields(obj)]
    assert problems == []
    member_statuses = [r.status for r in results if hasattr(r, "status")]
    assert member_statuses == ["creator", "administrator", "member"]


# ------------------------------------------------------------------------------------------
# the raw protocol
# ------------------------------------------------------------------------------------------


async def _post(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with session.post(url, **kwargs) as response:
        return response.status, await response.json()


async def test_protocol_basics(api: AsyncBotHandle) -> None:
    base = f"{api.base_url}{api.token}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/getMe") as response:
            me = await response.json()
        assert me["ok"] and me["result"]["can_join_groups"] is True
        assert set(me["result"]) >= {
            "id",
            "is_bot",
            "first_name",
            "username",
            "can_read_all_group_messages",
            "supports_inline_queries",
        }
        assert (await _post(http, f"{base}/GETME", json={"unknown": 1}))[1]["ok"]
        status, body = await _post(http, f"{base}/sendTelepathy")
        assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
        status, body = await _post(http, f"{api.base_url}123:unknown/getMe")
        assert (status, body["description"]) == (401, "Unauthorized")
        status, _ = await _post(http, f"{api.base_url}not-a-token/getMe")
        assert status == 404

        alice = await api.user(1001, "Alice")
        chat = await api.private_chat(alice)
        original = await api.send_text(chat, alice, "hello world")
        status, body = await _post(
            http,
            f"{base}/sendMessage",
            data={"chat_id": str(chat.id), "text": "legacy", "reply_to_message_id": "1"},
        )
        assert status == 200 and body["result"]["reply_to_message"]["text"] == "hello world"
        legacy_id = body["result"]["message_id"]
        status, body = await _post(
            http,
            f"{base}/sendMessage",
            json={
                "chat_id": chat.id,
                "text": "q",
                "reply_parameters": {"message_id": 1, "quote": "world"},
            },
        )
        assert body["result"]["quote"] == {"text": "world", "position": 6, "is_manual": True}
        status, body = await _post(
            http,
            f"{base}/sendMessage",
            json={"chat_id": chat.id, "text": "x", "reply_parameters": {"message_id": 99}},
        )
        assert (status, body["description"]) == (
            400,
            "Bad Request: message to be replied not found",
        )
        status, body = await _post(
            http,
            f"{base}/sendMessage",
            json={
                "chat_id": chat.id,
                "text": "x",
                "reply_parameters": {"message_id": 99, "allow_sending_without_reply": True},
            },
        )
        assert status == 200 and "reply_to_message" not in body["result"]
        big = {"inline_keyboard": [[{"text": "b", "callback_data": "x" * 65}]]}
        status, body = await _post(
            http, f"{base}/sendMessage", json={"chat_id": chat.id, "text": "x", "reply_markup": big}
        )
        assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
        mine = {"chat_id": chat.id, "message_id": legacy_id}
        status, body = await _post(http, f"{base}/editMessageText", json={**mine, "text": "legacy"})
        assert status == 400 and body["description"].startswith("Bad Request: message is not mod")
        status, body = await _post(
            http,
            f"{base}/editMessageText",
            json={"chat_id": chat.id, "message_id": original["message_id"], "text": "not mine"},
        )
        assert body["description"] == "Bad Request: message can't be edited"
        assert (await _post(http, f"{base}/deleteMessage", json=mine))[1]["result"] is True
        status, body = await _post(http, f"{base}/deleteMessage", json=mine)
        assert body["description"] == "Bad Request: message to delete not found"
        status, body = await _post(
            http, f"{base}/sendChatAction", json={"chat_id": chat.id, "action": "dancing"}
        )
        assert body["description"] == "Bad Request: wrong parameter action in request"


async def test_get_updates_semantics(api: AsyncBotHandle) -> None:
    base = f"{api.base_url}{api.token}"
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    async with aiohttp.ClientSession() as http:

        async def poll(**params: Any) -> tuple[int, Any]:
            return await _post(http, f"{base}/getUpdates", json=params)

        # long polling returns as soon as an update arrives
        started = time.monotonic()
        waiting = asyncio.create_task(poll(timeout=5))
        await asyncio.sleep(0.2)
        await api.send_text(chat, alice, "one")
        status, body = await waiting
        assert status == 200 and len(body["result"]) == 1
        assert 0.2 <= time.monotonic() - started < 2
        first = body["result"][0]["update_id"]

        # unconfirmed updates come again; limit; offset confirms; negative offset
        await api.send_text(chat, alice, "two")
        await api.send_text(chat, alice, "three")
        assert [u["update_id"] for u in (await poll(limit=2))[1]["result"]] == [first, first + 1]
        assert len((await poll(offset=first + 1))[1]["result"]) == 2
        assert [u["message"]["text"] for u in (await poll(offset=-1))[1]["result"]] == ["three"]
        assert (await poll(offset=first + 3))[1]["result"] == []
        assert await api.pending_update_count() == 0

        # allowed_updates applies to updates created afterwards
        assert (await poll(allowed_updates=["callback_query"]))[1]["result"] == []
        await api.send_text(chat, alice, "filtered out")
        assert await api.pending_update_count() == 0
        await poll(allowed_updates=[])  # back to the default set

        # a second poller terminates the first with 409
        older = asyncio.create_task(poll(timeout=5))
        await asyncio.sleep(0.2)
        newer = asyncio.create_task(poll(timeout=0))
        status, body = await older
        assert status == 409 and "terminated by other getUpdates request" in body["description"]
        assert (await newer)[0] == 200

        # no getUpdates while a webhook is set
        await _post(http, f"{base}/setWebhook", data={"url": "http://127.0.0.1:9/x"})
        status, body = await poll()
        assert status == 409 and "webhook is active" in body["description"]
        info = await api.webhook_info()
        assert info["url"] == "http://127.0.0.1:9/x"
        await _post(http, f"{base}/deleteWebhook", json={"drop_pending_updates": True})
        assert (await poll())[0] == 200


def test_privacy_mode_filters_group_messages(botapi: BotAPIHarness) -> None:
    bot = botapi.new_bot(username="private_eye_bot", can_read_all_group_messages=False)
    alice = bot.user(1001, "Alice")
    group = bot.group("Readers", members=[alice])
    bot.send_text(group, alice, "just chatting")
    bot.send_text(group, alice, "/start@another_bot")
    bot.send_text(group, alice, "/help")
    bot.send_text(group, alice, "/help@private_eye_bot")
    bot.send_text(group, alice, "hey @private_eye_bot")
    delivered = [u["message"]["text"] for u in bot.updates()]
    assert delivered == ["/help", "/help@private_eye_bot", "hey @private_eye_bot"]
    bot.set_member_status(group, None, "administrator")  # admins see everything
    bot.send_text(group, alice, "now visible")
    assert bot.updates()[-1]["message"]["text"] == "now visible"


# ------------------------------------------------------------------------------------------
# faults, and what PTB does about them
# ------------------------------------------------------------------------------------------


async def test_429_is_retried_by_aio_rate_limiter(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)

    def limited(builder: ApplicationBuilder) -> Any:
        return builder.rate_limiter(AIORateLimiter(max_retries=2))

    async with running(api, limited) as (_, seen):
        await api.inject_fault("sendMessage", "429", retry_after=1)
        await api.send_text(chat, alice, "/start")
        (reply,) = await api.wait_bot_messages(chat, timeout=10)
        assert reply["text"] == "hello Alice" and not seen.errors
    first, second = await api.calls("sendMessage")
    assert (first.status, first.fault, first.accepted) == (429, "429", False)
    assert first.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert (second.status, second.accepted) == (200, True)
    assert second.started - first.finished >= 1.0  # PTB waited retry_after (+0.1 s)


async def test_429_without_rate_limiter_reaches_the_error_handler(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    async with running(api) as (_, seen):
        await api.inject_fault("sendMessage", "429", retry_after=3)
        await api.send_text(chat, alice, "/start")
        await api.wait_calls("sendMessage")
        await api.wait_for(lambda: seen.errors, timeout=5)
    assert isinstance(seen.errors[0], RetryAfter)
    assert "Retry in 3 seconds" in str(seen.errors[0])
    assert len(await api.calls("sendMessage")) == 1 and await api.bot_messages(chat) == []


async def test_500_and_502_are_not_retried_by_ptb(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)

    def limited(builder: ApplicationBuilder) -> Any:
        return builder.rate_limiter(AIORateLimiter(max_retries=3))

    async with running(api, limited) as (_, seen):
        await api.inject_fault("sendMessage", "500")
        await api.send_text(chat, alice, "/start")
        await api.wait_for(lambda: seen.errors, timeout=5)
        await api.inject_fault("sendMessage", "502")
        await api.send_text(chat, alice, "/start")
        await api.wait_for(lambda: len(seen.errors) == 2, timeout=5)
        await api.send_text(chat, alice, "/start")
        (reply,) = await api.wait_bot_messages(chat)
    assert [type(e) for e in seen.errors] == [NetworkError, NetworkError]
    assert "Internal Server Error" in str(seen.errors[0])
    assert "Bad Gateway" in str(seen.errors[1])
    calls = await api.calls("sendMessage")
    assert [(c.status, c.accepted) for c in calls] == [(500, False), (502, False), (200, True)]
    assert [m["message_id"] for m in await api.bot_messages(chat)] == [reply["message_id"]]


async def test_timeouts_and_dropped_connections(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)

    def quick(builder: ApplicationBuilder) -> Any:
        return builder.read_timeout(0.5)

    async with running(api, quick) as (app, seen):
        # the server never answers: PTB raises TimedOut after read_timeout, does not retry
        await api.inject_fault("sendMessage", "timeout", hold=5)
        started = time.monotonic()
        await api.send_text(chat, alice, "/start")
        await api.wait_for(lambda: seen.errors, timeout=5)
        assert isinstance(seen.errors[0], TimedOut) and time.monotonic() - started < 3

        # the message *is* sent but the answer is lost: a naive retry sends it twice,
        # which the emulator's record makes visible
        await api.inject_fault("sendMessage", "timeout_after_accept", hold=5)
        with pytest.raises(TimedOut):
            await app.bot.send_message(chat.id, "exactly once?")
        await app.bot.send_message(chat.id, "exactly once?")

        await api.inject_fault("sendMessage", "disconnect")
        with pytest.raises(NetworkError):
            await app.bot.send_message(chat.id, "dropped")
    calls = await api.calls("sendMessage")
    assert [(c.fault, c.accepted) for c in calls] == [
        ("timeout", False),
        ("timeout_after_accept", True),
        (None, True),
        ("disconnect", False),
    ]
    assert [m["text"] for m in await api.bot_messages(chat)] == ["exactly once?"] * 2


async def test_polling_recovers_from_get_updates_errors(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    await api.inject_fault("getUpdates", "500")
    await api.send_text(chat, alice, "/start")
    async with running(api):
        (reply,) = await api.wait_bot_messages(chat, timeout=10)
    assert reply["text"] == "hello Alice"
    polls = await api.calls("getUpdates")
    assert polls[0].status == 500 and polls[1].status == 200
    assert polls[1].started - polls[0].finished >= 0.9  # the updater backs off 1 s


# ------------------------------------------------------------------------------------------
# webhooks
# ------------------------------------------------------------------------------------------


async def test_webhook_mode_with_secret_token(api: AsyncBotHandle) -> None:
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    hook = {
        "listen": "127.0.0.1",
        "port": port,
        "url_path": "hook",
        "webhook_url": url,
        "secret_token": "s3cret_Token-1",
    }
    async with running(api, webhook=hook) as (app, _):
        info = await api.webhook_info()
        assert info["url"] == url and info["pending_update_count"] == 0
        await api.send_text(chat, alice, "/start")
        (reply,) = await api.wait_bot_messages(chat)
        assert reply["text"] == "hello Alice"
        (delivery,) = await api.webhook_deliveries()
        assert (delivery.status, delivery.secret_sent, delivery.attempt) == (200, True, 1)

        update = (await api.updates())[-1]
        assert (await api.post_to_webhook(update, secret=None))[0] == 403
        assert (await api.post_to_webhook(update, secret="wrong"))[0] == 403
        assert (await api.post_to_webhook(update, secret="s3cret_Token-1"))[0] == 200
        (again,) = await api.wait_bot_messages(chat)  # only the correctly signed post counted
        assert again["text"] == "hello Alice"
        with pytest.raises(Conflict, match="webhook is active"):
            await app.bot.get_updates()
    set_calls = await api.calls("setWebhook")
    assert set_calls[0].params["secret_token"] == "s3cret_Token-1"


async def test_webhook_retries_are_bounded(botapi: BotAPIHarness) -> None:
    api = botapi.new_bot(webhook_attempts=3, webhook_backoff=0.05).aio
    alice = await api.user(1001, "Alice")
    chat = await api.private_chat(alice)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    hook = {
        "listen": "127.0.0.1",
        "port": port,
        "url_path": "hook",
        "webhook_url": url,
        "secret_token": "right",
    }
    async with running(api, webhook=hook) as (app, _):
        await app.bot.set_webhook(url, secret_token="wrong")  # PTB's server refuses these
        await api.send_text(chat, alice, "/start")
        deliveries = await _wait_deliveries(api, 3)
        assert [(d.attempt, d.status) for d in deliveries] == [(1, 403), (2, 403), (3, 403)]
        info = await api.webhook_info()
        assert info["pending_update_count"] == 0  # given up after 3 attempts
        assert info["last_error_message"].startswith("Wrong response from the webhook: 403")
        assert await api.collect_bot_messages(chat, quiet=0.2) == []

        await app.bot.set_webhook(f"http://127.0.0.1:{free_port()}/nobody")
        await api.send_text(chat, alice, "/start")
        await _wait_deliveries(api, 6)
        assert (await api.webhook_info())["last_error_message"] == "Connection refused"


async def _wait_deliveries(api: AsyncBotHandle, n: int) -> list[Any]:
    deadline = time.monotonic() + 10
    while len(found := await api.webhook_deliveries()) < n:
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    return found


# ------------------------------------------------------------------------------------------
# text handling and the standalone mode
# ------------------------------------------------------------------------------------------


def test_entities_are_counted_in_utf16() -> None:
    text = "😀 /start@my_bot hi @someone #tag 你好 https://example.org/x."
    found = {e["type"]: (e["offset"], e["length"]) for e in detect_entities(text)}
    assert found == {
        "bot_command": (3, 13),
        "mention": (20, 8),
        "hashtag": (29, 4),
        "url": (37, 21),
    }
    assert detect_entities("a/b and x@y and foo@example.com")[0]["type"] == "email"
    plain, entities = format_text("<pre><code class='language-py'>x</code></pre>", "HTML", None)
    assert (plain, entities) == ("x", [{"offset": 0, "length": 1, "type": "pre", "language": "py"}])
    with pytest.raises(ApiError, match="Can't find end of Bold entity"):
        format_text("*open", "MarkdownV2", None)
    plain, entities = format_text("[link](https://a.org/\\)) `co\\`de`", "MarkdownV2", None)
    assert plain == "link co`de"
    assert entities[0]["url"] == "https://a.org/)" and entities[1]["type"] == "code"


async def test_standalone_mode_talks_to_a_real_ptb_bot() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "botapi_emulator",
        "--port",
        "0",
        "--json",
        "--quiet",
        "0.3",
        "--reply-timeout",
        "10",
        "--wait-for-bot",
        "10",
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        ready = json.loads(await asyncio.wait_for(process.stdout.readline(), 20))
        assert ready["event"] == "ready"
        info = ready["data"]
        handle = _RemoteHandle(info["token"], info["base_url"], info["base_file_url"])
        async with running(handle):
            process.stdin.write(b"1001 1001 /start\n1001 -1001 hello group\n")
            await process.stdin.drain()
            events: list[dict[str, Any]] = []
            while len([e for e in events if e["event"] == "bot_message"]) < 2:
                line = await asyncio.wait_for(process.stdout.readline(), 20)
                events.append(json.loads(line))
            process.stdin.close()
        texts = [e["data"]["text"] for e in events if e["event"] == "bot_message"]
        assert texts == ["hello User1001", "echo: hello group"]
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@dataclass
class _RemoteHandle:
    """The bits of a bot handle ``build_app`` needs, for a server in another process."""

    token: str
    base_url: str
    base_file_url: str
