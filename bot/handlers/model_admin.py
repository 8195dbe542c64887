"""Admin commands for model versions and retraining: /models, /promote, /rollback, /retrain;
and the retrain schedule on PTB's JobQueue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from telegram import Bot, ReplyParameters, Update
from telegram.error import TelegramError

from bot.config import ALL_TASKS
from bot.context import BotApplication, BotContext
from bot.handlers.admin import admin_command
from bot.handlers.outgoing import respond
from bot.services.conversation import Reply
from bot.services.notices import Announce
from bot.services.retrain import RunProgress, ScheduleArmer
from bot.services.retrain_outcome import RunOutcome, describe
from bot.services.versions import SwitchFailed, VersionView
from bot.storage.records import OutgoingMessage
from bot.texts import say

log = logging.getLogger(__name__)

PROGRESS_EDIT_S = 2.0  # at most one progress edit this often (Telegram limits edits)


async def _answer(update: Update, context: BotContext, text: str) -> None:
    await respond(update, context, Reply(text))


def _task_argument(context: BotContext) -> str | None:
    return context.args[0].lower() if context.args else None


@admin_command("models")
async def list_models(update: Update, context: BotContext) -> str | None:
    """/models [TASK]: versions with their metrics; the current one marked."""
    lang, services = context.current_turn.lang, context.services
    task = _task_argument(context)
    if task is not None and task not in ALL_TASKS:
        await _answer(update, context, say(lang, "models_usage", tasks=", ".join(ALL_TASKS)))
        return "usage"
    tasks = [task] if task else [t for t in ALL_TASKS if t in services.versions.tasks()]
    blocks = [_describe_task(t, services.versions.versions(t), lang,
                             services.versions.current(t)) for t in tasks]
    runs = await services.retrain.history(task, limit=1)
    if runs:
        due = await services.retrain.next_due()
        upcoming = min(due.values()).strftime("%Y-%m-%d %H:%M UTC") if due else "-"
        blocks.append(say(lang, "models_retrain", run=runs[0].id,
                          status=f"{runs[0].task} {runs[0].status}",
                          when=runs[0].started_at.strftime("%Y-%m-%d %H:%M UTC"),
                          next=upcoming))
    await _answer(update, context, "\n\n".join(blocks) or say(lang, "models_none", task="-"))
    return None


def _describe_task(task: str, versions: list[VersionView], lang: str, current: str | None
                   ) -> str:
    if not versions:
        return say(lang, "models_none", task=task)
    lines = [say(lang, "models_task", task=task, current=current or "-")]
    for view in versions[-8:]:  # the newest; older ones stay on disk
        mark = "*" if view.is_current else " "
        figures = ", ".join(f"{k} {v:g}" for k, v in list(view.metrics.items())[:3])
        lines.append(f"{mark} {view.version}  {view.created_at[:16]}  {figures}")
    return "\n".join(lines)


@admin_command("promote")
async def promote(update: Update, context: BotContext) -> str | None:
    """/promote TASK VERSION: load that version in the background, then serve it."""
    lang, versions = context.current_turn.lang, context.services.versions
    args = list(context.args or [])
    if len(args) != 2 or args[0].lower() not in ALL_TASKS:
        await _answer(update, context, say(lang, "promote_usage"))
        return "usage"
    task, version = args[0].lower(), args[1]
    known = [view.version for view in versions.versions(task)]
    if version not in known:  # the registry's names only: not a path, "..", a staging folder
        await _answer(update, context, say(lang, "promote_unknown", task=task, version=version,
                                           versions=", ".join(known) or "-"))
        return f"refused: no version {version!r}"[:200]
    try:
        await versions.promote(task, version)
    except SwitchFailed as exc:
        await _answer(update, context, _refusal(context, task, exc, lang))
        return f"refused: {exc}"[:200]
    await _answer(update, context, say(lang, "switched", task=task, version=version))
    return f"promoted {task} {version}"


@admin_command("rollback")
async def rollback(update: Update, context: BotContext) -> str | None:
    """/rollback TASK: serve the previously promoted version again."""
    lang, versions = context.current_turn.lang, context.services.versions
    task = _task_argument(context)
    if task not in ALL_TASKS or len(context.args or []) != 1:
        await _answer(update, context, say(lang, "rollback_usage"))
        return "usage"
    try:
        version = await versions.rollback(task)
    except SwitchFailed as exc:
        await _answer(update, context, _refusal(context, task, exc, lang))
        return f"refused: {exc}"[:200]
    await _answer(update, context, say(lang, "switched", task=task, version=version))
    return f"rolled back {task} to {version}"


def _refusal(context: BotContext, task: str, exc: SwitchFailed, lang: str) -> str:
    serving = context.services.inference.versions().get(task, "-")
    return say(lang, "switch_refused", task=task, reason=str(exc)[:300], serving=serving)


@admin_command("retrain")
async def retrain(update: Update, context: BotContext) -> str | None:
    """/retrain [TASK]: retrain in the background; this message shows the progress."""
    turn, services = context.current_turn, context.services
    task = _task_argument(context)
    if task is not None and task not in ALL_TASKS:
        await _answer(update, context, say(turn.lang, "retrain_usage",
                                           tasks=", ".join(ALL_TASKS)))
        return "usage"
    active = services.retrain.active
    if services.retrain.busy and active is not None:
        phase = active.phase + (f" {active.fraction:.0%}" if active.fraction else "")
        await _answer(update, context, say(turn.lang, "retrain_busy", task=active.task,
                                           phase=phase))
        return "busy"
    tasks = [task] if task else list(services.settings.retrain_tasks)
    message = update.effective_message
    assert message is not None
    replicas = services.replicas
    if replicas is not None and not replicas.leader:  # the leader runs it, and edits this
        posted = await message.reply_text(
            say(turn.lang, "retrain_requested", task=", ".join(tasks)),
            reply_parameters=ReplyParameters(message.message_id,
                                             allow_sending_without_reply=True))
        await services.turns.finish(turn, [OutgoingMessage(
            posted.chat_id, posted.message_id, posted.text or "", message.message_id)])
        await replicas.request_retrain(tasks, turn.user_id, posted.chat_id, posted.message_id,
                                       turn.lang)
        return f"requested {','.join(tasks)} from the leader"
    posted = await message.reply_text(
        say(turn.lang, "retrain_phase_snapshot", task=tasks[0]),
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True))
    await services.turns.finish(turn, [OutgoingMessage(
        posted.chat_id, posted.message_id, posted.text or "", message.message_id)])
    progress = ProgressMessage(context.bot, posted.chat_id, posted.message_id, turn.lang,
                               services.settings.retrain_tolerance)
    job = services.retrain.start(tasks, "admin", turn.user_id, progress)
    job.add_done_callback(progress.finish)
    return f"started {','.join(tasks)}"


class ProgressMessage:
    """Edits one message as a run goes: phase, percentage, ETA; at the end, the outcome."""

    def __init__(self, bot: Bot, chat_id: int, message_id: int, lang: str,
                 tolerance: float) -> None:
        self.bot = bot
        self.chat_id, self.message_id, self.lang = chat_id, message_id, lang
        self.shown, self.phase = "", ("", "")
        self.edited_at = 0.0
        self.tolerance = tolerance
        self._last: asyncio.Future[None] | None = None  # the final edit (kept referenced)

    async def __call__(self, progress: RunProgress) -> None:
        text = progress_text(progress, self.lang)
        new_phase = (progress.task, progress.phase) != self.phase
        if text == self.shown or (not new_phase and
                                  time.monotonic() - self.edited_at < PROGRESS_EDIT_S):
            return
        self.phase = (progress.task, progress.phase)
        await self.show(text)

    async def show(self, text: str) -> None:
        self.shown, self.edited_at = text, time.monotonic()
        with contextlib.suppress(TelegramError):
            await self.bot.edit_message_text(text, chat_id=self.chat_id,
                                             message_id=self.message_id)

    def finish(self, job: asyncio.Task[list[RunOutcome]]) -> None:
        """The run is over: the message shows the outcome."""
        if job.cancelled() or job.exception() is not None:
            return
        text = "\n\n".join(describe(o, self.lang, self.tolerance) for o in job.result())
        self._last = asyncio.ensure_future(self.show(text))


def progress_text(progress: RunProgress, lang: str) -> str:
    if progress.phase == "training":
        percent = int((progress.fraction or 0.0) * 100)
        eta = "?" if progress.eta_s is None else _duration(progress.eta_s)
        return say(lang, "retrain_phase_training", task=progress.task, percent=percent, eta=eta)
    return say(lang, f"retrain_phase_{progress.phase}", task=progress.task)


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


# -- wiring: announcements and the schedule ---------------------------------------------------
async def run_requested_retrains(application: BotApplication) -> None:
    """The leader: run the admins' /retrain requests that other replicas stored (each edits
    the acknowledgement the admin got with the progress and the outcome)."""
    services = application.bot_data.services
    if services is None or services.replicas is None:
        return
    for request in await services.replicas.take_retrain_requests():
        progress = ProgressMessage(application.bot, request.chat_id, request.message_id,
                                   request.lang, services.settings.retrain_tolerance)
        active = services.retrain.active
        if services.retrain.busy and active is not None:
            phase = active.phase + (f" {active.fraction:.0%}" if active.fraction else "")
            await progress.show(say(request.lang, "retrain_busy", task=active.task,
                                     phase=phase))
            continue
        log.info("running the retrain of %s that admin %s asked another replica for",
                 ",".join(request.tasks), request.requested_by)
        job = services.retrain.start(request.tasks, "admin", request.requested_by, progress)
        job.add_done_callback(progress.finish)


def admin_announcer(application: BotApplication, admin_ids: Sequence[int]) -> Announce:
    """Tells every admin a text (the services built at start-up are given this)."""

    async def announce(text: str) -> None:
        for admin in admin_ids:
            try:
                await application.bot.send_message(admin, text)
            except TelegramError as exc:  # an admin who never opened a chat with the bot
                log.warning("could not tell admin %s: %s", admin, exc)

    return announce


def retrain_scheduler(application: BotApplication) -> ScheduleArmer:
    """Arms the JobQueue job of a task's next scheduled retrain (replacing the armed one)."""

    def arm(task: str, due: datetime) -> None:
        assert application.job_queue is not None
        for old in application.job_queue.get_jobs_by_name(f"retrain:{task}"):
            old.schedule_removal()
        when = max(due, datetime.now(UTC))
        application.job_queue.run_once(scheduled_retrain, when, data=task,
                                       name=f"retrain:{task}")
        log.info("next scheduled retrain of %s at %s", task, when.isoformat(timespec="seconds"))

    return arm


async def start_retraining(application: BotApplication) -> None:
    """At start-up: interrupted runs are recorded; the schedule is armed from the database (a
    run due while the bot was down runs now, once)."""
    services = application.bot_data.services
    assert services is not None
    await services.retrain.recover()
    await services.retrain.arm_schedule()


async def scheduled_retrain(context: BotContext) -> None:
    """A JobQueue job: start the task's scheduled run (in the background, so that stopping
    the bot does not wait for a training run to end)."""
    assert context.job is not None
    context.services.retrain.start([str(context.job.data)], "schedule")
