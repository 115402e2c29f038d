"""After commit, in one place: sequence new events, publish them, and schedule their wake-ups.

Called by the API after every mutation and by the worker's sweep, so an event whose process
died between commit and publish is still published (possibly twice: with the same cursor).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, time, timedelta

import redis.asyncio as aioredis
from arq.connections import ArqRedis
from redis.exceptions import RedisError

from models.calendar import SHANGHAI, current_calendar
from models.decision import DecisionPush
from models.enums import PushStatus
from models.event import EventKind, SequencedEvent, mark_published, sequence_pending, unpublished

log = logging.getLogger(__name__)
STREAM = "shenguan:events"
STREAM_MAXLEN = 100_000
REMIND_AT = time(9, 0)
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


async def schedule_push_wakeups(arq: ArqRedis, push: DecisionPush, now: datetime) -> None:
    """Two deferred wake-ups per deadline; the due date is in the job id, so a moved deadline gets new ones.

    A moment already past runs at once (arq cannot defer into the past).
    """
    calendar = await current_calendar()
    due = push.claim_due_on.isoformat()
    remind_at = datetime.combine(calendar.previous_workday(push.claim_due_on), REMIND_AT, SHANGHAI)
    overdue_at = push.claim_deadline + timedelta(seconds=1)
    await arq.enqueue_job("remind_push", push.id, _job_id=f"remind:{push.id}:{due}", _defer_until=max(remind_at, now))
    await arq.enqueue_job(
        "mark_push_overdue", push.id, _job_id=f"overdue:{push.id}:{due}", _defer_until=max(overdue_at, now)
    )


async def _schedule(arq: ArqRedis, events: list[SequencedEvent], now: datetime) -> None:
    ids = [int(e.payload["pushId"]) for e in events if e.kind in WAKE_KINDS and "pushId" in e.payload]
    if not ids:
        return
    for push in await DecisionPush.filter(id__in=ids, status=PushStatus.PENDING):
        await schedule_push_wakeups(arq, push, now)


async def flush_outbox(redis: aioredis.Redis, arq: ArqRedis | None, now: datetime) -> int:
    """Sequence, publish and schedule everything committed so far; returns how many were published.

    Redis being down costs latency, never events: they stay unpublished in the database,
    subscribers' hubs read them from there, and the sweep publishes them later.
    """
    await sequence_pending(now)
    published = 0
    while batch := await unpublished():
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for event in batch:
                    pipe.xadd(STREAM, stream_fields(event), maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
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
        published += len(batch)
    return published
