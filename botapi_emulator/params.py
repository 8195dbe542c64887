"""Typed access to request parameters, whichever way the client encoded them.

JSON bodies carry native values; form-urlencoded and multipart bodies (what PTB sends) carry
strings, with objects and arrays JSON-encoded inside them. ``Params`` hides the difference.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError
from .models import UploadedFile

_TRUE = {"true", "1", "yes", "on"}


class Params:
    """The parameters of one Bot API call, plus the files of a multipart request."""

    def __init__(self, raw: dict[str, Any], files: dict[str, UploadedFile] | None = None):
        self.raw = raw
        self.files = files or {}

    def has(self, name: str) -> bool:
        """True when ``name`` was sent with a non-empty value (or as a file)."""
        value = self.raw.get(name)
        return (value is not None and value != "") or name in self.files

    def get_str(self, name: str, *, required: bool = False) -> str | None:
        """A string parameter; numbers are accepted and converted."""
        value = self.raw.get(name)
        if value is None:
            if required:
                raise ApiError.bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
        return str(value)

    def get_int(
        self, name: str, *, required: bool = False, default: int | None = None
    ) -> int | None:
        """An integer parameter (``"42"`` and ``42`` both work)."""
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                raise ApiError.bad_request(f"{name} is empty")
            return default
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            pass
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ApiError.bad_request(f"invalid {name} specified") from None
        if not number.is_integer():
            raise ApiError.bad_request(f"invalid {name} specified")
        return int(number)

    def get_bool(self, name: str, *, default: bool = False) -> bool:
        """A Boolean parameter (``true``/``false`` as JSON or as form strings)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in _TRUE

    def get_json(self, name: str, *, error: str | None = None) -> Any:
        """An object or array parameter, JSON-encoded in forms and native in JSON bodies."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, (dict, list)):
            return value
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            raise ApiError.bad_request(error or f"can't parse {name} JSON object") from None

    def chat_id(self, name: str = "chat_id") -> int | str:
        """A ``chat_id``: an integer, or ``@channelusername``."""
        value = self.raw.get(name)
        if value is None or value == "":
            raise ApiError.bad_request(f"{name} is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            if text.startswith("@"):
                return text
            raise ApiError.bad_request("chat not found") from None

    def file(self, name: str) -> UploadedFile | str | None:
        """A file parameter: an uploaded part (directly or via ``attach://``) or a string."""
        if name in self.files:
            return self.files[name]
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        text = str(value)
        if text.startswith("attach://"):
            return self.files.get(text[len("attach://") :])
        return text
