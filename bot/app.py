"""The Telegram application: handlers in priority order, error handler, lifecycle hooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import Settings
from bot.context import AppState, BotApplication, BotContext
from bot.handlers import (
    admission,
    answers,
    basics,
    feedback,
    groups,
    insights,
    keyboards,
    model_admin,
    nontext,
    privacy,
    teaching,
)
from bot.handlers.errors import on_error
from bot.inbox import DurableApplication, HoldingQueue, HoldingRequest, Inbox
from bot.services.container import build_services
from bot.services.flood_budget import SharedBudget, SharedRateLimiter
from bot.services.inference import ModelLoader
from bot.services.replicas import ReplicaLoad, Replicas
from bot.storage.records import StoredMessage
from bot.texts import ADMIN_MENU, COMMAND_MENU, GROUP_MENU, LANGUAGES, PRIVATE_MENU
from bot.transport import default_requests

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]


def handlers(prompts: feedback.Prompts | None = None
             ) -> dict[int, list[BaseHandler[Any, BotContext, Any]]]:
    """Every handler, by group; groups run in order and at most one handler per group fires.
    ``prompts`` holds the texts a 👎 or an admin's edit waits for."""
    prompts = prompts or feedback.Prompts(on_edit=teaching.apply_edit)
    presses = admission.PressGate()
    return {
        # -2: allow-lists, before anything is stored
        -2: [TypeHandler(Update, admission.enforce_allow_lists)],
        # -1: every update is rate-limited; edits are recorded and end there; other messages
        # are stored once; a button press that repeats the last one or is not on its message
        # ends there
        -1: [
            MessageHandler(filters.UpdateType.EDITED_MESSAGE, admission.record_edit),
            MessageHandler(filters.UpdateType.MESSAGE, admission.admit),
            CallbackQueryHandler(presses.admit),
        ],
        # 0: the answer. Commands first, then plain text; the catch-all for non-text is last
        # because it matches everything.
        0: [
            CommandHandler("start", basics.start),
            CommandHandler("help", basics.help_command),
            CommandHandler("lang", basics.set_language),
            CommandHandler("mode", basics.set_mode),
            CommandHandler("ask", answers.ask),
            CommandHandler("translate", answers.translate),
            CommandHandler("summarize", answers.summarize),
            CommandHandler("digest", groups.digest),
            CommandHandler("exportme", privacy.export_me),
            CommandHandler("forgetme", privacy.forget_me),
            CommandHandler("teach", teaching.teach),
            CommandHandler("review", teaching.review),
            CommandHandler("status", insights.status),
            CommandHandler("stats", insights.stats),
            CallbackQueryHandler(prompts.rate, pattern=keyboards.FEEDBACK_PATTERN),
            CallbackQueryHandler(teaching.ReviewButtons(prompts).press,
                                 pattern=keyboards.REVIEW_PATTERN),
            CallbackQueryHandler(privacy.ForgetButtons(prompts).press,
                                 pattern=keyboards.FORGET_PATTERN),
            # admin commands (ADMIN_USER_IDS; others are refused by the admin gate)
            CommandHandler("models", model_admin.list_models),
            CommandHandler("promote", model_admin.promote),
            CommandHandler("rollback", model_admin.rollback),
            CommandHandler("retrain", model_admin.retrain),
            MessageHandler(filters.COMMAND, basics.unknown_command),
            # a correction after a 👎 (or an admin's edit) is not sent to the models
            MessageHandler(filters.TEXT & ~filters.COMMAND & prompts.filter, prompts.receive),
            MessageHandler(filters.TEXT, answers.free_text),
            MessageHandler(filters.ALL, nontext.not_text),
        ],
    }


