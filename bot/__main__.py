"""``python -m bot``: the bot's entry point.

The Telegram application arrives with issue #4; until then, and whenever no
``TELEGRAM_BOT_TOKEN`` is set, this opens a chat in the terminal on the same models.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from bot.console import run_console
    from model.predictor import load

    if os.environ.get("TELEGRAM_BOT_TOKEN"):
        print("A Telegram token is set, but the Telegram front end is not built yet; "
              "opening the terminal chat instead.", file=sys.stderr)
    run_console(load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
