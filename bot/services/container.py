"""The composition root of the services: built once at start-up, closed at shutdown."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.config import Settings
from bot.services.audit import AuditLog
from bot.services.conversation import Conversation
from bot.services.fallback import FallbackLoader
from bot.services.inference import InferenceService, ModelLoader
from bot.services.insights import Insights
from bot.services.learning_loop import Learning
from bot.services.model_loader import predictor_loader
from bot.services.notices import AdminNotices, Announce
from bot.services.privacy import ForgottenPairs, Privacy
from bot.services.ratelimit import UserRateLimiter
from bot.services.retention import Retention
from bot.services.retrain import RetrainService, ScheduleArmer
from bot.services.routing import Router
from bot.services.turns import Turns
from bot.services.versions import ModelVersions
from bot.storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    inference: InferenceService
    conversation: Conversation
    turns: Turns
    limiter: UserRateLimiter
    refusals: UserRateLimiter  # at most one "this bot is private" per user and hour
    audit: AuditLog
    learning: Learning
    privacy: Privacy
    insights: Insights
    versions: ModelVersions
    retrain: RetrainService

    async def close(self) -> None:
        log.info("inference stats: %s", self.inference.stats()["total"])
        await self.retrain.close()  # stops a trainer first; its run is marked interrupted
        await self.inference.close()
        await self.db.close()


async def build_services(settings: Settings, loader: ModelLoader | None = None,
                         announce: Announce | None = None,
                         arm: ScheduleArmer | None = None) -> Services:
    """Migrate the database, start loading the models, wire everything together.

    ``announce`` tells every admin (retrain outcomes, versions that failed to load); ``arm``
    schedules the job of a task's next scheduled retrain. Without them (the terminal chat)
    nobody is told and no retrain is scheduled."""
    db = Database(settings.database_url)
    await db.migrate()
    model_settings = settings.model_settings()
    notices = AdminNotices(settings.default_language, announce)
    # a current version that fails to load at start-up gives way to an earlier one (admins told)
    model_loader = FallbackLoader(loader or predictor_loader(model_settings),
                                  model_settings.model_dir, notices.fell_back)
    # forgotten pairs leave every model before it serves (a first load, a reload, a promotion)
    forgotten = ForgottenPairs(db, model_settings.model_dir)
    inference = InferenceService(
        model_loader,
        prepare=forgotten.prepare,
        max_batch=settings.batch_max_size,
        max_wait_ms=settings.batch_max_wait_ms,
        timeout_s=settings.inference_timeout_s,
        threads=settings.inference_threads,
        retry_s=settings.model_retry_s,
    )
    inference.warm_up(settings.preload_tasks)
    conversation = Conversation(inference, Router(inference, settings.intent_min_confidence),
                                settings.max_input_chars)
    turns = Turns(db, settings.store_group_messages, settings.default_language,
                  settings.max_input_chars)
    learning = Learning(db, inference)
    retention = Retention(model_settings.model_dir, settings.bot_data_dir,
                          settings.bot_data_dir / "retrain", settings.retain_candidates)
    versions = ModelVersions(inference, model_settings.model_dir, settings.default_language,
                             notices, retention)
    return Services(
        settings=settings,
        db=db,
        inference=inference,
        conversation=conversation,
        turns=turns,
        limiter=UserRateLimiter(settings.user_rate_limit, settings.user_rate_period_s,
                                exempt=settings.admin_user_ids),
        refusals=UserRateLimiter(1, 3600),
        audit=AuditLog(db),
        learning=learning,
        privacy=Privacy(db, turns, inference, forgotten, settings.bot_data_dir / "retrain",
                        model_settings.data_dir),
        insights=Insights(db, inference, retention),
        versions=versions,
        retrain=RetrainService(settings, db, versions, announce, arm),
    )