def build_application(
    settings: Settings,
    loader: ModelLoader | None = None,
    request: BaseRequest | None = None,
) -> BotApplication:
    """The PTB application; services are built in post_init (inside the running loop).

    ``loader`` and ``request`` replace the model loader and the HTTP layer in unit tests.
    """

    prompts = feedback.Prompts(on_edit=teaching.apply_edit)

    async def post_init(application: BotApplication) -> None:
        services = await build_services(
            settings, loader,
            announce=model_admin.admin_announcer(application, settings.admin_user_ids),
            arm=model_admin.retrain_scheduler(application))
        application.bot_data.services = services
        if restored := await prompts.restore(services.learning):
            log.info("%d correction/edit prompt(s) still waiting for their text", restored)
        await register_commands(application)
        if settings.replicas_on:  # leader only: the schedule; every replica: dead ones' messages
            await start_replica(application, settings)
        else:
            await answer_interrupted(application, settings.recovery_window_s)
            await model_admin.start_retraining(application)
        # pairs taught while the qa model was not loaded reach its bank in the background;
        # forgotten pairs leave the banks already serving (later loads: InferenceService.prepare)
        _background(services.learning.sync_bank(), "sync-answer-bank")
        _background(services.privacy.apply(), "forget-pairs")
        log.info("bot @%s ready", application.bot.username)

    async def post_shutdown(application: BotApplication) -> None:
        if application.bot_data.services is not None:
            await application.bot_data.services.close()

    rate_limiter = SharedRateLimiter(
        overall_max_rate=settings.telegram_max_messages_per_s,
        overall_time_period=1,
        group_max_rate=settings.telegram_group_messages_per_min,
        group_time_period=60,
        max_retries=settings.telegram_max_retries,
    )
    inbox = Inbox()
    builder = Application.builder().application_class(DurableApplication)
    requests, polling_request = default_requests() if request is None else (request, request)
    builder = builder.request(requests)
    builder = builder.get_updates_request(HoldingRequest(polling_request, inbox))
    # webhook: answer Telegram's POST only once the update is stored (bot/inbox.py)
    builder = builder.update_queue(HoldingQueue(inbox, hold=bool(settings.webhook_url)))
    application: BotApplication = (
        builder
        .token(settings.token)
        .base_url(settings.bot_api_url)
        .base_file_url(settings.bot_file_url)
        .context_types(ContextTypes(context=BotContext, bot_data=AppState))
        .concurrent_updates(settings.concurrent_updates)
        .rate_limiter(rate_limiter)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data.inbox = inbox
    for group, members in handlers(prompts).items():
        application.add_handlers(members, group=group)
    application.add_error_handler(on_error)
    return application


_BACKGROUND: set[asyncio.Task[Any]] = set()


def _background(coroutine: Coroutine[Any, Any, Any], name: str) -> None:
    """Run a start-up chore without delaying start-up; its failure is logged, not raised."""

    def done(task: asyncio.Task[Any]) -> None:
        _BACKGROUND.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", name, exc_info=task.exception())

    task = asyncio.get_running_loop().create_task(coroutine, name=name)
    _BACKGROUND.add(task)
    task.add_done_callback(done)


async def register_commands(application: BotApplication) -> None:
    """The command menus (setMyCommands) for private chats and groups, in English and Chinese."""
    bot = application.bot
    for scope, names in ((BotCommandScopeAllPrivateChats(), PRIVATE_MENU),
                         (BotCommandScopeAllGroupChats(), GROUP_MENU)):
        for lang in LANGUAGES:
            commands = [BotCommand(name, COMMAND_MENU[name][lang]) for name in names]
            await bot.set_my_commands(commands, scope=scope,
                                      language_code=None if lang == "en" else lang)
    admin_commands = [BotCommand(name, COMMAND_MENU[name]["en"]) for name in ADMIN_MENU]
    services = application.bot_data.services
    for admin_id in services.settings.admin_user_ids if services else ():
        try:  # an admin who never opened a chat with the bot has no chat to scope to
            await bot.set_my_commands(admin_commands, scope=BotCommandScopeChat(admin_id))
        except TelegramError as exc:
            log.info("no admin command menu for %s: %s", admin_id, exc)


async def start_replica(application: BotApplication, settings: Settings) -> None:
    """This process as one of several sharing the database (``bot/services/replicas.py``)."""
    services = application.bot_data.services
    assert services is not None
    inbox = application.bot_data.inbox

    def requeue(stored: StoredMessage) -> None:
        if stored.raw_update is not None:
            application.update_queue.put_nowait(Update.de_json(stored.raw_update, application.bot))

    def load() -> ReplicaLoad:
        waiting = application.update_queue.qsize() + (inbox.pending if inbox else 0)
        return ReplicaLoad(waiting, int(services.inference.stats()["total"]["requests"]))

    async def sync_banks() -> None:
        await services.learning.sync_bank()
        for task in services.inference.versions():
            await services.privacy.apply(task)

    replicas = Replicas(
        services.db, services.turns.instance, served=services.inference.versions,
        current=services.versions.current, follow=services.versions.follow,
        sync_banks=sync_banks, load=load, requeue=requeue,
        on_leadership=lambda: model_admin.start_retraining(application),
        heartbeat_s=settings.replica_heartbeat_s, timeout_s=settings.replica_timeout_s,
        pointer_s=settings.replica_pointer_s, recovery_window_s=settings.recovery_window_s,
        stage=services.versions.stage,
        on_retrain_request=lambda: model_admin.run_requested_retrains(application),
        notifications=settings.replica_notify)
    services.versions.on_switch = replicas.announce_model
    limiter = application.bot.rate_limiter
    if isinstance(limiter, SharedRateLimiter):  # Telegram's limits: one budget for all
        limiter.budget = SharedBudget(services.db, settings.telegram_max_messages_per_s,
                                      settings.telegram_group_messages_per_min)
    services.replicas = services.insights.replicas = replicas
    services.turns.owner_alive = replicas.owner_alive
    services.turns.before_answer = replicas.wait_for_earlier
    await replicas.start()
    await replicas.sweep()


async def answer_interrupted(application: BotApplication, window_s: float) -> None:
    """Queue again the messages a previous run accepted but died before answering.

    They are stored already, so they skip the webhook's hold (``put_nowait``): start-up, which
    runs before anything is handled, must not wait on each of them."""
    services = application.bot_data.services
    if services is None or window_s <= 0:
        return
    pending = await services.turns.interrupted(window_s)
    for stored in pending:
        if stored.raw_update is not None:
            application.update_queue.put_nowait(
                Update.de_json(stored.raw_update, application.bot))
    if pending:
        log.info("answering %d message(s) left unanswered by the previous run", len(pending))
