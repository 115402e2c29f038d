"""The monthly report job: made on the first working day of the month (after a holiday), once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from models.event import Event, EventKind
from models.report import TimelinessReport
from tests import factories as f
from tests.workers.conftest import World
from workers.jobs import monthly_report


async def test_october_waits_for_the_first_working_day_after_national_day_and_runs_once(
    world: World, redis: aioredis.Redis, pool: ArqRedis, tmp_path: Path
) -> None:
    def ctx(now: Any) -> dict[str, Any]:
        return {"redis": pool, "clock": lambda: now, "reports_dir": tmp_path}

    # 1–7 October 2026 are holidays: no September report before Thursday 10-08.
    for day in range(1, 8):
        assert not await monthly_report(ctx(f.at(2026, 10, day, 8, 5)))
    assert await TimelinessReport.all().count() == 0
    assert await monthly_report(ctx(f.at(2026, 10, 8, 8, 5)))
    # The next day's run (and a restarted worker's start-up run) finds it made.
    assert not await monthly_report(ctx(f.at(2026, 10, 9, 8, 5)))
    (report,) = await TimelinessReport.all()
    assert (str(report.period_start), str(report.period_end), report.kind.value) == (
        "2026-09-01",
        "2026-09-30",
        "MONTHLY",
    )
    assert await asyncio.to_thread(lambda: Path(report.xlsx_path).is_file() and Path(report.csv_path).is_file())
    released = await Event.filter(kind=EventKind.REPORT_RELEASED).count()
    assert released == 1
    # Published: the release reached the stream that live subscribers read.
    assert await Event.filter(kind=EventKind.REPORT_RELEASED, published_at__isnull=False).count() == 1
