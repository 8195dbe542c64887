"""Inline keyboards and their callback data (small, parseable, under Telegram's 64 bytes).

``fb:+`` / ``fb:-``        rate the answer the buttons sit under (found by chat and message id)
``rv:a|e|r:<id>:<pos>``   approve / edit / reject correction <id>, shown at position <pos>
``rv:n:<pos>``            show the pending correction at position <pos>
``fm:yes|no:<user id>``   confirm or cancel /forgetme (only that user may press)
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.texts import say

FEEDBACK_PATTERN = r"^fb:[+-]$"
REVIEW_PATTERN = r"^rv:(?:[aer]:\d+:\d+|n:\d+)$"
FORGET_PATTERN = r"^fm:(?:yes|no):\d+$"


def feedback_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="fb:+"),
                                  InlineKeyboardButton("👎", callback_data="fb:-")]])


def parse_rating(data: str | None) -> int | None:
    return {"fb:+": 1, "fb:-": -1}.get(data or "")


def review_keyboard(lang: str, correction_id: int, position: int) -> InlineKeyboardMarkup:
    suffix = f"{correction_id}:{position}"
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(say(lang, "button_approve"), callback_data=f"rv:a:{suffix}"),
         InlineKeyboardButton(say(lang, "button_edit"), callback_data=f"rv:e:{suffix}"),
         InlineKeyboardButton(say(lang, "button_reject"), callback_data=f"rv:r:{suffix}")],
        [InlineKeyboardButton(say(lang, "button_next"), callback_data=f"rv:n:{position + 1}")],
    ])


def parse_review(data: str | None) -> tuple[str, int | None, int] | None:
    """``(action, correction id or None, position)``; None when malformed."""
    parts = (data or "").split(":")
    try:
        if len(parts) == 4 and parts[0] == "rv" and parts[1] in ("a", "e", "r"):
            return parts[1], int(parts[2]), int(parts[3])
        if len(parts) == 3 and parts[0] == "rv" and parts[1] == "n":
            return "n", None, int(parts[2])
    except ValueError:
        return None
    return None


def forget_keyboard(lang: str, user_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(say(lang, "button_forget"), callback_data=f"fm:yes:{user_id}"),
        InlineKeyboardButton(say(lang, "button_cancel"), callback_data=f"fm:no:{user_id}"),
    ]])


def parse_forget(data: str | None) -> tuple[bool, int] | None:
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != "fm" or parts[1] not in ("yes", "no"):
        return None
    try:
        return parts[1] == "yes", int(parts[2])
    except ValueError:
        return None
