"""The monthly regular liaison meeting: opened on the month's first working day, once per convener."""

from __future__ import annotations

from datetime import datetime

from arq.connections import ArqRedis

from models.enums import AdminLevel, DepartmentKind
from models.event import Event, EventRecipient
from models.meeting import Meeting, MeetingKind, MeetingStatus, participant_ids
from tests import factories as f
from tests.workers.conftest import Clock
from workers.meetings import open_regular_meetings_job
from workers.settings import CRON_JOBS


async def run(pool: ArqRedis, now: datetime) -> int:
    return await open_regular_meetings_job({"clock": Clock(now), "redis": pool})


async def test_the_regular_meeting_opens_on_the_first_working_day_after_national_day_once(
    db: str, pool: ArqRedis
) -> None:
    city = await f.department(DepartmentKind.APPROVAL)
    county = await f.department(DepartmentKind.APPROVAL, AdminLevel.COUNTY, region="370811")
    market = await f.department()
    health = await f.department()
    county_market = await f.department(level=AdminLevel.COUNTY, region="370811")
    await f.department(level=AdminLevel.COUNTY, region="370812")  # another county: not concerned

    # 2026-10-01..07 are the National Day holiday: the month's first working day is 10-08.
    assert await run(pool, f.at(2026, 10, 1, 0, 5)) == 0
    assert await run(pool, f.at(2026, 10, 7, 8, 5)) == 0
    assert await Meeting.all().count() == 0

    assert await run(pool, f.at(2026, 10, 8, 0, 5)) == 2
    meetings = await Meeting.all().order_by("convener_department_id")
    assert [(m.kind, m.status, m.period, m.convener_department_id) for m in meetings] == [
        (MeetingKind.REGULAR, MeetingStatus.COLLECTING_TOPICS, "2026-10", city.id),
        (MeetingKind.REGULAR, MeetingStatus.COLLECTING_TOPICS, "2026-10", county.id),
    ]
    # Topics until the end of the 5th working day: 10-09, 10-10 (make-up Saturday), 10-12, 10-13, 10-14.
    cutoff = meetings[0].topic_cutoff
    assert cutoff is not None and (cutoff.date().isoformat(), cutoff.hour, cutoff.minute) == ("2026-10-14", 23, 59)
    assert await participant_ids(meetings[0].id) == sorted([city.id, market.id, health.id])
    assert await participant_ids(meetings[1].id) == sorted([county.id, county_market.id])
    convened = await Event.filter(kind="MEETING_CONVENED").order_by("id")
    audiences = [sorted(r.department_id for r in await EventRecipient.filter(event_id=e.id)) for e in convened]
    assert audiences == [sorted([city.id, market.id, health.id]), sorted([county.id, county_market.id])]
    assert all(e.seq is not None for e in convened)  # published by the job

    # Idempotent: again the same day, later in the month, nothing more.
    assert await run(pool, f.at(2026, 10, 8, 8, 5)) == 0
    assert await run(pool, f.at(2026, 10, 20, 0, 5)) == 0
    assert await Meeting.all().count() == 2
    # The next month has its own.
    assert await run(pool, f.at(2026, 11, 2, 0, 5)) == 2
    assert sorted(await Meeting.all().values_list("period", flat=True)) == ["2026-10", "2026-10", "2026-11", "2026-11"]


def test_the_job_is_on_the_worker_cron() -> None:
    job = next(j for j in CRON_JOBS if j.name == "open_regular_meetings")
    assert job.coroutine.__wrapped__ is open_regular_meetings_job  # type: ignore[attr-defined]  # counted by metrics
    assert not job.run_at_startup
