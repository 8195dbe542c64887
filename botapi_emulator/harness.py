"""The test-side client: run the emulator in a thread and act as Telegram users.

``BotAPIHarness`` owns a :class:`BotAPIServer` on its own event loop in a background thread,
so plain (sync) pytest tests, async tests and a bot running in a subprocess can all use it.
Each test registers its own bot with :meth:`BotAPIHarness.new_bot` and gets a
:class:`BotHandle` (sync methods) whose ``aio`` attribute is an :class:`AsyncBotHandle` with
the same methods as coroutines. Inside ``async`` tests (where the bot under test runs on the
test's event loop) use the ``aio`` variants of the *waiting* methods: a sync wait would block
that loop and with it the bot.

Example::

    with BotAPIHarness() as api:
        bot = api.new_bot(username="rnn_test_bot")
        # start the bot with base_url=bot.base_url, base_file_url=bot.base_file_url,
        # token=bot.token ...
        alice = bot.user(1001, "Alice", username="alice")
        chat = bot.private_chat(alice)
        bot.send_text(chat, alice, "/start")
        (reply,) = bot.wait_bot_messages(chat)
        assert reply["text"].startswith("Hello")
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from .models import CallRecord, Chat, Fault, MemberStatus, User, WebhookDelivery
from .params import Params
from .server import BotAPIServer
from .text import Entity
from .world import JSON, BotWorld, ChatRef, MessageRef, UserRef

T = TypeVar("T")


async def _value(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a plain function as a coroutine (so it executes on the server's loop)."""
    return fn(*args, **kwargs)


def _chat_id(chat: ChatRef) -> int:
    return chat.id if isinstance(chat, Chat) else int(chat)


