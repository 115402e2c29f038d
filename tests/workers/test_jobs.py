"""Deadline wake-ups on a real arq worker (burst) and a real Redis: reminder, overdue and sweep, each once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from tortoise.transactions import in_transaction

from models.calendar import current_calendar
from models.claim import claim_push, publish_calendar_year
from models.decision import DecisionPush
from models.event import (
    PUBLISH_BATCH,
    SEQUENCE_BATCH,
    Event,
    EventKind,
    EventRecipient,
    NewEvent,
    record_events,
    sequence_pending,
)
from models.settings import Settings
from tests import factories as f
from tests.workers.conftest import Clock, RunJobs, World
from workers.dispatch import STREAM, deadline_wakeups, enqueue_wakeups, flush_outbox
from workers.jobs import sweep
from workers.settings import CRON_JOBS, FUNCTIONS, build_worker

# 2026-09-30 + 3 working days = 2026-10-10, a make-up Saturday after the National Day week;
# the working day before it is Friday 2026-10-09.
ISSUED = f.at(2026, 9, 30)
DUE = "2026-10-10"
REMIND_MOMENT = f.at(2026, 10, 9, 9, 0)
DEADLINE = datetime(2026, 10, 10, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai"))
OVERDUE_MOMENT = DEADLINE + timedelta(seconds=1)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def issue(world: World, redis: aioredis.Redis, pool: ArqRedis, now: datetime = ISSUED) -> DecisionPush:
    """Issue a decision (one push) and run the after-commit step, as the API does."""
    push = await issue_without_flush(world, now)
    assert await flush_outbox(redis, pool, now) == 1
    return push


async def issue_without_flush(world: World, now: datetime = ISSUED) -> DecisionPush:
    """Issue a decision (one push) and commit it, without the after-commit step."""
    async with in_transaction():
        decision = await f.decision(world.issuer, world.item, now=now)
    return await DecisionPush.get(decision_id=decision.id)


async def schedule_push_wakeups(pool: ArqRedis, push: DecisionPush, now: datetime) -> None:
    """The push's two wake-ups, as the outbox flush schedules them."""
    calendar = await current_calendar()
    wakeups = deadline_wakeups("push", push.id, push.claim_due_on, push.claim_deadline, calendar, now)
    await enqueue_wakeups(pool, wakeups, now)


async def events(kind: EventKind) -> list[tuple[int, dict[str, object], list[int]]]:
    """(subject, payload, audience) of every event of a kind."""
    out = []
    for event in await Event.filter(kind=kind).order_by("id"):
        audience = (
            await EventRecipient.filter(event_id=event.id)
            .order_by("department_id")
            .values_list("department_id", flat=True)
        )
        out.append((event.subject_id, event.payload, [int(d) for d in audience]))  # type: ignore[call-overload]
    return out


async def streamed_kinds(redis: aioredis.Redis) -> list[str]:
    return [fields[b"kind"].decode() for _, fields in await redis.xrange(STREAM)]


async def queued(pool: ArqRedis) -> dict[str, tuple[str, tuple[object, ...], int]]:
    return {job.job_id or "": (job.function, job.args, job.score or 0) for job in await pool.queued_jobs()}


# --- scheduling -------------------------------------------------------------------------------------


async def test_a_new_push_schedules_a_reminder_and_an_overdue_wakeup_with_deterministic_ids(
    world: World, redis: aioredis.Redis, pool: ArqRedis
) -> None:
    push = await issue(world, redis, pool)

    assert push.claim_due_on == date(2026, 10, 10)
    assert await queued(pool) == {
        f"remind:{push.id}:{DUE}": ("remind_push", (push.id,), ms(REMIND_MOMENT)),
        f"overdue:{push.id}:{DUE}": ("mark_push_overdue", (push.id,), ms(OVERDUE_MOMENT)),
    }
    # Our clock is months behind arq's wall clock here: the job keys must still have a positive lifetime.
    for job_id in (f"remind:{push.id}:{DUE}", f"overdue:{push.id}:{DUE}"):
        assert await pool.pttl(job_key_prefix + job_id) > 0


async def test_scheduling_the_same_deadline_again_adds_no_job(
    world: World, redis: aioredis.Redis, pool: ArqRedis
) -> None:
    push = await issue(world, redis, pool)
    before = await queued(pool)

    await schedule_push_wakeups(pool, push, ISSUED + timedelta(minutes=5))

    assert await queued(pool) == before
    assert len(before) == 2


