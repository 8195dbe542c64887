"""The anchor of ``bench.e2e``: the least a python-telegram-bot application can do per message.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_BASE_URL=... python -m bench.anchor_bot

Long polling, the same number of concurrent updates as the bot's default, and every message
answered with a fixed text quoting it: no storage, no models, no rate limiter, no logging per
message. The bot's CPU per message is reported as a multiple of this one's, measured through
the same emulator in the same benchmark run.
"""

from __future__ import annotations

import logging
import os

from telegram import ReplyParameters, Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bench.threadnames import name_threads

CONCURRENT_UPDATES = 64  # the bot's CONCURRENT_UPDATES default
TEXT = "Thanks, noted."


async def answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    await message.reply_text(TEXT, reply_parameters=ReplyParameters(message.message_id))


def main() -> None:
    name_threads()
    logging.basicConfig(level=logging.WARNING)
    base = os.environ["TELEGRAM_API_BASE_URL"].rstrip("/").removesuffix("/bot")
    application = (Application.builder().token(os.environ["TELEGRAM_BOT_TOKEN"])
                   .base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
                   .concurrent_updates(CONCURRENT_UPDATES).build())
    application.add_handler(MessageHandler(filters.ALL, answer))
    print("anchor ready", flush=True)
    application.run_polling(allowed_updates=[Update.MESSAGE])


if __name__ == "__main__":
    main()