class AsyncBotHandle:
    """One registered bot, seen from the test side, with coroutine methods.

    Usable from any event loop: calls hop to the server's loop when it is another one.
    """

    def __init__(self, world: BotWorld, server: BotAPIServer, loop: asyncio.AbstractEventLoop):
        self.world = world
        self.server = server
        self._loop = loop

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - always called from a coroutine
            current = None
        if current is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    # identity --------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The bot token (PTB: ``.token(...)``)."""
        return self.world.token

    @property
    def bot_id(self) -> int:
        """The bot's user id (the token's numeric prefix)."""
        return self.world.bot_id

    @property
    def username(self) -> str:
        """The bot's username, without ``@``."""
        return self.world.username

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` for PTB's ``.base_url()`` (PTB appends the token)."""
        return self.server.base_url

    @property
    def base_file_url(self) -> str:
        """``http://127.0.0.1:PORT/file/bot`` for PTB's ``.base_file_url()``."""
        return self.server.base_file_url

    # people and chats ------------------------------------------------------------------------

    async def user(
        self,
        id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> User:
        """Register a Telegram user."""
        return await self._call(
            self.world.add_user(id, first_name, username, language_code, last_name)
        )

    async def private_chat(self, user: UserRef) -> Chat:
        """The user's private chat with the bot (as if they had pressed Start)."""
        return await self._call(self.world.private_chat(user))

    async def group(
        self,
        title: str,
        *,
        supergroup: bool = True,
        chat_id: int | None = None,
        members: Iterable[UserRef] = (),
        admins: Iterable[UserRef] = (),
        bot_status: MemberStatus = "member",
    ) -> Chat:
        """A group (``supergroup=False``) or supergroup containing the bot."""
        return await self._call(
            self.world.group(
                title,
                supergroup=supergroup,
                chat_id=chat_id,
                members=list(members),
                admins=list(admins),
                bot_status=bot_status,
            )
        )

    async def set_member_status(self, chat: ChatRef, user: UserRef | None, status: str) -> None:
        """Set a member's status in a group (``user=None``: the bot, e.g. ``"kicked"``)."""
        await self._call(self.world.set_member_status(chat, user, status))

    async def block_bot(self, user: UserRef, blocked: bool = True) -> None:
        """The user blocks the bot (sends to them then fail with 403)."""
        await self._call(self.world.block_bot(user, blocked))

    # what users do ---------------------------------------------------------------------------

    async def send_text(
        self,
        chat: ChatRef,
        user: UserRef,
        text: str,
        reply_to: MessageRef | None = None,
        entities: list[Entity] | None = None,
    ) -> JSON:
        """``user`` writes ``text`` in ``chat`` (entities for /commands and @mentions built)."""
        return await self._call(self.world.send_text(chat, user, text, reply_to, entities))

    async def send_photo(
        self,
        chat: ChatRef,
        user: UserRef,
        data: bytes | None = None,
        caption: str | None = None,
        reply_to: MessageRef | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> JSON:
        """``user`` sends a photo (several ``PhotoSize`` entries, largest last)."""
        return await self._call(
            self.world.send_photo(chat, user, data, caption, reply_to, width, height)
        )

    async def send_sticker(
        self,
        chat: ChatRef,
        user: UserRef,
        emoji: str = "👍",
        set_name: str | None = "TestStickers",
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` sends a sticker."""
        return await self._call(self.world.send_sticker(chat, user, emoji, set_name, reply_to))

    async def send_voice(
        self,
        chat: ChatRef,
        user: UserRef,
        duration: int = 2,
        data: bytes | None = None,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` sends a voice note."""
        return await self._call(self.world.send_voice(chat, user, duration, data, reply_to))

    async def send_document(
        self,
        chat: ChatRef,
        user: UserRef,
        data: bytes,
        file_name: str = "file.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` sends a document."""
        return await self._call(
            self.world.send_document(chat, user, data, file_name, mime_type, caption, reply_to)
        )

    async def send_fields(
        self, chat: ChatRef, user: UserRef, fields: JSON, reply_to: MessageRef | None = None
    ) -> JSON:
        """``user`` sends a message with arbitrary content fields (``location``, ...)."""
        return await self._call(self.world.send_fields(chat, user, fields, reply_to))

    async def edit_text(self, chat: ChatRef, user: UserRef, message: MessageRef, text: str) -> JSON:
        """``user`` edits their message: an ``edited_message`` update with ``edit_date``."""
        return await self._call(self.world.edit_text(chat, user, message, text))

    async def press_button(
        self,
        chat: ChatRef,
        user: UserRef,
        message: MessageRef,
        callback_data: str,
        strict: bool = True,
    ) -> JSON:
        """``user`` presses the inline button with ``callback_data``; returns the query."""
        return await self._call(self.world.press_button(chat, user, message, callback_data, strict))

    async def deliver_again(self, update: int | JSON, same_id: bool = False) -> int:
        """Deliver an update (id, update dict or message dict) once more; see BotWorld."""
        return await self._call(self.world.deliver_again(update, same_id))

    async def push_update(self, kind: str, obj: JSON) -> JSON | None:
        """Queue a raw update of any kind (``my_chat_member``, ...)."""
        return await self._call(self.world.push_update(kind, obj))

    # what the bot did ------------------------------------------------------------------------

    async def wait_bot_messages(
        self, chat: ChatRef, n: int = 1, timeout: float = 15.0
    ) -> list[JSON]:
        """The next ``n`` messages the bot sends to ``chat`` (since the last wait/collect)."""
        return await self._call(self.world.wait_bot_messages(chat, n, timeout))

    async def collect_bot_messages(
        self, chat: ChatRef, quiet: float = 0.5, timeout: float = 15.0
    ) -> list[JSON]:
        """All new bot messages in ``chat`` after ``quiet`` seconds without one (maybe [])."""
        return await self._call(self.world.collect_bot_messages(chat, quiet, timeout))

    async def wait_message(
        self,
        chat: ChatRef,
        message: MessageRef,
        predicate: Callable[[JSON], bool],
        timeout: float = 15.0,
    ) -> JSON:
        """Wait until a message's current state satisfies ``predicate`` (runs on the server)."""
        return await self._call(self.world.wait_message(chat, message, predicate, timeout))

    async def wait_calls(
        self,
        method: str,
        n: int = 1,
        timeout: float = 15.0,
        predicate: Callable[[CallRecord], bool] | None = None,
    ) -> list[CallRecord]:
        """Wait for ``n`` recorded calls of ``method``; returns all matching calls."""
        return await self._call(self.world.wait_calls(method, n, timeout, predicate))

    async def wait_callback_answer(self, query: JSON | str, timeout: float = 15.0) -> JSON:
        """Wait until the bot answers a callback query; returns the answer's parameters."""
        return await self._call(self.world.wait_callback_answer(query, timeout))

    async def wait_for(
        self, predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.02
    ) -> T:
        """Poll ``predicate`` (in this thread) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(interval)

    async def calls(self, method: str | None = None) -> list[CallRecord]:
        """Every call the bot made (of ``method``, case-insensitive), oldest first."""
        wanted = method.lower() if method else None
        return await self._call(
            _value(
                lambda: [
                    c for c in self.world.calls if wanted is None or c.method.lower() == wanted
                ]
            )
        )

    async def bot_messages(self, chat: ChatRef, include_deleted: bool = False) -> list[JSON]:
        """All messages the bot sent to ``chat`` (current state after edits), oldest first."""
        return await self._call(_value(self.world.bot_messages, chat, include_deleted))

    async def message(self, chat: ChatRef, message_id: int) -> JSON | None:
        """The current state of any message (None when unknown or deleted)."""
        return await self._call(_value(self.world.get_message, chat, message_id))

    async def chat_actions(self, chat: ChatRef) -> list[str]:
        """Actions (``typing``, ...) the bot sent to ``chat``, oldest first."""
        chat_id = _chat_id(chat)
        return await self._call(
            _value(lambda: [a for _, c, a in self.world.actions if c == chat_id])
        )

    async def reply_keyboard(self, chat: ChatRef) -> JSON | None:
        """The last non-inline reply markup (keyboard/remove/force_reply) sent to ``chat``."""
        return await self._call(_value(self.world.reply_keyboards.get, _chat_id(chat)))

    async def callback_answer(self, query: JSON | str) -> JSON | None:
        """The bot's answer to a callback query, if any yet."""
        query_id = query if isinstance(query, str) else str(query["id"])
        return await self._call(_value(self.world.callback_answers.get, query_id))

    async def commands(
        self, scope: JSON | None = None, language_code: str = ""
    ) -> list[JSON] | None:
        """Commands stored for exactly ``scope`` (default scope) and ``language_code``."""
        scope = scope or {"type": "default"}
        chat_id = scope.get("chat_id")
        user_id = scope.get("user_id")
        key = (
            str(scope["type"]),
            int(chat_id) if chat_id is not None else None,
            int(user_id) if user_id is not None else None,
            language_code,
        )
        return await self._call(_value(self.world.commands.get, key))

    async def visible_commands(self, chat: ChatRef, user: UserRef | None = None) -> list[JSON]:
        """The menu ``user`` would see in ``chat`` (the Bot API's scope/language fallback)."""
        return await self._call(_value(self.world.visible_commands, chat, user))

    async def webhook_info(self) -> JSON:
        """What ``getWebhookInfo`` would answer now."""
        return await self._call(self.world.api_getWebhookInfo(Params({})))

    async def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook POST attempt, oldest first."""
        return await self._call(_value(lambda: list(self.world.deliveries)))

    async def post_to_webhook(
        self, payload: JSON, secret: str | None
    ) -> tuple[int | None, str | None]:
        """POST ``payload`` to the bot's webhook with an arbitrary secret header (or none)."""
        return await self._call(self.world.post_to_webhook(payload, secret))

    async def updates(self) -> list[JSON]:
        """Every update created for this bot, oldest first."""
        return await self._call(
            _value(lambda: [copy.deepcopy(q.payload) for q in self.world.history.values()])
        )

    async def pending_update_count(self) -> int:
        """Updates not yet confirmed (polling) or delivered (webhook)."""
        return await self._call(_value(lambda: len(self.world.pending)))

    async def file_bytes(self, file_id: str) -> bytes | None:
        """The bytes stored for a file id (uploaded by the bot or sent by a user)."""
        return await self._call(
            _value(lambda: f.data if (f := self.world.files.get(file_id)) else None)
        )

    async def inject_fault(
        self,
        method: str,
        kind: str,
        times: int = 1,
        retry_after: int = 1,
        hold: float = 30.0,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` fail; see BotAPIServer.inject_fault."""
        return await self._call(
            _value(self.world.add_fault, method, kind, times, retry_after, hold)
        )

    async def clear_faults(self) -> None:
        """Drop faults not yet consumed."""
        await self._call(_value(self.world.faults.clear))


class BotHandle:
    """One registered bot with blocking methods; ``aio`` has the coroutine versions.

    Every method here has the same signature as its :class:`AsyncBotHandle` namesake.
    """

    def __init__(self, aio: AsyncBotHandle, loop: asyncio.AbstractEventLoop):
        self.aio = aio
        self._loop = loop

    def _run(self, coro: Coroutine[Any, Any, T], waits: bool = False) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            if waits:
                coro.close()
                raise RuntimeError(
                    "this wait would block the event loop of the calling code (and the bot, "
                    "if it runs there); use `await handle.aio.<method>(...)` in async code"
                )
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        # waits time out by themselves; anything else answering this late means a dead server
        return future.result(timeout=None if waits else 60)

    @property
    def world(self) -> BotWorld:
        """The bot's state (touch it only on the server's loop)."""
        return self.aio.world

    @property
    def token(self) -> str:
        """The bot token."""
        return self.aio.token

    @property
    def bot_id(self) -> int:
        """The bot's user id."""
        return self.aio.bot_id

    @property
    def username(self) -> str:
        """The bot's username, without ``@``."""
        return self.aio.username

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` for PTB's ``.base_url()``."""
        return self.aio.base_url

    @property
    def base_file_url(self) -> str:
        """``http://127.0.0.1:PORT/file/bot`` for PTB's ``.base_file_url()``."""
        return self.aio.base_file_url

    def user(
        self,
        id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> User:
        """Register a Telegram user."""
        return self._run(self.aio.user(id, first_name, username, language_code, last_name))

    def private_chat(self, user: UserRef) -> Chat:
        """The user's private chat with the bot."""
        return self._run(self.aio.private_chat(user))

    def group(
        self,
        title: str,
        *,
        supergroup: bool = True,
        chat_id: int | None = None,
        members: Iterable[UserRef] = (),
        admins: Iterable[UserRef] = (),
        bot_status: MemberStatus = "member",
    ) -> Chat:
        """A group or supergroup containing the bot."""
        return self._run(
            self.aio.group(
                title,
                supergroup=supergroup,
                chat_id=chat_id,
                members=members,
                admins=admins,
                bot_status=bot_status,
            )
        )

    def set_member_status(self, chat: ChatRef, user: UserRef | None, status: str) -> None:
        """Set a member's status (``user=None``: the bot)."""
        self._run(self.aio.set_member_status(chat, user, status))

    def block_bot(self, user: UserRef, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot."""
        self._run(self.aio.block_bot(user, blocked))

    def send_text(
        self,
        chat: ChatRef,
        user: UserRef,
        text: str,
        reply_to: MessageRef | None = None,
        entities: list[Entity] | None = None,
    ) -> JSON:
        """``user`` writes ``text`` in ``chat``; returns the message dict."""
        return self._run(self.aio.send_text(chat, user, text, reply_to, entities))

    def send_photo(
        self,
        chat: ChatRef,
        user: UserRef,
        data: bytes | None = None,
        caption: str | None = None,
        reply_to: MessageRef | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> JSON:
        """``user`` sends a photo."""
        return self._run(self.aio.send_photo(chat, user, data, caption, reply_to, width, height))

    def send_sticker(
        self,
        chat: ChatRef,
        user: UserRef,
        emoji: str = "👍",
        set_name: str | None = "TestStickers",
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` sends a sticker."""
        return self._run(self.aio.send_sticker(chat, user, emoji, set_name, reply_to))

    def send_voice(
        self,
        chat: ChatRef,
        user: UserRef,
        duration: int = 2,
        data: bytes | None = None,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` sends a voice note."""
        return self._run(self.aio.send_voice(chat, user, duration, data, reply_to))

    def send_document(
        self,
        chat: ChatRef,
        user: UserRef,
        data: bytes,
        file_name: str = "file.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        """``user`` sends a document."""
        return self._run(
            self.aio.send_document(chat, user, data, file_name, mime_type, caption, reply_to)
        )

    def send_fields(
        self, chat: ChatRef, user: UserRef, fields: JSON, reply_to: MessageRef | None = None
    ) -> JSON:
        """``user`` sends a message with arbitrary content fields."""
        return self._run(self.aio.send_fields(chat, user, fields, reply_to))

    def edit_text(self, chat: ChatRef, user: UserRef, message: MessageRef, text: str) -> JSON:
        """``user`` edits their message (an ``edited_message`` update)."""
        return self._run(self.aio.edit_text(chat, user, message, text))

    def press_button(
        self,
        chat: ChatRef,
        user: UserRef,
        message: MessageRef,
        callback_data: str,
        strict: bool = True,
    ) -> JSON:
        """``user`` presses an inline button; returns the callback query dict."""
        return self._run(self.aio.press_button(chat, user, message, callback_data, strict))

    def deliver_again(self, update: int | JSON, same_id: bool = False) -> int:
        """Deliver an update once more; returns the update id used."""
        return self._run(self.aio.deliver_again(update, same_id))

    def push_update(self, kind: str, obj: JSON) -> JSON | None:
        """Queue a raw update of any kind."""
        return self._run(self.aio.push_update(kind, obj))

    def wait_bot_messages(self, chat: ChatRef, n: int = 1, timeout: float = 15.0) -> list[JSON]:
        """The next ``n`` messages the bot sends to ``chat``."""
        return self._run(self.aio.wait_bot_messages(chat, n, timeout), waits=True)

    def collect_bot_messages(
        self, chat: ChatRef, quiet: float = 0.5, timeout: float = 15.0
    ) -> list[JSON]:
        """All new bot messages in ``chat`` after a quiet period (maybe [])."""
        return self._run(self.aio.collect_bot_messages(chat, quiet, timeout), waits=True)

    def wait_message(
        self,
        chat: ChatRef,
        message: MessageRef,
        predicate: Callable[[JSON], bool],
        timeout: float = 15.0,
    ) -> JSON:
        """Wait until a message's current state satisfies ``predicate``."""
        return self._run(self.aio.wait_message(chat, message, predicate, timeout), waits=True)

    def wait_calls(
        self,
        method: str,
        n: int = 1,
        timeout: float = 15.0,
        predicate: Callable[[CallRecord], bool] | None = None,
    ) -> list[CallRecord]:
        """Wait for ``n`` calls of ``method``."""
        return self._run(self.aio.wait_calls(method, n, timeout, predicate), waits=True)

    def wait_callback_answer(self, query: JSON | str, timeout: float = 15.0) -> JSON:
        """Wait for the bot's answer to a callback query."""
        return self._run(self.aio.wait_callback_answer(query, timeout), waits=True)

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.02
    ) -> T:
        """Poll ``predicate`` until it returns something truthy; returns that value."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("use `await handle.aio.wait_for(...)` in async code")
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)

    def calls(self, method: str | None = None) -> list[CallRecord]:
        """Every call the bot made (of ``method``)."""
        return self._run(self.aio.calls(method))

    def bot_messages(self, chat: ChatRef, include_deleted: bool = False) -> list[JSON]:
        """All messages the bot sent to ``chat``."""
        return self._run(self.aio.bot_messages(chat, include_deleted))

    def message(self, chat: ChatRef, message_id: int) -> JSON | None:
        """The current state of a message."""
        return self._run(self.aio.message(chat, message_id))

    def chat_actions(self, chat: ChatRef) -> list[str]:
        """Chat actions the bot sent to ``chat``."""
        return self._run(self.aio.chat_actions(chat))

    def reply_keyboard(self, chat: ChatRef) -> JSON | None:
        """The last non-inline reply markup sent to ``chat``."""
        return self._run(self.aio.reply_keyboard(chat))

    def callback_answer(self, query: JSON | str) -> JSON | None:
        """The bot's answer to a callback query, if any yet."""
        return self._run(self.aio.callback_answer(query))

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON] | None:
        """Commands stored for exactly ``scope`` and ``language_code``."""
        return self._run(self.aio.commands(scope, language_code))

    def visible_commands(self, chat: ChatRef, user: UserRef | None = None) -> list[JSON]:
        """The command menu ``user`` would see in ``chat``."""
        return self._run(self.aio.visible_commands(chat, user))

    def webhook_info(self) -> JSON:
        """What getWebhookInfo would answer now."""
        return self._run(self.aio.webhook_info())

    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook POST attempt."""
        return self._run(self.aio.webhook_deliveries())

    def post_to_webhook(self, payload: JSON, secret: str | None) -> tuple[int | None, str | None]:
        """POST to the bot's webhook with an arbitrary secret header (or none)."""
        return self._run(self.aio.post_to_webhook(payload, secret), waits=True)

    def updates(self) -> list[JSON]:
        """Every update created for this bot."""
        return self._run(self.aio.updates())

    def pending_update_count(self) -> int:
        """Updates not yet confirmed or delivered."""
        return self._run(self.aio.pending_update_count())

    def file_bytes(self, file_id: str) -> bytes | None:
        """The bytes stored for a file id."""
        return self._run(self.aio.file_bytes(file_id))

    def inject_fault(
        self,
        method: str,
        kind: str,
        times: int = 1,
        retry_after: int = 1,
        hold: float = 30.0,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` fail."""
        return self._run(self.aio.inject_fault(method, kind, times, retry_after, hold))

    def clear_faults(self) -> None:
        """Drop faults not yet consumed."""
        self._run(self.aio.clear_faults())


class BotAPIHarness:
    """Runs a :class:`BotAPIServer` on its own loop in a daemon thread.

    Args:
        host: Interface to bind.
        port: Port (0: a free one).
        **server_options: Passed to :class:`BotAPIServer` (``require_registration``,
            ``webhook_attempts``, ``webhook_backoff``, ``webhook_timeout``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **server_options: Any):
        self.server = BotAPIServer(host, port, **server_options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop."""
        if self._loop is None:
            raise RuntimeError("the harness is not started")
        return self._loop

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return self.server.url

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/bot``."""
        return self.server.base_url

    @property
    def base_file_url(self) -> str:
        """``http://HOST:PORT/file/bot``."""
        return self.server.base_file_url

    def start(self) -> BotAPIHarness:
        """Start the loop thread and the server; returns self."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._serve, args=(loop,), name="botapi-emulator", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), loop).result(timeout=30)
        return self

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    def stop(self) -> None:
        """Stop the server and the loop thread."""
        if self._thread is None or self._loop is None:
            return
        loop = self._loop
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=30)
            loop.close()
            self._thread = None
            self._loop = None

    def __enter__(self) -> BotAPIHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def new_bot(
        self,
        username: str | None = None,
        *,
        first_name: str = "Test Bot",
        token: str | None = None,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = True,
        supports_inline_queries: bool = False,
        webhook_attempts: int | None = None,
        webhook_backoff: float | None = None,
    ) -> BotHandle:
        """Register a new bot (fresh token unless given) and return its handle.

        ``can_read_all_group_messages=False`` turns on privacy mode in groups;
        ``webhook_attempts``/``webhook_backoff`` override the webhook retry policy.
        """
        world = self.call(
            _value(
                self.server.register_bot,
                token,
                username=username,
                first_name=first_name,
                can_join_groups=can_join_groups,
                can_read_all_group_messages=can_read_all_group_messages,
                supports_inline_queries=supports_inline_queries,
                webhook_attempts=webhook_attempts,
                webhook_backoff=webhook_backoff,
            )
        )
        return BotHandle(AsyncBotHandle(world, self.server, self.loop), self.loop)

    def inject_fault(
        self,
        token: str,
        method: str,
        kind: str,
        times: int = 1,
        retry_after: int = 1,
        hold: float = 30.0,
    ) -> Fault:
        """Fault injection by token; see :meth:`BotAPIServer.inject_fault`."""
        return self.call(
            _value(self.server.inject_fault, token, method, kind, times, retry_after, hold)
        )
