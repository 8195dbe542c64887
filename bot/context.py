"""The typed callback context: ``context.services`` and ``context.turn`` instead of string keys."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.inbox import Inbox
from bot.services.container import Services
from bot.services.turns import Turn


class AppState:
    """``application.bot_data``: holds the services built in ``post_init``."""

    def __init__(self) -> None:
        self.services: Services | None = None
        self.inbox: Inbox | None = None  # fetched updates not yet stored (bot/inbox.py)


class BotContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], AppState]):
    """PTB's context plus the services and the turn being answered.

    PTB builds one context per update and passes it to the handler of every group, so the
    turn that the admission handler (group -1) stores is seen by the handler that answers.
    """

    def __init__(self, application: BotApplication, chat_id: int | None = None,
                 user_id: int | None = None) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self.turn: Turn | None = None

    @property
    def services(self) -> Services:
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("services are built in post_init; no update arrives before")
        return services

    @property
    def current_turn(self) -> Turn:
        if self.turn is None:
            raise RuntimeError("no turn: the admission handler did not run for this update")
        return self.turn


BotApplication = Application[ExtBot[Any], BotContext, dict[Any, Any], dict[Any, Any], AppState,
                             JobQueue[Any]]
