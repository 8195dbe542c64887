"""Logging: one format, quiet HTTP libraries, and secrets redacted from every line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from telegram.error import InvalidToken


class RedactSecrets(logging.Filter):
    """Replace the bot token and webhook secret wherever they appear (URLs, tracebacks)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        text = record.exc_text or ""
        for secret in self.secrets:
            message = message.replace(secret, "<redacted>")
            text = text.replace(secret, "<redacted>")
        record.msg, record.args = message, None
        record.exc_text = text or None
        if record.exc_text:
            record.exc_info = None  # the redacted text above is what gets printed
        return True


class DropStartUpTracebacks(logging.Filter):
    """Drop PTB's tracebacks of a failed start-up (a rejected token's message even quotes the
    token): ``python -m bot`` reports the failure itself, in one line (its traceback at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info:
            return True
        bootstrap = record.name.startswith("telegram") and "Bootstrap" in record.getMessage()
        return not (bootstrap or isinstance(record.exc_info[1], InvalidToken))


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(DropStartUpTracebacks())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite", "alembic.runtime"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
