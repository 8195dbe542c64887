"""Parsing of command arguments, shared by the Telegram handlers and the terminal chat."""

from __future__ import annotations

import re

MODES = ("auto", "qa", "chat", "translate", "summarize")
LANGUAGES = ("en", "zh")

_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>\w+))?(?:\s+|$)(?P<rest>.*)$",
                      re.S)


def split_command(text: str) -> tuple[str, str | None, str] | None:
    """``"/translate@my_bot zh hello"`` -> ``("translate", "my_bot", "zh hello")``."""
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    return match.group("name").lower(), match.group("bot"), match.group("rest").strip()


def command_argument(text: str) -> str:
    """Everything after the command word, line breaks kept."""
    parts = split_command(text)
    return parts[2] if parts else ""


def parse_translate(argument: str) -> tuple[str | None, str]:
    """``"zh good morning"`` -> ``("zh", "good morning")``; ``"hello"`` -> ``(None, "hello")``.

    A lone ``en``/``zh`` is a target with no text (the text then comes from a replied-to
    message).
    """
    first, _, rest = argument.strip().partition(" ")
    if first.lower() in LANGUAGES:
        return first.lower(), rest.strip()
    head, newline, tail = argument.strip().partition("\n")
    if head.strip().lower() in LANGUAGES and newline:
        return head.strip().lower(), tail.strip()
    return None, argument.strip()


def parse_choice(argument: str, choices: tuple[str, ...]) -> str | None:
    value = argument.strip().lower()
    return value if value in choices else None


def parse_count(argument: str, default: int, maximum: int) -> int | None:
    """``""`` -> default; ``"20"`` -> 20; anything else or out of 1..maximum -> None."""
    value = argument.strip()
    if not value:
        return default
    if not value.isdecimal() or not value.isascii():
        return None
    number = int(value)
    return number if 1 <= number <= maximum else None
