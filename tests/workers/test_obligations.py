"""Working-day obligations of the later flows: wake-ups, once-only marks, sweep, calendar moves, closing."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from tortoise.transactions import in_transaction

from models.claim import publish_calendar_year
from models.db import write_transaction
from models.enums import ObligationStatus
from models.errors import InvalidInput
from models.event import Event, EventKind, EventRecipient, record_event
from models.obligation import (
    Obligation,
    close_obligations,
    mark_obligation_overdue,
    obligation_kind,
    open_obligation,
    remind_obligation,
)
from tests import factories as f
from tests.workers.conftest import RunJobs, World
from workers.dispatch import flush_outbox
from workers.jobs import sweep

KIND = obligation_kind("TEST_REPLY", "测试答复", 3)
# 2026-09-30 + 3 working days = 2026-10-10, the make-up Saturday after the National Day week.
STARTED = f.at(2026, 9, 30)
DUE = "2026-10-10"


async def start(world: World, redis: aioredis.Redis, pool: ArqRedis, now: datetime = STARTED) -> Obligation:
    """Open an obligation on the supervision department (the issuer watches) with its event, then publish."""
    async with in_transaction():
        obligation = await open_obligation(
            KIND.kind,
            subject_type="Department",
            subject_id=world.approval.id,
            department_id=world.supervision.id,
            watchers=[world.approval.id],
            start=now,
        )
        await record_event(
            EventKind.DEADLINE_MOVED,  # any flow event carrying the obligation schedules its wake-ups
            subject_type="Department",
            subject_id=world.approval.id,
            departments=[world.supervision.id],
            payload=obligation.payload(),
        )
    await flush_outbox(redis, pool, now)
    return obligation


async def marks(kind: EventKind) -> list[tuple[dict[str, object], list[int]]]:
    out = []
    for event in await Event.filter(kind=kind).order_by("id"):
        audience = (
            await EventRecipient.filter(event_id=event.id)
            .order_by("department_id")
            .values_list("department_id", flat=True)
        )
        out.append((event.payload, [int(d) for d in audience]))  # type: ignore[call-overload]
    return out


async def test_the_term_counts_working_days_across_the_national_day_holiday(world: World) -> None:
    async with in_transaction():
        obligation = await open_obligation(
            KIND.kind, subject_type="Department", subject_id=1, department_id=world.supervision.id, start=STARTED
        )
    assert (obligation.due_on, obligation.working_days, obligation.provisional) == (date(2026, 10, 10), 3, False)
    assert obligation.deadline == datetime(2026, 10, 10, 23, 59, 59, tzinfo=obligation.deadline.tzinfo)
    assert obligation.deadline.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]


async def test_an_undeclared_kind_or_a_bad_term_is_refused(world: World) -> None:
    with pytest.raises(ValueError, match="undeclared"):
        await open_obligation("NOPE", subject_type="X", subject_id=1, department_id=world.supervision.id, start=STARTED)
    with pytest.raises(InvalidInput) as error:
        await open_obligation(
            KIND.kind,
            subject_type="X",
            subject_id=1,
            department_id=world.supervision.id,
            start=STARTED,
            working_days=0,
        )
    assert error.value.field == "workingDays"
    assert await Obligation.all().count() == 0


async def test_its_event_schedules_two_wakeups_that_each_mark_once(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    obligation = await start(world, redis, pool)
    remind_id, overdue_id = f"ob-remind:{obligation.id}:{DUE}", f"ob-overdue:{obligation.id}:{DUE}"
    queued = {job.job_id: (job.function, job.args) for job in await pool.queued_jobs()}
    assert queued == {
        remind_id: ("remind_obligation", (obligation.id,)),
        overdue_id: ("mark_obligation_overdue", (obligation.id,)),
    }

    await run_jobs(f.at(2026, 10, 9, 9, 0), remind_id)
    await run_jobs(datetime(2026, 10, 11, 0, 0, 0, tzinfo=STARTED.tzinfo), overdue_id)
    # Running both marks again (a retried job, the sweep) changes nothing.
    async with write_transaction():
        assert not await remind_obligation(obligation.id, now=f.at(2026, 10, 10, 9, 0))
        assert not await mark_obligation_overdue(obligation.id, now=f.at(2026, 10, 12))

    reminders = await marks(EventKind.OBLIGATION_REMINDER)
    overdue = await marks(EventKind.OBLIGATION_OVERDUE)
    assert [(p["obligationId"], p["dueOn"], a) for p, a in reminders] == [(obligation.id, DUE, [world.supervision.id])]
    # Overdue tells the watchers too.
    assert [(p["obligationId"], a) for p, a in overdue] == [
        (obligation.id, sorted([world.supervision.id, world.approval.id]))
    ]
    row = await Obligation.get(id=obligation.id)
    assert row.reminded_at is not None and row.overdue_at is not None


async def test_a_wakeup_before_its_moment_or_after_the_work_is_done_does_nothing(
    world: World, redis: aioredis.Redis, pool: ArqRedis
) -> None:
    obligation = await start(world, redis, pool)
    async with write_transaction():
        assert not await remind_obligation(obligation.id, now=f.at(2026, 10, 9, 8, 59))
        assert not await mark_obligation_overdue(obligation.id, now=f.at(2026, 10, 10, 23, 59))
        closed = await close_obligations("Department", world.approval.id, now=f.at(2026, 10, 10, 20, 0))
        assert [c.id for c in closed] == [obligation.id]
        assert not await mark_obligation_overdue(obligation.id, now=f.at(2026, 10, 12))
    row = await Obligation.get(id=obligation.id)
    assert (row.status, row.done_late, row.overdue_at) == (ObligationStatus.DONE, False, None)
    assert await Event.filter(kind=EventKind.OBLIGATION_OVERDUE).count() == 0


async def test_done_after_the_deadline_is_late_and_a_second_close_closes_nothing(world: World) -> None:
    async with in_transaction():
        obligation = await open_obligation(
            KIND.kind, subject_type="Department", subject_id=7, department_id=world.supervision.id, start=STARTED
        )
    async with write_transaction():
        first = await close_obligations("Department", 7, now=f.at(2026, 10, 11, 0, 0))
        second = await close_obligations("Department", 7, now=f.at(2026, 10, 11, 0, 1))
    assert [(c.id, c.done_late) for c in first] == [(obligation.id, True)]
    assert second == []


async def test_concurrent_closers_close_it_once(world: World) -> None:
    async with in_transaction():
        await open_obligation(
            KIND.kind, subject_type="Department", subject_id=8, department_id=world.supervision.id, start=STARTED
        )

    async def close() -> int:
        async with write_transaction():
            return len(await close_obligations("Department", 8, now=f.at(2026, 10, 1)))

    assert sorted(await asyncio.gather(*(close() for _ in range(8)))) == [0] * 7 + [1]


async def test_the_sweep_catches_lost_wakeups(world: World, redis: aioredis.Redis, pool: ArqRedis) -> None:
    obligation = await start(world, redis, pool)
    await pool.flushdb()  # every wake-up lost
    await sweep({"redis": pool, "clock": lambda: f.at(2026, 10, 12)})
    assert [p["obligationId"] for p, _ in await marks(EventKind.OBLIGATION_OVERDUE)] == [obligation.id]
    # The reminder moment passed with the deadline: a reminder after the deadline would be noise.
    assert await marks(EventKind.OBLIGATION_REMINDER) == []


async def test_a_published_calendar_year_moves_an_open_obligation_and_tells_both_sides(
    world: World, redis: aioredis.Redis, pool: ArqRedis
) -> None:
    # 2026-12-30 + 3 working days under the provisional weekends-only 2027 = Monday 2027-01-04.
    obligation = await start(world, redis, pool, now=f.at(2026, 12, 30))
    assert (obligation.due_on, obligation.provisional) == (date(2027, 1, 4), True)
    async with write_transaction():
        await publish_calendar_year(world.admin, 2027, [(date(2027, 1, 1), "元旦")], [], now=f.at(2026, 12, 31))
    await flush_outbox(redis, pool, f.at(2026, 12, 31))
    row = await Obligation.get(id=obligation.id)
    assert (row.due_on, row.provisional) == (date(2027, 1, 5), False)
    moved = [
        (e.payload, e.subject_type)
        for e in await Event.filter(kind=EventKind.DEADLINE_MOVED).order_by("id")
        if e.payload.get("from")
    ]
    assert [(p["obligationId"], p["from"], p["to"]) for p, _ in moved] == [(obligation.id, "2027-01-04", "2027-01-05")]
    queued = {job.job_id for job in await pool.queued_jobs()}
    assert {f"ob-remind:{obligation.id}:2027-01-05", f"ob-overdue:{obligation.id}:2027-01-05"} <= queued
