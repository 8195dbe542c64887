"""Plain value types shared by the emulator and its test-side client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["429", "500", "502", "timeout", "timeout_after_accept", "disconnect"]
#: The fault kinds :meth:`BotAPIServer.inject_fault` understands.
FAULT_KINDS: tuple[str, ...] = (
    "429",
    "500",
    "502",
    "timeout",
    "timeout_after_accept",
    "disconnect",
)

ChatType = Literal["private", "group", "supergroup", "channel"]
MemberStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]


@dataclass(frozen=True)
class User:
    """A Telegram user (a person, or the bot itself when ``is_bot``)."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        """The ``User`` object as the Bot API serialises it (absent fields omitted)."""
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data


@dataclass(frozen=True)
class Chat:
    """A chat: private (``id`` = the user's id), group or supergroup (negative ``id``)."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The ``Chat`` object embedded in messages."""
        data: dict[str, Any] = {"id": self.id}
        for name in ("title", "username", "first_name", "last_name"):
            value = getattr(self, name)
            if value:
                data[name] = value
        data["type"] = self.type
        return data

    @property
    def is_group(self) -> bool:
        """True for groups and supergroups."""
        return self.type in ("group", "supergroup")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class StoredFile:
    """A file the emulator knows: uploaded by the bot, sent by a user, or referenced by URL."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes | None
    mime_type: str | None = None
    file_name: str | None = None
    url: str | None = None
    #: The media object (photo size list, document, ...) a re-send by file_id reuses.
    media: Any = None

    @property
    def size(self) -> int:
        """Size in bytes (0 when only a URL is known)."""
        return len(self.data) if self.data is not None else 0


@dataclass
class Fault:
    """A fault waiting for the next calls of one method."""

    method: str
    kind: str
    remaining: int
    retry_after: int = 1
    hold: float = 30.0


@dataclass(frozen=True)
class CallRecord:
    """One request the bot made, with what the emulator answered.

    ``accepted`` is True when the method took effect (a message really sent, a callback really
    answered): with ``fault="timeout_after_accept"`` it is True although the bot never saw the
    answer, which is exactly the case that makes a naive retry send a message twice.
    """

    seq: int
    token: str
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, int]]
    started: float
    finished: float
    status: int
    response: dict[str, Any] | None
    accepted: bool
    fault: str | None = None

    @property
    def ok(self) -> bool:
        """True when the bot received ``{"ok": true}``."""
        return self.response is not None and bool(self.response.get("ok"))

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call (None otherwise)."""
        return self.response.get("result") if self.response else None


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to POST an update to the bot's webhook."""

    update_id: int
    attempt: int
    url: str
    secret_sent: bool
    status: int | None
    error: str | None
    time: float


@dataclass
class QueuedUpdate:
    """An update waiting to be confirmed (polling) or delivered (webhook)."""

    update_id: int
    payload: dict[str, Any]
    kind: str
    #: Redelivered with an id already confirmed: returned once regardless of the offset.
    forced: bool = False
    returned: bool = False
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
