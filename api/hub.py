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
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from api.metrics import EVENTS_DELIVERED, observe_delivery_lag
from models.event import EventKind, SequencedEvent, last_sequence, load_sequenced
from workers.dispatch import STREAM

log = logging.getLogger(__name__)
QUEUE_SIZE = 1000


class Listener(Protocol):
    """A live subscription as access changes and shutdowns see it: whose it is, and how to end it."""

    @property
    def user_id(self) -> int: ...

    def end(self, reason: str) -> None: ...


class Audience(Protocol):
    """Whatever takes the events of one department: a subscriber's queue, or a shared delivery."""

    @property
    def department_id(self) -> int: ...

    def offer(self, event: SequencedEvent) -> None: ...


@dataclass(frozen=True)
class Scope:
    """What decides whether an event may be seen: the viewer's department, roles and chosen kinds."""

    department_id: int
    roles: frozenset[str]
    kinds: frozenset[str] | None = None

    def may_see(self, event: SequencedEvent) -> bool:
        if self.department_id not in event.departments:
            return False
        if event.roles and not self.roles & set(event.roles):
            return False
        return self.kinds is None or event.kind in self.kinds


@dataclass(eq=False)
class Subscriber:
    """One subscription with its own bounded queue: while it replays, and for strawberry's own path."""

    user_id: int
    department_id: int
    roles: frozenset[str]
    kinds: frozenset[str] | None = None
    # A plain deque with the bound checked on offer: an asyncio.Queue costs four more deques per
    # subscriber, and only this subscription's own task ever reads it.
    queue: deque[SequencedEvent] = field(default_factory=deque)
    ended: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    last: int = 0  # the highest cursor handed to the client (or skipped as already seen)
    scope: Scope = field(init=False)

    def __post_init__(self) -> None:
        self.scope = Scope(self.department_id, self.roles, self.kinds)

    def may_see(self, event: SequencedEvent) -> bool:
        return self.scope.may_see(event)

    def offer(self, event: SequencedEvent) -> None:
        if self.ended or not self.may_see(event):
            return
        if len(self.queue) >= QUEUE_SIZE:
            self.end("RESYNC_REQUIRED")
            return
        self.queue.append(event)
        EVENTS_DELIVERED.inc()
        self.wake.set()

    def end(self, reason: str) -> None:
        self.ended = reason
        self.wake.set()


class Hub:
    def __init__(self, redis: aioredis.Redis, *, poll_interval: float = 1.0) -> None:
        self.redis = redis
        self.poll_interval = poll_interval
        self.last_seq = 0
        self.subscribers: set[Listener] = set()
        # Indexes, so one event costs its audience, not every socket of the process.
        self._by_department: dict[int, set[Audience]] = {}
        self._by_user: dict[int, set[Listener]] = {}
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
        self.attach(sub)
        self.watch(sub)
        return self.last_seq

    def unregister(self, sub: Subscriber) -> None:
        self.detach(sub)
        self.unwatch(sub)

    def attach(self, audience: Audience) -> None:
        """From now on `audience` is offered every event addressed to its department."""
        self._by_department.setdefault(audience.department_id, set()).add(audience)

    def detach(self, audience: Audience) -> None:
        _discard(self._by_department, audience.department_id, audience)

    def watch(self, listener: Listener) -> None:
        """From now on `listener` ends when its user's access changes, or when the process stops."""
        self.subscribers.add(listener)
        self._by_user.setdefault(listener.user_id, set()).add(listener)

    def unwatch(self, listener: Listener) -> None:
        self.subscribers.discard(listener)
        _discard(self._by_user, listener.user_id, listener)

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
            for sub in list(self._by_user.get(int(event.payload.get("userId", 0)), ())):
                sub.end("ACCESS_REVOKED")
            return
        for department_id in event.departments:
            for audience in list(self._by_department.get(department_id, ())):
                audience.offer(event)

    async def _on_entry(self, fields: dict[bytes, bytes]) -> None:
        observe_delivery_lag(fields.get(b"pub"))
        seq = int(fields[b"seq"])
        if seq <= self.last_seq:
            return
        if seq == self.last_seq + 1 and not self._lock.locked():
            self._deliver(_from_stream(fields))
        else:
            await self.catch_up()

    async def _read_stream(self) -> None:
        last_id: str | bytes = "$"
        backoff = 0.1
        reconnected = False
        while True:
            try:
                if reconnected:
                    last_id = await self._resume_point(last_id)
                    reconnected = False
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
                reconnected = True
                await self._safe_catch_up()

    async def _resume_point(self, last_id: str | bytes) -> str | bytes:
        """Where to go on reading after a reconnect: the last entry read, unless Redis lost the stream.

        A restarted Redis starts a new stream whose ids may be lower than the last one read; reading
        after the old id would then skip its entries (the database poll would still deliver them, late).
        """
        if last_id == "$":
            return last_id
        try:
            info = await self.redis.xinfo_stream(STREAM)
        except ResponseError:  # no such key: the stream is gone, read the new one from its start
            return "0-0"
        if _entry_id(info["last-generated-id"]) < _entry_id(last_id):
            return "0-0"
        return last_id

    async def _poll(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races a kick.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._kick.wait()
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


def _discard(index: dict[int, set[Any]], key: int, member: object) -> None:
    group = index.get(key)
    if group is not None:
        group.discard(member)
        if not group:
            del index[key]


def _entry_id(value: str | bytes) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, n = text.partition("-")
    return int(ms), int(n or 0)


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
