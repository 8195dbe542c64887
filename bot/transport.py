"""The Bot API's HTTP layer: PTB's ``HTTPXRequest`` with responses parsed by orjson.

PTB parses every response of the Bot API (each sent message, each ``getUpdates`` batch) with
the standard library's ``json``; ``parse_json_payload`` is PTB's documented hook for another
parser. orjson parses them several times faster. A payload that is not valid UTF-8 JSON goes to
PTB's own parser, which replaces bad bytes or raises PTB's ``TelegramError`` as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from telegram.request import BaseRequest, HTTPXRequest


def parse_json_payload(payload: bytes) -> Any:
    """Telegram's JSON answer as a dict (PTB's behaviour on anything orjson refuses)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return BaseRequest.parse_json_payload(payload)


class FastRequest(HTTPXRequest):
    """``HTTPXRequest`` whose responses are parsed by orjson."""

    @staticmethod
    def parse_json_payload(payload: bytes) -> Any:
        return parse_json_payload(payload)


def default_requests() -> tuple[BaseRequest, BaseRequest]:
    """The request objects PTB's builder would make (256 connections for the Bot API's
    methods, one for ``getUpdates``), parsing with orjson."""
    return FastRequest(connection_pool_size=256), FastRequest(connection_pool_size=1)