async def test_wakeups_are_scheduled_after_redis_forgot_its_scripts(
    world: World, redis: aioredis.Redis, pool: ArqRedis
) -> None:
    """The enqueue script goes straight to EVALSHA: a restarted Redis (no scripts) must still get the jobs."""
    push = await issue_without_flush(world)
    await redis.script_flush()

    assert await flush_outbox(redis, pool, ISSUED) == 1

    assert set(await queued(pool)) == {f"remind:{push.id}:{DUE}", f"overdue:{push.id}:{DUE}"}


async def test_a_moment_already_past_is_scheduled_for_now(world: World, redis: aioredis.Redis, pool: ArqRedis) -> None:
    push = await issue(world, redis, pool)
    await redis.flushdb()
    late = f.at(2026, 10, 9, 15, 0)  # after the reminder moment, before the deadline

    await schedule_push_wakeups(pool, push, late)

    assert await queued(pool) == {
        f"remind:{push.id}:{DUE}": ("remind_push", (push.id,), ms(late)),
        f"overdue:{push.id}:{DUE}": ("mark_push_overdue", (push.id,), ms(OVERDUE_MOMENT)),
    }


# --- reminder ----------------------------------------------------------------------------------------


async def test_the_reminder_wakeup_reminds_the_receiving_department_once(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    push = await issue(world, redis, pool)
    remind_id = f"remind:{push.id}:{DUE}"

    worker = await run_jobs(REMIND_MOMENT, remind_id)

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    await push.refresh_from_db()
    assert push.reminded_at == REMIND_MOMENT
    assert push.overdue_at is None
    reminder = [(push.id, {"pushId": push.id, "decisionId": push.decision_id, "dueOn": DUE}, [world.supervision.id])]
    assert await events(EventKind.PUSH_REMINDER) == reminder
    assert await streamed_kinds(redis) == ["PUSH_CREATED", "PUSH_REMINDER"]
    # keep_result=0: no result is kept, so the same id can be enqueued again...
    assert await pool.exists(result_key_prefix + remind_id, job_key_prefix + remind_id) == 0
    assert list(await queued(pool)) == [f"overdue:{push.id}:{DUE}"]
    assert await pool.enqueue_job("remind_push", push.id, _job_id=remind_id) is not None

    # ...and running it again changes nothing.
    again = await run_jobs(REMIND_MOMENT + timedelta(hours=1), remind_id)

    assert (again.jobs_complete, again.jobs_failed) == (1, 0)
    await push.refresh_from_db()
    assert push.reminded_at == REMIND_MOMENT
    assert await events(EventKind.PUSH_REMINDER) == reminder
    assert await streamed_kinds(redis) == ["PUSH_CREATED", "PUSH_REMINDER"]


async def test_two_reminder_jobs_for_one_push_running_together_remind_once(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    push = await issue(world, redis, pool)
    await redis.flushdb()
    await pool.enqueue_job("remind_push", push.id, _job_id="first")
    await pool.enqueue_job("remind_push", push.id, _job_id="second")

    worker = await run_jobs(REMIND_MOMENT, "first", "second")

    assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)
    assert await DecisionPush.filter(id=push.id).values_list("reminded_at", flat=True) == [REMIND_MOMENT]
    assert len(await events(EventKind.PUSH_REMINDER)) == 1
    assert await streamed_kinds(redis) == ["PUSH_REMINDER"]


async def test_the_reminder_does_not_fire_before_nine_on_the_working_day_before(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    push = await issue(world, redis, pool)
    remind_id = f"remind:{push.id}:{DUE}"

    worker = await run_jobs(REMIND_MOMENT - timedelta(seconds=1), remind_id)

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    await push.refresh_from_db()
    assert push.reminded_at is None
    assert await events(EventKind.PUSH_REMINDER) == []


async def test_the_reminder_does_not_fire_after_the_deadline(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    push = await issue(world, redis, pool)

    await run_jobs(OVERDUE_MOMENT, f"remind:{push.id}:{DUE}")

    await push.refresh_from_db()
    assert push.reminded_at is None
    assert await events(EventKind.PUSH_REMINDER) == []


# --- overdue -----------------------------------------------------------------------------------------


async def test_the_overdue_wakeup_records_the_push_overdue_once_and_tells_receiver_and_issuer(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    push = await issue(world, redis, pool)
    overdue_id = f"overdue:{push.id}:{DUE}"

    worker = await run_jobs(OVERDUE_MOMENT, overdue_id)

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    await push.refresh_from_db()
    assert push.overdue_at == OVERDUE_MOMENT
    assert push.is_overdue(OVERDUE_MOMENT)
    overdue = [
        (
            push.id,
            {"pushId": push.id, "decisionId": push.decision_id, "dueOn": DUE},
            sorted([world.approval.id, world.supervision.id]),
        )
    ]
    assert await events(EventKind.PUSH_OVERDUE) == overdue
    (event,) = await Event.filter(kind=EventKind.PUSH_OVERDUE)
    assert event.roles == []  # every role of both departments, the liaison officers included
    assert await streamed_kinds(redis) == ["PUSH_CREATED", "PUSH_OVERDUE"]
    assert await pool.exists(result_key_prefix + overdue_id) == 0
    assert await pool.enqueue_job("mark_push_overdue", push.id, _job_id=overdue_id) is not None

    again = await run_jobs(OVERDUE_MOMENT + timedelta(hours=2), overdue_id)

    assert (again.jobs_complete, again.jobs_failed) == (1, 0)
    await push.refresh_from_db()
    assert push.overdue_at == OVERDUE_MOMENT
    assert await events(EventKind.PUSH_OVERDUE) == overdue
    assert await streamed_kinds(redis) == ["PUSH_CREATED", "PUSH_OVERDUE"]


async def test_two_overdue_jobs_for_one_push_running_together_record_it_once(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    push = await issue(world, redis, pool)
    await redis.flushdb()
    await pool.enqueue_job("mark_push_overdue", push.id, _job_id="first")
    await pool.enqueue_job("mark_push_overdue", push.id, _job_id="second")

    worker = await run_jobs(OVERDUE_MOMENT, "first", "second")

    assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)
    assert await DecisionPush.filter(id=push.id).values_list("overdue_at", flat=True) == [OVERDUE_MOMENT]
    assert len(await events(EventKind.PUSH_OVERDUE)) == 1


async def test_the_overdue_wakeup_at_the_last_second_of_the_claim_day_does_nothing(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    push = await issue(world, redis, pool)

    await run_jobs(DEADLINE, f"overdue:{push.id}:{DUE}")

    await push.refresh_from_db()
    assert push.overdue_at is None
    assert await events(EventKind.PUSH_OVERDUE) == []


async def test_a_claimed_push_gets_neither_reminder_nor_overdue(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    push = await issue(world, redis, pool)
    async with in_transaction():
        await claim_push(world.receiver, push.id, now=f.at(2026, 10, 8, 11, 0))

    reminder = await run_jobs(REMIND_MOMENT, f"remind:{push.id}:{DUE}")
    overdue = await run_jobs(OVERDUE_MOMENT, f"overdue:{push.id}:{DUE}")

    assert (reminder.jobs_complete, reminder.jobs_failed, overdue.jobs_complete, overdue.jobs_failed) == (1, 0, 1, 0)
    await push.refresh_from_db()
    assert (push.reminded_at, push.overdue_at, push.claimed_late) == (None, None, False)
    assert await events(EventKind.PUSH_REMINDER) == []
    assert await events(EventKind.PUSH_OVERDUE) == []
    assert await queued(pool) == {}


# --- sweep -------------------------------------------------------------------------------------------


async def test_the_startup_sweep_records_an_overdue_push_whose_wakeups_were_lost_once(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    push = await issue(world, redis, pool)
    await redis.flushdb()  # every wake-up lost
    now = OVERDUE_MOMENT + timedelta(minutes=1)

    worker = await run_jobs(now, cron=True)

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    await push.refresh_from_db()
    assert push.overdue_at == now
    assert push.reminded_at is None  # too late to remind: the deadline has passed
    assert len(await events(EventKind.PUSH_OVERDUE)) == 1
    assert await streamed_kinds(redis) == ["PUSH_OVERDUE"]

    again = await run_jobs(now + timedelta(minutes=2), cron=True)

    assert (again.jobs_complete, again.jobs_failed) == (1, 0)
    await push.refresh_from_db()
    assert push.overdue_at == now
    assert len(await events(EventKind.PUSH_OVERDUE)) == 1
    assert await streamed_kinds(redis) == ["PUSH_OVERDUE"]
    assert await queued(pool) == {}


async def test_the_sweep_reminds_from_nine_on_the_working_day_before_and_only_once(
    world: World, redis: aioredis.Redis, pool: ArqRedis
) -> None:
    push = await issue(world, redis, pool)
    await redis.flushdb()

    # A sweep just after midnight must not pre-empt the 09:00 reminder.
    assert await sweep({"redis": pool, "clock": Clock(f.at(2026, 10, 9, 0, 0))}) == {
        "overdue": 0,
        "reminded": 0,
        "published": 0,
    }
    assert await sweep({"redis": pool, "clock": Clock(f.at(2026, 10, 9, 9, 0))}) == {
        "overdue": 0,
        "reminded": 1,
        "published": 1,
    }
    assert await sweep({"redis": pool, "clock": Clock(f.at(2026, 10, 9, 9, 2))}) == {
        "overdue": 0,
        "reminded": 0,
        "published": 0,
    }

    await push.refresh_from_db()
    assert push.reminded_at == f.at(2026, 10, 9, 9, 0)
    assert len(await events(EventKind.PUSH_REMINDER)) == 1
    assert await streamed_kinds(redis) == ["PUSH_REMINDER"]


async def test_the_sweep_publishes_and_schedules_what_a_crashed_api_left_behind(
    world: World, redis: aioredis.Redis, pool: ArqRedis
) -> None:
    async with in_transaction():  # committed, but the process died before its after-commit step
        decision = await f.decision(world.issuer, world.item, now=ISSUED)
    push = await DecisionPush.get(decision_id=decision.id)

    result = await sweep({"redis": pool, "clock": Clock(ISSUED + timedelta(minutes=2))})

    assert result == {"overdue": 0, "reminded": 0, "published": 1}
    assert await streamed_kinds(redis) == ["PUSH_CREATED"]
    assert set(await queued(pool)) == {f"remind:{push.id}:{DUE}", f"overdue:{push.id}:{DUE}"}


async def test_a_backlog_larger_than_a_batch_is_published_whole_in_cursor_order(
    world: World, redis: aioredis.Redis, pool: ArqRedis
) -> None:
    """An import's thousands of events: one flush numbers them all and publishes them in order."""
    backlog = SEQUENCE_BATCH + PUBLISH_BATCH + 1
    await record_events(
        [NewEvent(EventKind.ACCESS_CHANGED, "User", n, [world.receiver.department_id]) for n in range(backlog)]
    )
    push = await issue_without_flush(world)
    assert await flush_outbox(redis, pool, ISSUED) == backlog + 1
    entries = await redis.xrange(STREAM)
    assert [int(e[b"seq"]) for _, e in entries] == list(range(1, backlog + 2))
    assert await Event.filter(published_at=None).count() == 0
    assert set(await queued(pool)) == {f"remind:{push.id}:{DUE}", f"overdue:{push.id}:{DUE}"}


async def test_a_live_event_after_a_numbered_backlog_is_published_after_it(
    world: World, redis: aioredis.Redis, pool: ArqRedis
) -> None:
    """Numbered while Redis was away: the backlog goes out first, then the new event, in cursor order."""
    backlog = PUBLISH_BATCH + 200
    await record_events(
        [NewEvent(EventKind.ACCESS_CHANGED, "User", n, [world.receiver.department_id]) for n in range(backlog)]
    )
    assert await sequence_pending(ISSUED) == backlog  # numbered, never published
    await issue_without_flush(world)
    assert await flush_outbox(redis, pool, ISSUED) == backlog + 1
    entries = await redis.xrange(STREAM)
    assert [int(e[b"seq"]) for _, e in entries] == list(range(1, backlog + 2))


async def test_the_sweep_leaves_claimed_pushes_alone(world: World, redis: aioredis.Redis, pool: ArqRedis) -> None:
    push = await issue(world, redis, pool)
    async with in_transaction():
        await claim_push(world.receiver, push.id, now=f.at(2026, 10, 8, 11, 0))
    assert await flush_outbox(redis, pool, f.at(2026, 10, 8, 11, 0)) == 1

    for now in (REMIND_MOMENT, OVERDUE_MOMENT):
        assert await sweep({"redis": pool, "clock": Clock(now)}) == {"overdue": 0, "reminded": 0, "published": 0}

    await push.refresh_from_db()
    assert (push.reminded_at, push.overdue_at) == (None, None)


# --- a moved deadline --------------------------------------------------------------------------------


async def test_a_moved_deadline_gets_new_wakeups_and_the_old_ones_fire_harmlessly(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    # 2026-12-30 + 3 working days under the provisional weekends-only 2027 = Monday 2027-01-04.
    push = await issue(world, redis, pool, now=f.at(2026, 12, 30))
    assert (push.claim_due_on, push.deadline_provisional) == (date(2027, 1, 4), True)
    old_remind, old_overdue = f"remind:{push.id}:2027-01-04", f"overdue:{push.id}:2027-01-04"
    new_remind, new_overdue = f"remind:{push.id}:2027-01-05", f"overdue:{push.id}:2027-01-05"

    # The State Council makes 1 January a holiday: the claim day moves to Tuesday 2027-01-05.
    published_at = f.at(2026, 12, 31, 15, 0)
    async with in_transaction():
        assert await publish_calendar_year(world.admin, 2027, [(date(2027, 1, 1), "元旦")], [], now=published_at) == 1
    await flush_outbox(redis, pool, published_at)

    await push.refresh_from_db()
    assert (push.claim_due_on, push.deadline_provisional) == (date(2027, 1, 5), False)
    assert await queued(pool) == {
        old_remind: ("remind_push", (push.id,), ms(f.at(2027, 1, 1, 9, 0))),
        old_overdue: ("mark_push_overdue", (push.id,), ms(f.at(2027, 1, 5, 0, 0))),
        new_remind: ("remind_push", (push.id,), ms(f.at(2027, 1, 4, 9, 0))),
        new_overdue: ("mark_push_overdue", (push.id,), ms(f.at(2027, 1, 6, 0, 0))),
    }

    # The old wake-ups come first and do nothing: the row's deadline is what counts.
    await run_jobs(f.at(2027, 1, 1, 9, 0), old_remind)
    await run_jobs(f.at(2027, 1, 5, 0, 0), old_overdue)
    await push.refresh_from_db()
    assert (push.reminded_at, push.overdue_at) == (None, None)

    await run_jobs(f.at(2027, 1, 4, 9, 0), new_remind)
    await run_jobs(f.at(2027, 1, 6, 0, 0), new_overdue)

    await push.refresh_from_db()
    assert (push.reminded_at, push.overdue_at) == (f.at(2027, 1, 4, 9, 0), f.at(2027, 1, 6, 0, 0))
    assert [p["dueOn"] for _, p, _ in await events(EventKind.PUSH_REMINDER)] == ["2027-01-05"]
    assert [p["dueOn"] for _, p, _ in await events(EventKind.PUSH_OVERDUE)] == ["2027-01-05"]
    assert await queued(pool) == {}


# --- worker settings ---------------------------------------------------------------------------------


async def test_wakeups_keep_no_result_and_the_worker_runs_on_shanghai_time(settings: Settings) -> None:
    assert {fn.name: fn.keep_result_s for fn in FUNCTIONS} == {
        "remind_push": 0,
        "mark_push_overdue": 0,
        "remind_obligation": 0,
        "mark_obligation_overdue": 0,
    }
    cron_job, report_job, _, expiry, prune_job = CRON_JOBS
    assert [job.name for job in CRON_JOBS] == [
        "sweep",
        "monthly_report",
        "open_regular_meetings",
        "expire_decisions",
        "prune_events",
    ]
    assert (expiry.name, expiry.keep_result_s, expiry.run_at_startup) == ("expire_decisions", 0, False)
    assert (expiry.hour, expiry.minute, expiry.second) == ({0}, {5}, 0)
    assert (prune_job.name, prune_job.keep_result_s, prune_job.run_at_startup) == ("prune_events", 0, False)
    assert (cron_job.name, cron_job.keep_result_s, cron_job.run_at_startup) == ("sweep", 0, True)
    assert cron_job.minute == set(range(0, 60, 2))
    assert (report_job.name, report_job.hour, report_job.minute, report_job.run_at_startup) == (
        "monthly_report",
        {8},
        {5},
        True,
    )
    worker = build_worker(settings, handle_signals=False)
    assert worker.timezone == ZoneInfo("Asia/Shanghai")
    assert worker.health_check_interval == 30
    assert sorted(worker.functions) == [
        "expire_decisions",
        "mark_obligation_overdue",
        "mark_push_overdue",
        "monthly_report",
        "open_regular_meetings",
        "prune_events",
        "remind_obligation",
        "remind_push",
        "sweep",
    ]


async def test_each_worker_gets_its_own_unscheduled_sweep(settings: Settings) -> None:
    first = build_worker(settings, handle_signals=False)
    first.cron_jobs[0].calculate_next(f.at(2026, 10, 9, 0, 0))
    second = build_worker(settings, handle_signals=False)
    assert (second.cron_jobs[0].next_run, CRON_JOBS[0].next_run) == (None, None)
