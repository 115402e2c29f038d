"""One reader per API process fans committed events out to this process's subscribers.

The database is the truth: the Redis stream only says "something new"; when an entry is not
the very next cursor (Redis lost something, or two processes published out of order), the hub
reads the missing range from the database. A poll of the highest cursor covers Redis being down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from models.event import EventKind, SequencedEvent, last_sequence, load_sequenced
from workers.dispatch import STREAM

log = logging.getLogger(__name__)
QUEUE_SIZE = 1000


@dataclass(eq=False)
class Subscriber:
    """One live subscription: who it is for, and a bounded queue of events it may see."""

    user_id: int
    department_id: int
    roles: frozenset[str]
    kinds: frozenset[str] | None = None
    queue: asyncio.Queue[SequencedEvent] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    ended: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def may_see(self, event: SequencedEvent) -> bool:
        if self.department_id not in event.departments:
            return False
        if event.roles and not self.roles & set(event.roles):
            return False
        return self.kinds is None or event.kind in self.kinds

    def end(self, reason: str) -> None:
        self.ended = reason
        self.wake.set()


class Hub:
    def __init__(self, redis: aioredis.Redis, *, poll_interval: float = 1.0) -> None:
        self.redis = redis
        self.poll_interval = poll_interval
        self.last_seq = 0
        self.subscribers: set[Subscriber] = set()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._kick = asyncio.Event()

    async def start(self) -> None:
        self.last_seq = await last_sequence()
        self._tasks = [asyncio.create_task(self._read_stream()), asyncio.create_task(self._poll())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in list(self.subscribers):
            sub.end("SERVER_SHUTDOWN")

    def register(self, sub: Subscriber) -> int:
        """Add a subscriber; it gets every event after the returned cursor live."""
        self.subscribers.add(sub)
        return self.last_seq

    def unregister(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def kick(self) -> None:
        """Something was just committed here: look at the database now rather than at the next poll."""
        self._kick.set()

    async def catch_up(self) -> None:
        """Deliver every sequenced event after the last one delivered, in order, from the database."""
        async with self._lock:
            while batch := await load_sequenced(self.last_seq, limit=500):
                for event in batch:
                    self._deliver(event)

    def _deliver(self, event: SequencedEvent) -> None:
        if event.seq <= self.last_seq:
            return
        self.last_seq = event.seq
        if event.kind == EventKind.ACCESS_CHANGED.value:
            user_id = event.payload.get("userId")
            for sub in self.subscribers:
                if sub.user_id == user_id:
                    sub.end("ACCESS_REVOKED")
            return
        for sub in self.subscribers:
            if sub.ended or not sub.may_see(event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.end("RESYNC_REQUIRED")
            sub.wake.set()

    async def _on_entry(self, fields: dict[bytes, bytes]) -> None:
        seq = int(fields[b"seq"])
        if seq <= self.last_seq:
            return
        if seq == self.last_seq + 1 and not self._lock.locked():
            self._deliver(_from_stream(fields))
        else:
            await self.catch_up()

    async def _read_stream(self) -> None:
        last_id = "$"
        backoff = 0.1
        while True:
            try:
                reply = await self.redis.xread({STREAM: last_id}, block=5000, count=500)
                backoff = 0.1
                for _, entries in reply or []:
                    for entry_id, fields in entries:
                        last_id = entry_id
                        await self._on_entry(fields)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                log.warning("事件流读取中断，%.1f 秒后重连：%s", backoff, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                await self._safe_catch_up()

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.poll_interval)
            self._kick.clear()
            await self._safe_catch_up()

    async def _safe_catch_up(self) -> None:
        try:
            if await last_sequence() > self.last_seq:
                await self.catch_up()
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be briefly away; the next poll tries again
            log.exception("从数据库补发事件失败")


def _from_stream(fields: dict[bytes, bytes]) -> SequencedEvent:
    subject_type, _, subject_id = fields[b"subject"].decode().partition(":")
    deps = fields[b"deps"].decode()
    roles = fields[b"roles"].decode()
    return SequencedEvent(
        seq=int(fields[b"seq"]),
        id=0,
        kind=fields[b"kind"].decode(),
        subject_type=subject_type,
        subject_id=int(subject_id),
        departments=tuple(int(d) for d in deps.split(",") if d),
        roles=tuple(r for r in roles.split(",") if r),
        payload=json.loads(fields[b"payload"]),
    )
