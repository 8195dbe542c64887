"""The HTTP side of the emulator: an aiohttp server speaking the Bot API.

Routes:

* ``GET|POST /bot<TOKEN>/<method>`` with JSON, form-urlencoded or multipart bodies (query
  parameters are merged in too), answering ``{"ok": true, "result": ...}`` or
  ``{"ok": false, "error_code": N, "description": "..."}`` with the same HTTP status;
* ``GET /file/bot<TOKEN>/<file_path>`` to download files (``getFile``).

Malformed tokens get 404 and unknown well-formed ones 401, like the real server; method names
are case-insensitive. Every call is recorded per bot (:class:`CallRecord`).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import string
import time
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web
from multidict import MultiDictProxy

from .errors import ApiError
from .models import CallRecord, Fault, UploadedFile
from .params import Params
from .world import BotWorld

TOKEN_RE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{1,100}")
_dumps = partial(json.dumps, ensure_ascii=False)


class BotAPIServer:
    """A local Bot API server for tests: many bots (tokens), each with its own world.

    Use ``await server.start()`` / ``await server.stop()`` (or ``async with``) on one event
    loop; :class:`~botapi_emulator.harness.BotAPIHarness` runs it in a background thread.

    Args:
        host: Interface to bind.
        port: Port to bind; 0 picks a free one (see :attr:`port` after start).
        require_registration: When False, any well-formed token is registered on first use
            (handy for manual runs); when True, unknown tokens get ``401 Unauthorized``.
        webhook_attempts: Delivery attempts per update before the webhook gives up on it.
        webhook_backoff: First retry delay in seconds (doubles per attempt, capped at 5 s).
        webhook_timeout: Seconds to wait for the bot's webhook to answer one POST.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        require_registration: bool = True,
        webhook_attempts: int = 5,
        webhook_backoff: float = 0.2,
        webhook_timeout: float = 10.0,
    ):
        self.host = host
        self.port = port
        self.require_registration = require_registration
        self.webhook_attempts = webhook_attempts
        self.webhook_backoff = webhook_backoff
        self.webhook_timeout = webhook_timeout
        self.bots: dict[str, BotWorld] = {}
        self._methods = {
            name[len("api_") :].lower(): name for name in dir(BotWorld) if name.startswith("api_")
        }
        self._seq = 0
        self._rng = random.Random()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # ----------------------------------------------------------------------------------------
    # lifecycle
    # ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass to PTB's ``ApplicationBuilder.base_url`` (PTB appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """What to pass to PTB's ``ApplicationBuilder.base_file_url``."""
        return f"{self.url}/file/bot"

    @property
    def methods(self) -> list[str]:
        """Names of the Bot API methods the emulator implements."""
        return sorted(name[len("api_") :] for name in self._methods.values())

    async def start(self) -> BotAPIServer:
        """Bind and start serving."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if server is not None and self.port == 0:
            sockets = getattr(server, "sockets", None) or []
            self.port = int(sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        """Release waiting long polls, stop webhook loops, close the listener."""
        for world in list(self.bots.values()):
            await world.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> BotAPIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    # ----------------------------------------------------------------------------------------
    # bots
    # ----------------------------------------------------------------------------------------

    def register_bot(
        self,
        token: str | None = None,
        *,
        username: str | None = None,
        first_name: str = "Test Bot",
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = True,
        supports_inline_queries: bool = False,
        webhook_attempts: int | None = None,
        webhook_backoff: float | None = None,
    ) -> BotWorld:
        """Register a bot and return its world (a fresh token is made when none is given).

        ``can_read_all_group_messages=False`` emulates privacy mode: in groups where the bot
        is not an administrator it only receives commands, mentions of it and replies to it.
        ``webhook_attempts``/``webhook_backoff`` override the server's webhook retry policy
        for this bot.
        """
        if token is None:
            bot_id = self._rng.randrange(1_000_000_000, 9_999_999_999)
            secret = "".join(self._rng.choices(string.ascii_letters + string.digits + "_-", k=35))
            token = f"{bot_id}:{secret}"
        if not TOKEN_RE.fullmatch(token):
            raise ValueError(f"malformed bot token {token!r} (expected '123456:ABC...')")
        if token in self.bots:
            raise ValueError("this token is already registered")
        bot_id = int(token.split(":", 1)[0])
        world = BotWorld(
            token,
            username=username or f"test_{bot_id}_bot",
            first_name=first_name,
            can_join_groups=can_join_groups,
            can_read_all_group_messages=can_read_all_group_messages,
            supports_inline_queries=supports_inline_queries,
            session=self._client_session,
            webhook_attempts=webhook_attempts or self.webhook_attempts,
            webhook_backoff=self.webhook_backoff if webhook_backoff is None else webhook_backoff,
            webhook_timeout=self.webhook_timeout,
        )
        self.bots[token] = world
        return world

    def world(self, token: str) -> BotWorld:
        """The world of a registered token."""
        return self.bots[token]

    def inject_fault(
        self,
        token: str,
        method: str,
        kind: str,
        times: int = 1,
        retry_after: int = 1,
        hold: float = 30.0,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` (or ``"*"``) by ``token`` fail.

        Kinds: ``"429"`` (``retry_after`` seconds), ``"500"``, ``"502"`` (an HTML body, as
        from a proxy), ``"timeout"`` (no answer: held until the client gives up or ``hold``
        seconds pass, then the connection is closed; the method does not run),
        ``"timeout_after_accept"`` (the method runs and takes effect, but the answer is held
        the same way: the client times out on a message that *was* sent) and
        ``"disconnect"`` (connection closed at once, method not run).
        """
        return self.bots[token].add_fault(method, kind, times, retry_after, hold)

    # ----------------------------------------------------------------------------------------
    # HTTP
    # ----------------------------------------------------------------------------------------

    def _world_for(self, token: str) -> BotWorld:
        if not TOKEN_RE.fullmatch(token):
            raise ApiError.not_found()
        world = self.bots.get(token)
        if world is None:
            if self.require_registration:
                raise ApiError.unauthorized()
            world = self.register_bot(token)
        return world

    @staticmethod
    async def _read_params(
        request: web.Request,
    ) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method not in ("POST", "PUT") or not request.can_read_body:
            return params, files
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError.bad_request("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise ApiError.bad_request("can't parse JSON request body")
            params.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form: MultiDictProxy[Any] = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files[name] = UploadedFile(
                        name, value.filename or name, value.content_type or "", data
                    )
                else:
                    params[name] = value
        return params, files

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method = request.match_info["method"]
        try:
            world = self._world_for(token)
        except ApiError as exc:
            return web.json_response(exc.to_json(), status=exc.code, dumps=_dumps)
        started = time.time()
        try:
            params, files = await self._read_params(request)
        except ApiError as exc:
            return self._finish(world, method, {}, {}, started, exc.code, exc.to_json(), False)
        attr = self._methods.get(method.lower())
        fault = world.take_fault(method)
        if fault is not None:
            return await self._faulted(request, world, method, attr, params, files, fault)
        if attr is None:
            error = ApiError.not_found()
            return self._finish(world, method, params, files, started, 404, error.to_json(), False)
        status, body, accepted = await self._run(world, attr, params, files)
        return self._finish(world, method, params, files, started, status, body, accepted)

    @staticmethod
    async def _run(
        world: BotWorld, attr: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> tuple[int, dict[str, Any], bool]:
        try:
            result = await getattr(world, attr)(Params(params, files))
        except ApiError as exc:
            return exc.code, exc.to_json(), False
        body: dict[str, Any] = {"ok": True, "result": result}
        if attr == "api_setWebhook":
            body["description"] = "Webhook was set" if world.webhook else "Webhook was deleted"
        elif attr == "api_deleteWebhook":
            body["description"] = "Webhook was deleted"
        return 200, body, True

    def _finish(
        self,
        world: BotWorld,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        started: float,
        status: int,
        body: dict[str, Any] | None,
        accepted: bool,
        fault: str | None = None,
        respond: bool = True,
    ) -> web.StreamResponse:
        self._seq += 1
        world.record(
            CallRecord(
                seq=self._seq,
                token=world.token,
                method=method,
                params=params,
                files={name: (f.filename, len(f.data)) for name, f in files.items()},
                started=started,
                finished=time.time(),
                status=status,
                response=body,
                accepted=accepted,
                fault=fault,
            )
        )
        if not respond or body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status, dumps=_dumps)

    async def _faulted(
        self,
        request: web.Request,
        world: BotWorld,
        method: str,
        attr: str | None,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        fault: Fault,
    ) -> web.StreamResponse:
        started = time.time()
        kind = fault.kind
        if kind == "429":
            error = ApiError.too_many_requests(fault.retry_after)
            return self._finish(
                world, method, params, files, started, 429, error.to_json(), False, kind
            )
        if kind == "500":
            error = ApiError(500, "Internal Server Error")
            return self._finish(
                world, method, params, files, started, 500, error.to_json(), False, kind
            )
        if kind == "502":
            self._finish(world, method, params, files, started, 502, None, False, kind, False)
            html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n"
            return web.Response(status=502, text=html, content_type="text/html")
        if kind == "disconnect":
            self._finish(world, method, params, files, started, 0, None, False, kind, False)
            return await self._drop(request)
        body: dict[str, Any] | None = None
        accepted = False
        status = 0
        if kind == "timeout_after_accept" and attr is not None:
            status, body, accepted = await self._run(world, attr, params, files)
        # Record now, so tests see the (accepted) call while the client is still waiting.
        self._finish(world, method, params, files, started, status, body, accepted, kind, False)
        await self._hold(request, fault.hold, world)
        if kind == "timeout_after_accept" and body is not None and not _gone(request):
            return web.json_response(body, status=status, dumps=_dumps)
        return await self._drop(request)

    @staticmethod
    async def _hold(request: web.Request, seconds: float, world: BotWorld) -> None:
        """Keep a request open until the client gives up, ``seconds`` pass, or shutdown."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not _gone(request) and not world.closing:
            await asyncio.sleep(0.02)

    @staticmethod
    async def _drop(request: web.Request) -> web.StreamResponse:
        """Close the connection without an answer."""
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=499)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        world = self.bots.get(token)
        path = request.match_info["path"]
        if world is None:
            return web.json_response(ApiError.unauthorized().to_json(), status=401)
        for stored in world.files.values():
            if stored.file_path == path and stored.data is not None:
                return web.Response(
                    body=stored.data, content_type=stored.mime_type or "application/octet-stream"
                )
        return web.json_response(ApiError.not_found().to_json(), status=404)


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
