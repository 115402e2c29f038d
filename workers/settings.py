"""The arq worker: functions, cron sweep, start-up and shutdown."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from arq import cron, func
from arq.cron import CronJob
from arq.worker import Worker

from models.crypto import configure_from_settings
from models.db import close_database, open_database
from models.settings import Settings, load_settings
from models.statistics import Thresholds
from workers.jobs import (
    Ctx,
    expire_decisions_job,
    mark_obligation_overdue_job,
    mark_push_overdue_job,
    monthly_report,
    remind_obligation_job,
    remind_push_job,
    sweep,
)
from workers.meetings import open_regular_meetings_job
from workers.metrics import instrumented, serve_metrics
from workers.redis import redis_settings
from workers.retention import prune_events_job

SWEEP_MINUTES = set(range(0, 60, 2))
FUNCTIONS = [
    func(instrumented("remind_push", remind_push_job), name="remind_push", keep_result=0),
    func(instrumented("mark_push_overdue", mark_push_overdue_job), name="mark_push_overdue", keep_result=0),
    func(instrumented("remind_obligation", remind_obligation_job), name="remind_obligation", keep_result=0),
    func(
        instrumented("mark_obligation_overdue", mark_obligation_overdue_job),
        name="mark_obligation_overdue",
        keep_result=0,
    ),
]
CRON_JOBS = [
    cron(
        instrumented("sweep", sweep), name="sweep", minute=SWEEP_MINUTES, second=30, run_at_startup=True, keep_result=0
    ),
    # Daily at 08:05 Shanghai time; the job itself decides whether today is the first working day.
    cron(
        instrumented("monthly_report", monthly_report),
        name="monthly_report",
        hour={8},
        minute={5},
        second=0,
        run_at_startup=True,
        keep_result=0,
    ),
    # Daily, twice (a worker down at 00:05 catches up at 08:05); the job itself is idempotent.
    cron(
        instrumented("open_regular_meetings", open_regular_meetings_job),
        name="open_regular_meetings",
        hour={0, 8},
        minute=5,
        second=0,
        keep_result=0,
    ),
    # Daily at 00:05 Asia/Shanghai, just after a validity's last day has ended.
    cron(
        instrumented("expire_decisions", expire_decisions_job),
        name="expire_decisions",
        hour={0},
        minute={5},
        second=0,
        keep_result=0,
    ),
    # Nightly, off the hour, in small batches (models/retention.py): never a long lock on the table.
    cron(instrumented("prune_events", prune_events_job), name="prune_events", hour={3}, minute={17}, keep_result=0),
]


def fresh_cron_jobs() -> list[CronJob]:
    """Unscheduled copies of CRON_JOBS for one worker."""
    # arq keeps a cron job's next run on the object: a second worker in the same process (tests)
    # sharing the module's objects would never run its start-up sweep.
    return [replace(job, next_run=None) for job in CRON_JOBS]


def startup(settings: Settings, *, open_db: bool = True) -> Any:
    async def on_startup(ctx: Ctx) -> None:
        if open_db:
            await open_database(settings.database_url)
        ctx.setdefault("clock", None)
        ctx.setdefault("reports_dir", settings.var_dir / "reports")
        ctx.setdefault("thresholds", Thresholds(red=settings.flag_red, yellow=settings.flag_yellow))
        ctx.setdefault("retention_days", settings.event_retention_days)
        if open_db:  # the `worker` command, not an in-process test worker
            ctx["stop_metrics"] = serve_metrics(settings.worker_metrics_port, settings.host)

    return on_startup


def shutdown(*, close_db: bool = True) -> Any:
    async def on_shutdown(ctx: Ctx) -> None:
        if ctx.get("stop_metrics"):
            ctx["stop_metrics"]()
        if close_db:
            await close_database()

    return on_shutdown


def build_worker(settings: Settings | None = None, **overrides: Any) -> Worker:
    """A worker for the `worker` command, or for tests (burst mode, own clock, own pool)."""
    settings = settings or load_settings()
    configure_from_settings(settings.data_keys)
    open_db = overrides.pop("open_db", True)
    options: dict[str, Any] = {
        "functions": FUNCTIONS,
        "cron_jobs": fresh_cron_jobs(),
        "redis_settings": redis_settings(settings),
        "on_startup": startup(settings, open_db=open_db),
        "on_shutdown": shutdown(close_db=open_db),
        "timezone": ZoneInfo("Asia/Shanghai"),
        "health_check_interval": 30,
        "max_tries": 5,
        "job_timeout": 120,
        # SIGTERM: stop taking jobs, let running ones finish for a few seconds (inside Docker's 10 s
        # stop grace), then cancel the rest; they stay queued and, being idempotent, simply run again.
        "job_completion_wait": 8,
    }
    options.update(overrides)
    return Worker(**options)
