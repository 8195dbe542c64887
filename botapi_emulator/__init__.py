"""An in-repo Telegram Bot API emulator for end-to-end tests, plus a test-side user client.

* :class:`BotAPIServer` - the aiohttp server speaking the Bot API on 127.0.0.1;
* :class:`BotAPIHarness` - runs the server in a background thread; ``new_bot()`` gives a
  :class:`BotHandle` to act as Telegram users and observe what the bot did;
* ``python -m botapi_emulator --port 8081`` - a standalone server with a line-based user.
"""

from .errors import ApiError
from .harness import AsyncBotHandle, BotAPIHarness, BotHandle
from .models import FAULT_KINDS, CallRecord, Chat, Fault, User, WebhookDelivery
from .server import BotAPIServer
from .text import detect_entities, entity_text, format_text, utf16_len
from .world import BotWorld

__all__ = [
    "FAULT_KINDS",
    "ApiError",
    "AsyncBotHandle",
    "BotAPIHarness",
    "BotAPIServer",
    "BotHandle",
    "BotWorld",
    "CallRecord",
    "Chat",
    "Fault",
    "User",
    "WebhookDelivery",
    "detect_entities",
    "entity_text",
    "format_text",
    "utf16_len",
]
