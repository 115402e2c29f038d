"""The process's one outbox flusher: callers that ask at once share flushes, and none waits forever."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from tortoise.transactions import in_transaction

from models.event import Event, EventKind, record_event
from tests import factories as f
from workers import dispatch
from workers.dispatch import STREAM, OutboxFlusher

NOW = f.at(2026, 10, 8, 10, 0)


async def commit_one(key: int) -> None:
    async with in_transaction():
        await record_event(EventKind.ACCESS_CHANGED, subject_type="User", subject_id=key, departments=[1])


async def test_callers_at_once_share_flushes_and_each_returns_with_its_event_published(
    db: str, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []
    real = dispatch.flush_outbox

    async def counted(redis: aioredis.Redis, arq: Any, now: datetime) -> int:
        published = await real(redis, arq, now)
        runs.append(published)
        return published

    monkeypatch.setattr(dispatch, "flush_outbox", counted)
    flusher = OutboxFlusher(redis, None)

    async def mutation(key: int) -> None:
        await commit_one(key)
        await flusher.flush(NOW)
        # its own event is out by the time the caller goes on, as after a mutation's commit
        assert await Event.filter(subject_id=key, published_at=None).count() == 0

    await asyncio.gather(*(mutation(key) for key in range(30)))

    entries = await redis.xrange(STREAM)
    assert [int(fields[b"seq"]) for _, fields in entries] == list(range(1, 31))  # each once, in cursor order
    assert sum(runs) == 30
    assert len(runs) < 30, runs  # shared: fewer flushes than callers


@pytest.fixture
async def silent_redis() -> AsyncIterator[aioredis.Redis]:
    """A server that accepts connections and never answers (a paused or overloaded Redis)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()  # until the client goes away

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.Redis(host="127.0.0.1", port=port)
    yield client
    await client.aclose()
    for writer in held:
        writer.close()
    server.close()


async def test_a_redis_that_never_answers_holds_no_caller_and_loses_nothing(
    db: str, redis: aioredis.Redis, silent_redis: aioredis.Redis
) -> None:
    stuck = OutboxFlusher(silent_redis, None, budget=0.3)
    await commit_one(1)
    started = time.perf_counter()
    await asyncio.gather(stuck.flush(NOW), stuck.flush(NOW))
    assert time.perf_counter() - started < 2 * 0.3 + 1.0
    # sequenced (the hubs' database poll delivers it), not published: the sweep's to do
    assert await Event.filter(subject_id=1, seq__isnull=False, published_at=None).count() == 1
    await stuck.close()

    await OutboxFlusher(redis, None).flush(NOW)
    assert await Event.filter(published_at=None).count() == 0
    assert len(await redis.xrange(STREAM)) == 1
