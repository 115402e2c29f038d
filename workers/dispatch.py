"""After commit, in one place: sequence new events, publish them, and schedule their wake-ups.

Called by the API after every mutation and by the worker's sweep, so an event whose process
died between commit and publish is still published (possibly twice: with the same cursor).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from arq.connections import ArqRedis
from redis.exceptions import RedisError

from models.calendar import current_calendar
from models.claim import reminder_moment
from models.decision import DecisionPush
from models.enums import PushStatus
from models.event import SEQUENCE_BATCH, EventKind, SequencedEvent, mark_published, sequence_pending, unpublished
from models.workdays import WorkCalendar
from workers.metrics import EVENTS_COMMITTED, publish_stamp, record_published

log = logging.getLogger(__name__)
STREAM = "shenguan:events"
STREAM_MAXLEN = 100_000
WAKEUP_GRACE = timedelta(days=1)  # an undelivered wake-up older than this is left to the sweep
WAKE_KINDS = {EventKind.PUSH_CREATED.value, EventKind.DEADLINE_MOVED.value}


def stream_fields(event: SequencedEvent) -> dict[str, str]:
    return {
        "seq": str(event.seq),
        "kind": event.kind,
        "deps": ",".join(map(str, event.departments)),
        "roles": ",".join(event.roles),
        "subject": f"{event.subject_type}:{event.subject_id}",
        "payload": json.dumps(event.payload, ensure_ascii=False),
    }


async def schedule_push_wakeups(
    arq: ArqRedis, push: DecisionPush, now: datetime, calendar: WorkCalendar | None = None
) -> None:
    """Art. 20: two deferred wake-ups per deadline; the due date is in the job id, so a moved deadline gets new ones.

    A moment already past runs at once. Both are only wake-ups: the jobs re-check the row, and the
    sweep catches any that is lost or fires early.
    """
    calendar = calendar or await current_calendar()
    due = push.claim_due_on.isoformat()
    moments = {
        "remind_push": (f"remind:{push.id}:{due}", max(reminder_moment(calendar, push.claim_due_on), now)),
        "mark_push_overdue": (f"overdue:{push.id}:{due}", max(push.claim_deadline + timedelta(seconds=1), now)),
    }
    for function, (job_id, moment) in moments.items():
        # arq's default expiry is "defer time minus ITS wall clock, plus a day": negative (a Redis error
        # that dropped the rest of the batch) whenever our clock runs behind its own. Give it explicitly.
        await arq.enqueue_job(
            function, push.id, _job_id=job_id, _defer_until=moment, _expires=moment - now + WAKEUP_GRACE
        )


async def _schedule(arq: ArqRedis, events: list[SequencedEvent], now: datetime) -> None:
    ids = {int(e.payload["pushId"]) for e in events if e.kind in WAKE_KINDS and "pushId" in e.payload}
    if not ids:
        return
    calendar = await current_calendar()  # once per batch, not once per push
    for push in await DecisionPush.filter(id__in=ids, status=PushStatus.PENDING).order_by("id"):
        await schedule_push_wakeups(arq, push, now, calendar)


async def flush_outbox(redis: aioredis.Redis, arq: ArqRedis | None, now: datetime) -> int:
    """Sequence, publish and schedule everything committed so far; returns how many were published.

    Redis being down costs latency, never events: they stay unpublished in the database,
    subscribers' hubs read them from there, and the sweep publishes them later.
    """
    # Drain: sequence_pending takes one batch at a time, and a backlog (an import) must not hold
    # back the live event this call was made for.
    while (sequenced := await sequence_pending(now)) == SEQUENCE_BATCH:
        EVENTS_COMMITTED.inc(sequenced)
    EVENTS_COMMITTED.inc(sequenced)
    published = 0
    while batch := await unpublished():
        try:
            async with redis.pipeline(transaction=False) as pipe:
                stamp = publish_stamp()
                for event in batch:
                    entry = {**stream_fields(event), "pub": stamp}
                    pipe.xadd(STREAM, entry, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
                await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("事件发布暂缓（Redis 不可用）：%s", error)
            return published
        if arq is not None:
            try:
                await _schedule(arq, batch, now)
            except (RedisError, OSError) as error:  # the sweep still finds every deadline from its row
                log.warning("截止提醒排程失败，由定时清扫兜底：%s", error)
        await mark_published([e.seq for e in batch], now)
        record_published(batch)
        published += len(batch)
    return published
