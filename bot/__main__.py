"""``python -m bot``: the Telegram bot (polling or webhook), or the terminal chat without a token.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

from telegram.error import InvalidToken

from bot.config import Settings
from bot.logs import configure_logging

log = logging.getLogger("bot")


def main() -> int:
    settings = Settings()
    if not settings.token:
        _log_to_file(settings.bot_data_dir / "console.log")
        configure_logging(settings.log_level, settings.secrets)
        from bot.console import run_console

        run_console(settings)
        return 0
    # The webhook secret exists before logging does, so it is redacted like the token (PTB logs
    # setWebhook's parameters at DEBUG).
    secret = _webhook_secret(settings) if settings.webhook_url else None
    configure_logging(settings.log_level, [*settings.secrets, secret or ""])
    if settings.webhook_url and not settings.webhook_secret_token:
        log.info("WEBHOOK_SECRET_TOKEN is not set: using a random one for this run")
    try:
        _run(settings, secret)
    except InvalidToken:
        # PTB's message quotes the token: say what is wrong without it
        log.error("start-up failed: Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)")
        return 1
    except Exception as exc:
        log.debug("start-up failed", exc_info=True)  # redacted by the log filter
        log.error("start-up failed: %s: %s", type(exc).__name__,
                  _redact(str(exc).splitlines()[0] if str(exc) else "", settings, secret))
        return 1
    return 0


def _webhook_secret(settings: Settings) -> str:
    if settings.webhook_secret_token:
        return settings.webhook_secret_token.get_secret_value()
    return secrets.token_urlsafe(32)


def _redact(text: str, settings: Settings, secret: str | None) -> str:
    for value in (*settings.secrets, secret):
        if value:
            text = text.replace(value, "<redacted>")
    return text


def _run(settings: Settings, secret: str | None) -> None:
    from bot.app import ALLOWED_UPDATES, build_application

    application = build_application(settings)
    if settings.webhook_url:
        log.info("webhook mode: listening on %s:%d", settings.webhook_listen,
                 settings.webhook_port)
        application.run_webhook(
            listen=settings.webhook_listen, port=settings.webhook_port,
            url_path=settings.webhook_path, webhook_url=settings.webhook_url,
            secret_token=secret, allowed_updates=ALLOWED_UPDATES,
        )
    else:
        log.info("polling mode: %s", settings.api_root)
        application.run_polling(allowed_updates=ALLOWED_UPDATES)


def _log_to_file(path: Path) -> None:
    """The terminal is the chat: send stderr (our log, TensorFlow's C++ messages) to a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    log_file = path.open("a", encoding="utf-8")
    os.dup2(log_file.fileno(), sys.stderr.fileno())


if __name__ == "__main__":
    sys.exit(main())
