"""The Bot API's error shape: ``{"ok": false, "error_code": N, "description": "..."}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API error, raised by method implementations and turned into an HTTP response.

    ``code`` is both the HTTP status and ``error_code``; ``parameters`` becomes the
    ``ResponseParameters`` object (``retry_after``, ``migrate_to_chat_id``) when given.
    """

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> dict[str, Any]:
        """The response body the real Bot API would send."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body

    @classmethod
    def bad_request(cls, detail: str) -> ApiError:
        """``400 Bad Request: <detail>``."""
        return cls(400, f"Bad Request: {detail}")

    @classmethod
    def forbidden(cls, detail: str) -> ApiError:
        """``403 Forbidden: <detail>``."""
        return cls(403, f"Forbidden: {detail}")

    @classmethod
    def conflict(cls, detail: str) -> ApiError:
        """``409 Conflict: <detail>``."""
        return cls(409, f"Conflict: {detail}")

    @classmethod
    def too_many_requests(cls, retry_after: int) -> ApiError:
        """``429 Too Many Requests`` with ``parameters.retry_after``."""
        return cls(
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )

    @classmethod
    def not_found(cls) -> ApiError:
        """What the server answers for unknown methods and malformed tokens."""
        return cls(404, "Not Found")

    @classmethod
    def unauthorized(cls) -> ApiError:
        """What the server answers for well-formed but unknown tokens."""
        return cls(401, "Unauthorized")
