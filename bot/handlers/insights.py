"""Admin /status and /stats."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Update

from bot.context import BotContext
from bot.handlers.admin import admin_command
from bot.handlers.outgoing import respond
from bot.services.conversation import Reply
from bot.services.insights import StatsReport, StatusReport
from bot.texts import say

STATS_DAYS = 14


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return (f"{days}d " if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"


def _pairs(values: dict[str, object], empty: str) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or empty


def _size(count: int | None) -> str:
    if count is None:
        return "-"
    if count >= 1 << 30:
        return f"{count / (1 << 30):.1f} GiB"
    return f"{count / 1_048_576:.1f} MiB" if count >= 1_048_576 else f"{count / 1024:.0f} KiB"


def next_retrain(context: BotContext) -> datetime | None:
    """The next scheduled retraining run, from the job queue (None when none is scheduled)."""
    queue = context.job_queue
    if queue is None:
        return None
    times = [job.next_t for job in queue.jobs()
             if "retrain" in (job.name or "").lower() and job.next_t is not None]
    return min(times) if times else None


def status_text(report: StatusReport, upcoming: datetime | None, lang: str) -> str:
    none = say(lang, "none")
    run = report.last_retrain
    last = (f"{run.task} {run.status} {run.started_at:%Y-%m-%d %H:%M} UTC"
            + (f" -> {run.candidate_version}" if run.candidate_version else "")) if run else none
    text = say(lang, "status", uptime=_duration(report.uptime_s),
               versions=_pairs(dict(report.versions), none),
               queues=_pairs(dict(report.queue_depths), none), last=last,
               next=f"{upcoming:%Y-%m-%d %H:%M} UTC" if upcoming else say(lang, "not_scheduled"),
               pending=report.pending_corrections, db=_size(report.database_bytes),
               disk=(say(lang, "status_disk", models=_size(report.disk.models_bytes),
                         data=_size(report.disk.data_bytes), free=_size(report.disk.free_bytes))
                     if report.disk else none))
    if not report.replicas:
        return text
    now = datetime.now(UTC)
    lines = [say(lang, "status_replica", name=r.instance[:8], host=r.host, pid=r.pid,
                 leader=say(lang, "status_leader") if r.leader else "",
                 versions=_pairs(dict(r.versions), none),
                 failed=say(lang, "status_failed", versions=_pairs(dict(r.failed_versions), ""))
                 if r.failed_versions else "",
                 waiting=r.in_flight, handled=r.handled,
                 age=max(0, round((now - r.seen_at).total_seconds())))
             for r in report.replicas]
    return text + "\n" + say(lang, "status_replicas", count=len(lines), lines="\n".join(lines))


def stats_text(report: StatsReport, lang: str) -> str:
    none = say(lang, "none")
    latency = (", ".join(f"{k} {v:.0f} ms" for k, v in report.latency_ms.items())
               or none)
    per_day = "; ".join(f"{day[5:]}: {sum(tasks.values())}"
                        for day, tasks in sorted(report.per_day.items())) or none
    rate = report.thumbs_up_rate
    return say(lang, "stats", days=report.days, incoming=sum(report.incoming_per_day.values()),
               answers=sum(report.per_task.values()), tasks=_pairs(dict(report.per_task), none),
               per_day=per_day, latency=latency,
               rate=f"{rate:.0%}" if rate is not None else none,
               up=report.thumbs_up, down=report.thumbs_down)


@admin_command("status")
async def status(update: Update, context: BotContext) -> str:
    """/status: uptime, queue depths, model versions, retraining, database size."""
    turn = context.current_turn
    report = await context.services.insights.status()
    await respond(update, context, Reply(status_text(report, next_retrain(context), turn.lang)))
    return "shown"


@admin_command("stats")
async def stats(update: Update, context: BotContext) -> str:
    """/stats: messages per day and task, latency percentiles, 👍 rate, and a chart."""
    turn = context.current_turn
    message = update.effective_message
    assert message is not None
    insights = context.services.insights
    report = await insights.stats(STATS_DAYS)
    await respond(update, context, Reply(stats_text(report, turn.lang)))
    chart = await insights.chart(report)
    await message.reply_photo(chart, caption=say(turn.lang, "stats_caption"))
    return "shown"
