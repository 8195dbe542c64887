"""Fakes beside the bot's two I/O boundaries: the models (a predictor) and the Bot API (HTTP).

``FakeModels`` stands in for ``model.api.load``: each task's model echoes ``task:text``.
``FakeBotAPI`` is a PTB ``BaseRequest``: it records every Bot API call and answers like the
Bot API would, so the unmodified ``Application`` runs with no network. ``Chatter`` builds the
updates a user would cause.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.services.inference import TaskUnavailable
from model.api import Prediction

BOT_ID = 4242
_ADMIN_FLAGS = (
    "can_be_edited", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
    "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
    "can_post_stories", "can_edit_stories", "can_delete_stories",
)
BOT_USERNAME = "rnn_test_bot"


class FakeModel:
    """A ``model.api.TextModel`` that answers ``task:text``; records the size of every batch;
    can be slow or broken."""

    def __init__(self, task: str, version: str = "v-fake", delay: float = 0.0,
                 respond: Callable[[str], str] | None = None, confidence: float = 0.9) -> None:
        self.task = task
        self.version = version
        self.delay = delay
        self.respond = respond or (lambda text: f"{task}:{text}")
        self.confidence = confidence
        self.batches: list[int] = []  # sizes of the calls after the warm-up call
        self.warmed_up = False
        self.fail: Exception | None = None  # raised by calls after the warm-up
        self.broken = False  # fails the warm-up too: the model cannot be loaded
        self.lock = threading.Lock()

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        with self.lock:
            warm_up = not self.warmed_up
            if not warm_up:
                self.batches.append(len(texts))
            self.warmed_up = True
        if self.broken:
            raise RuntimeError("weights are corrupt")
        if self.delay:
            time.sleep(self.delay)  # blocks its worker thread, like a real model would
        if self.fail is not None and not warm_up:
            raise self.fail
        return [Prediction(self.respond(t), self.confidence, self.task, self.version, sure=True)
                for t in texts]

    def warm_up(self, max_batch: int) -> None:
        """The first call, as a real model's: one short text."""
        self.predict(["hello"])


class FakeModels:
    """A model loader: ``loader(task, version)`` for the tasks it was given."""

    def __init__(self, models: Iterable[FakeModel] = ()) -> None:
        self.models = {m.task: m for m in models}
        self.loads: list[str] = []

    @classmethod
    def default(cls, **kwargs: Any) -> FakeModels:
        tasks = ("chat", "translate-en-zh", "translate-zh-en", "summarize")
        return cls(FakeModel(task, **kwargs) for task in tasks)

    def __call__(self, task: str, version: str | None) -> FakeModel:
        self.loads.append(task)
        if task not in self.models:
            raise TaskUnavailable(f"no trained model for {task!r}")
        return self.models[task]


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    files: dict[str, Any] = field(default_factory=dict)  # multipart uploads: name -> bytes
    result: Any = None


class FakeBotAPI(BaseRequest):
    """The Bot API as a PTB request object: records calls, answers with plausible JSON."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.member_status = "member"
        self.fail_next: dict[str, str] = {}  # method -> error description, once
        self._next_message_id = 10_000

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = {key: value[1] for key, value in (request_data.multipart_data or {}).items()
                 } if request_data and request_data.contains_files else {}
        call = ApiCall(name, params, files)
        self.calls.append(call)
        if name in self.fail_next:
            description = self.fail_next.pop(name)
            body = {"ok": False, "error_code": 400, "description": description}
            return 400, json.dumps(body).encode()
        call.result = self._result(name, params)
        return 200, json.dumps({"ok": True, "result": call.result}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "RNN", "username": BOT_USERNAME}
        if name == "getMe":
            return bot
        if name in ("sendMessage", "sendPhoto", "sendDocument"):
            self._next_message_id += 1
            chat_id = int(params["chat_id"])
            message: dict[str, Any] = {
                "message_id": self._next_message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": bot,
            }
            if "text" in params:
                message["text"] = params["text"]
            if "inline_keyboard" in (params.get("reply_markup") or {}):  # as Telegram does
                message["reply_markup"] = params["reply_markup"]
            return message
        if name == "getChatMember":
            member: dict[str, Any] = {
                "status": self.member_status,
                "user": {"id": int(params["user_id"]), "is_bot": False, "first_name": "U"}}
            if self.member_status == "administrator":
                member |= {flag: True for flag in _ADMIN_FLAGS} | {"is_anonymous": False}
            elif self.member_status == "creator":
                member["is_anonymous"] = False
            return member
        return True

    # -- what tests look at ------------------------------------------------------------------
    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [str(p["text"]) for p in self.of("sendMessage")
                if chat_id is None or int(p["chat_id"]) == chat_id]


@dataclass
class Person:
    id: int
    first_name: str
    language_code: str | None = "en"
    username: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            data["language_code"] = self.language_code
        if self.username:
            data["username"] = self.username
        return data


class Chatter:
    """Builds updates as Telegram would send them (entities included)."""

    def __init__(self) -> None:
        self.update_id = 0
        self.message_id = 0

    def _next(self) -> tuple[int, int]:
        self.update_id += 1
        self.message_id += 1
        return self.update_id, self.message_id

    def message(self, person: Person, text: str | None = None, chat_id: int | None = None,
                reply_to: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
                edited_of: int | None = None) -> dict[str, Any]:
        update_id, message_id = self._next()
        chat_id = person.id if chat_id is None else chat_id
        chat: dict[str, Any] = ({"id": chat_id, "type": "private", "first_name": person.first_name}
                                if chat_id > 0 else {"id": chat_id, "type": "group", "title": "G"})
        message: dict[str, Any] = {"message_id": edited_of or message_id,
                                   "date": int(time.time()), "chat": chat,
                                   "from": person.as_dict()}
        if text is not None:
            message["text"] = text
            if entities := _entities(text):
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(extra or {})
        if edited_of is not None:
            message["edit_date"] = int(time.time())
            return {"update_id": update_id, "edited_message": message}
        return {"update_id": update_id, "message": message}

    @staticmethod
    def bot_message(message_id: int, chat_id: int, text: str) -> dict[str, Any]:
        return {"message_id": message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "group" if chat_id < 0 else "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "RNN",
                         "username": BOT_USERNAME},
                "text": text}


def _entities(text: str) -> list[dict[str, Any]]:
    """bot_command at the start and @mentions, with UTF-16 offsets as Telegram counts them."""
    import re

    entities = []

    def utf16(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    if match := re.match(r"/\w+(@\w+)?", text):
        entities.append({"type": "bot_command", "offset": 0, "length": utf16(match.group())})
    for match in re.finditer(r"(?<!\w)@\w{3,}", text):
        entities.append({"type": "mention", "offset": utf16(text[: match.start()]),
                         "length": utf16(match.group())})
    return entities


def as_update(data: dict[str, Any], bot: Any) -> Update:
    return Update.de_json(data, bot)
