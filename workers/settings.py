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
from workers.jobs import Ctx, mark_push_overdue_job, remind_push_job, sweep
from workers.redis import redis_settings

SWEEP_MINUTES = set(range(0, 60, 2))
FUNCTIONS = [
    func(remind_push_job, name="remind_push", keep_result=0),
    func(mark_push_overdue_job, name="mark_push_overdue", keep_result=0),
]
CRON_JOBS = [cron(sweep, name="sweep", minute=SWEEP_MINUTES, second=30, run_at_startup=True, keep_result=0)]


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

    return on_startup


def shutdown(*, close_db: bool = True) -> Any:
    async def on_shutdown(ctx: Ctx) -> None:
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
    }
    options.update(overrides)
    return Worker(**options)
