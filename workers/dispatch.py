"""After commit, in one place: sequence new events, publish them, and schedule their wake-ups.

Called by the API after every mutation and by the worker's sweep, so an event whose process
died between commit and publish is still published (possibly twice: with the same cursor).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms
from redis.exceptions import NoScriptError, RedisError

from models.calendar import current_calendar, deadline_at, reminder_moment
from models.event import (
    SEQUENCE_BATCH,
    EventKind,
    Outgoing,
    SequencedEvent,
    mark_published,
    sequence_for_publishing,
    sequence_pending,
)
from models.workdays import WorkCalendar
from workers.metrics import EVENTS_COMMITTED, publish_stamp, record_published

log = logging.getLogger(__name__)
STREAM = "shenguan:events"
STREAM_MAXLEN = 100_000
WAKEUP_GRACE = timedelta(days=1)  # an undelivered wake-up older than this is left to the sweep
WAKE_KINDS = {EventKind.PUSH_CREATED.value, EventKind.DEADLINE_MOVED.value}
OBLIGATION_MARK_KINDS = {EventKind.OBLIGATION_REMINDER.value, EventKind.OBLIGATION_OVERDUE.value}


def stream_fields(event: SequencedEvent) -> dict[str, str]:
    return {
        "seq": str(event.seq),
        "kind": event.kind,
        "deps": ",".join(map(str, event.departments)),
        "roles": ",".join(event.roles),
        "subject": f"{event.subject_type}:{event.subject_id}",
        "payload": json.dumps(event.payload, ensure_ascii=False),
    }


# arq's own enqueue takes three round trips per job (WATCH, EXISTS, MULTI/EXEC). This script does the
# same check-and-set atomically, and a batch of them goes in one pipelined round trip: the job is
# stored exactly as arq stores it (arq.jobs.serialize_job), so arq's worker runs it unchanged.
ENQUEUE_ONCE = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""
ENQUEUE_ONCE_SHA = hashlib.sha1(ENQUEUE_ONCE.encode()).hexdigest()  # Redis's script id, not security


@dataclass(frozen=True)
class Wakeup:
    """One deferred job: `function(arg)` at `moment`, under a deterministic id."""

    function: str
    arg: int
    job_id: str
    moment: datetime


def deadline_wakeups(
    kind: str, pk: int, due_on: date, deadline: datetime, calendar: WorkCalendar, now: datetime
) -> list[Wakeup]:
    """Two wake-ups per deadline; the due day is in the job id, so a moved deadline gets new ones.

    A moment already past runs at once. Both are only wake-ups: the jobs re-check the row, and the
    sweep catches any that is lost or fires early.
    """
    remind, overdue, prefix = WAKEUP_JOBS[kind]
    due = due_on.isoformat()
    return [
        Wakeup(remind, pk, f"{prefix}remind:{pk}:{due}", max(reminder_moment(calendar, due_on), now)),
        Wakeup(overdue, pk, f"{prefix}overdue:{pk}:{due}", max(deadline + timedelta(seconds=1), now)),
    ]


WAKEUP_JOBS = {
    "push": ("remind_push", "mark_push_overdue", ""),
    "obligation": ("remind_obligation", "mark_obligation_overdue", "ob-"),
}


async def enqueue_wakeups(arq: ArqRedis, wakeups: list[Wakeup], now: datetime) -> int:
    """Enqueue each wake-up unless its id is queued already; one round trip. Returns how many were new."""
    if not wakeups:
        return 0
    enqueued_at = timestamp_ms()
    calls: list[tuple[Any, ...]] = []
    for w in wakeups:
        # arq's default expiry is "defer time minus ITS wall clock, plus a day": negative (a Redis
        # error) whenever our clock runs behind its own. Counted from our clock instead.
        expires_ms = int((w.moment - now + WAKEUP_GRACE).total_seconds() * 1000)
        job = serialize_job(w.function, (w.arg,), {}, None, enqueued_at, serializer=arq.job_serializer)
        keys = [job_key_prefix + w.job_id, result_key_prefix + w.job_id, arq.default_queue_name]
        calls.append((*keys, expires_ms, job, to_unix_ms(w.moment), w.job_id))
    # EVALSHA straight away: a pipeline of registered scripts asks SCRIPT EXISTS first, one more round
    # trip per flush. Redis answers NOSCRIPT only after a restart (or the first time): load it, again.
    try:
        return await _enqueue_once(arq, calls)
    except NoScriptError:
        await arq.script_load(ENQUEUE_ONCE)
        return await _enqueue_once(arq, calls)  # a job enqueued by the first try is not enqueued twice


async def _enqueue_once(arq: ArqRedis, calls: list[tuple[Any, ...]]) -> int:
    async with arq.pipeline(transaction=False) as pipe:
        for call in calls:
            pipe.evalsha(ENQUEUE_ONCE_SHA, 3, *call)
        results = await pipe.execute()
    return sum(int(r) for r in results)


def _due_of(event: SequencedEvent) -> date | None:
    """The due day an event started or moved a deadline to (from its payload: no row read)."""
    moved = event.payload.get("to") if event.kind == EventKind.DEADLINE_MOVED.value else None
    raw = moved or event.payload.get("dueOn")
    try:
        return date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


async def _schedule(
    arq: ArqRedis, events: list[SequencedEvent], now: datetime, calendar_version: int | None = None
) -> None:
    """Wake-ups for every deadline an event of this batch started or moved, in one round trip.

    Pushes: by their creation or move events. Obligations: by any event carrying an obligationId
    (the flow that opened one puts it in its event), except the reminder and overdue events themselves.
    A push or obligation settled meanwhile gets wake-ups that find nothing to do.
    """
    deadlines: dict[tuple[str, int], date] = {}
    for e in events:
        due = _due_of(e)
        if due is None:
            continue
        if e.kind in WAKE_KINDS and "pushId" in e.payload:
            deadlines["push", int(e.payload["pushId"])] = due
        elif "obligationId" in e.payload and e.kind not in OBLIGATION_MARK_KINDS:
            deadlines["obligation", int(e.payload["obligationId"])] = due
    if not deadlines:
        return
    calendar = await current_calendar(calendar_version)  # once per batch, not once per deadline
    wakeups = [
        w
        for (kind, pk), due in sorted(deadlines.items())
        for w in deadline_wakeups(kind, pk, due, deadline_at(due), calendar, now)
    ]
    await enqueue_wakeups(arq, wakeups, now)


async def flush_outbox(redis: aioredis.Redis, arq: ArqRedis | None, now: datetime) -> int:
    """Sequence, publish and schedule everything committed so far; returns how many were published.

    Redis being down costs latency, never events: they stay unpublished in the database,
    subscribers' hubs read them from there, and the sweep publishes them later.
    """
    published = 0
    while True:
        outgoing = await sequence_for_publishing(now)
        EVENTS_COMMITTED.inc(outgoing.sequenced)
        if outgoing.sequenced == SEQUENCE_BATCH:
            # A backlog (an import): number all of it first, so that the live event this call was
            # made for has its cursor, and reaches the hubs' database poll, without waiting for
            # the backlog's publishing.
            while (sequenced := await sequence_pending(now)) == SEQUENCE_BATCH:
                EVENTS_COMMITTED.inc(sequenced)
            EVENTS_COMMITTED.inc(sequenced)
        if not outgoing.events or not await _publish(redis, arq, outgoing, now):
            return published
        published += len(outgoing.events)
        if not outgoing.more:
            return published


async def _publish(redis: aioredis.Redis, arq: ArqRedis | None, outgoing: Outgoing, now: datetime) -> bool:
    """XADD a batch and mark it published, while its wake-ups are scheduled; False when Redis refused it.

    The two run side by side: both are round trips, and neither needs the other. A wake-up scheduled
    for an event whose XADD failed is harmless: its job id makes the next attempt a no-op.
    """
    batch = outgoing.events

    async def stream() -> bool:
        try:
            async with redis.pipeline(transaction=False) as pipe:
                stamp = publish_stamp()
                for event in batch:
                    entry = {**stream_fields(event), "pub": stamp}
                    pipe.xadd(STREAM, entry, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
                await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("事件发布暂缓（Redis 不可用）：%s", error)
            return False
        await mark_published([e.seq for e in batch], now)
        record_published(batch)
        return True

    async def schedule(arq: ArqRedis) -> None:
        try:
            await _schedule(arq, batch, now, outgoing.calendar_version)
        except (RedisError, OSError) as error:  # the sweep still finds every deadline from its row
            log.warning("截止提醒排程失败，由定时清扫兜底：%s", str(error)[:200])

    if arq is None:
        return await stream()
    streamed, _ = await asyncio.gather(stream(), schedule(arq))
    return streamed


class OutboxFlusher:
    """One flush at a time per process; whoever asks while one runs shares the next.

    Every mutation asks for a flush after its commit. Run side by side, those flushes queue on the
    sequencer's lock, and each reads and publishes the same unpublished batch again; at a hundred
    commits a second that costs seconds. Here a caller waits for a flush that *started after it
    asked* (so its commit is in it), and all callers that asked meanwhile share that one flush.

    Each flush is bounded in time: a Redis that accepts connections but never answers must not hold
    every later caller. A flush that fails or times out loses nothing: the events stay unpublished in
    the database, the hubs' database poll still delivers them and the sweep publishes them later.
    """

    def __init__(self, redis: aioredis.Redis, arq: ArqRedis | None, *, budget: float = 1.0) -> None:
        self.redis = redis
        self.arq = arq
        self.budget = budget
        self._asked = 0  # tickets handed out
        self._done = 0  # every ticket up to this one has had its flush
        self._now: datetime | None = None
        self._runner: asyncio.Task[None] | None = None
        self._finished = asyncio.Condition()

    async def flush(self, now: datetime) -> None:
        """Return once a flush that began after this call has ended (or after two budgets at most)."""
        self._asked += 1
        ticket, self._now = self._asked, now
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="outbox-flusher")
        async with self._finished:
            try:
                # One flush may be running already (up to a budget), then ours (up to another).
                await asyncio.wait_for(self._finished.wait_for(lambda: self._done >= ticket), 2 * self.budget + 0.5)
            except TimeoutError:
                log.warning("提交后发布事件超时，将由定时清扫补发")

    async def _run(self) -> None:
        while self._done < self._asked:
            upto, now = self._asked, self._now
            assert now is not None
            try:
                await asyncio.wait_for(flush_outbox(self.redis, self.arq, now), self.budget)
            except TimeoutError:
                log.warning("提交后发布事件超时（Redis 无响应），将由定时清扫补发")
            except Exception:  # the sweep publishes whatever this missed
                log.exception("提交后发布事件失败，将由定时清扫补发")
            self._done = upto
            async with self._finished:
                self._finished.notify_all()

    async def close(self) -> None:
        """Let a running flush end (within its budget); nothing is lost if it does not."""
        if self._runner is not None and not self._runner.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._runner), self.budget + 0.5)
            except TimeoutError:
                self._runner.cancel()
