"""Terminal chat on the project's models (what ``python -m bot`` opens without a Telegram token).

The same commands as the Telegram bot will offer: ``/translate``, ``/summarize``, ``/chat``,
``/help``, ``/quit``. Plain text goes to the chat model. Models load on first use.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, TextIO

HELP = """Commands:
  /translate TEXT     translate English <-> Chinese (direction from the script of TEXT)
  /translate en|zh TEXT   translate into the given language
  /summarize TEXT     one-line summary of a paragraph
  /chat TEXT          a chat reply (plain text does the same)
  /help               this help
  /quit               leave
"""

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
Loader = Callable[[str], Any]


def translation_task(text: str, target: str | None = None) -> str:
    """``translate-zh-en`` for Chinese input (or target en), else ``translate-en-zh``."""
    if target == "en":
        return "translate-zh-en"
    if target == "zh":
        return "translate-en-zh"
    return "translate-zh-en" if _CJK.search(text) else "translate-en-zh"


class Console:
    """Parses one line, calls the right predictor, formats the answer."""

    def __init__(self, loader: Loader) -> None:
        self._loader = loader
        self._predictors: dict[str, Any] = {}

    def _predict(self, task: str, text: str) -> str:
        if task not in self._predictors:
            self._predictors[task] = self._loader(task)
        [prediction] = self._predictors[task].predict([text])
        meta = f"{task} {prediction.version}, confidence {prediction.confidence:.2f}"
        return f"{prediction.text}\n  ({meta})"

    def answer(self, line: str) -> str | None:
        """The reply to one input line; ``None`` means quit."""
        line = line.strip()
        if not line:
            return "Type a message, or /help."
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if not command.startswith("/"):
            return self._predict("chat", line)
        command = command.lower()
        if command in ("/quit", "/exit"):
            return None
        if command in ("/help", "/start"):
            return HELP
        if command == "/translate":
            target, _, text = rest.partition(" ")
            if target.lower() in ("en", "zh") and text.strip():
                return self._predict(translation_task(text, target.lower()), text)
            if not rest:
                return "Usage: /translate TEXT  or  /translate en|zh TEXT"
            return self._predict(translation_task(rest), rest)
        if command == "/summarize":
            return self._predict("summarize", rest) if rest else "Usage: /summarize TEXT"
        if command == "/chat":
            return self._predict("chat", rest) if rest else "Usage: /chat TEXT"
        return f"Unknown command {command}. " + HELP


def run_console(loader: Loader, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    console = Console(loader)
    print("Terminal chat on the local models. /help lists commands, /quit leaves.", file=stdout)
    print("To go live on Telegram, set TELEGRAM_BOT_TOKEN (see .env.example).", file=stdout)
    while True:
        print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        try:
            reply = console.answer(line)
        except Exception as exc:  # keep the chat alive; say what went wrong in one line
            reply = f"Sorry, that failed: {exc}"
        if reply is None:
            break
        print(reply, file=stdout, flush=True)
