"""Scenario 5 (issue 4's benchmark): idle subscriptions, one event to all, and a per-department load.

N WebSocket clients speak graphql-transport-ws to a real `shenguan serve` process, authenticated as
the accounts of 200 supervision departments (subscription i belongs to department i mod 200), each
subscribed to `events(kinds: [CALENDAR_CHANGED])`. The bench process writes events through the
outbox exactly as a mutation does (record_event in a transaction, then the process's one
OutboxFlusher), so they reach the server through Redis, as they would from another process.

- Memory per idle subscription: server RSS after the N subscriptions (and a probe event that every
  one of them has received, which proves they are registered) minus RSS before, over N.
- One event to all N: time from the commit to the last receipt, three times. Baseline: the same
  clients connected to bench/baseline_broadcast.py (raw `websockets`, its own process) receive the
  very frame the GraphQL server sent, broadcast on a control message; time from that message to the
  last receipt, three times, same run.
- Per-department load: 100 events per second, each addressed to one department; commit-to-receipt
  p50/p99 over every receipt (no baseline: the raw server has no notion of audiences).

Everything is on 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs installed
import redis.asyncio as aioredis
from tortoise.transactions import in_transaction
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from bench import env
from bench.context import Context
from bench.scenarios.bulk_import import drain
from bench.stats import Result, percentile
from models.account import User
from models.calendar import SHANGHAI
from models.event import EventKind, record_event
from workers.dispatch import STREAM, OutboxFlusher

SUBSCRIPTION = (
    "subscription { events(kinds: [CALENDAR_CHANGED]) "
    "{ cursor kind payload { ... on CalendarEventPayload { year movedDeadlines } } } }"
)
DEPARTMENTS = 200
PROTOCOL = Subprotocol("graphql-transport-ws")
TARGET_KIB = 32
TARGET_BROADCAST_RATIO = 2.0
TARGET_P99_MS = 100
RATE = 100  # events per second in the per-department load
WAIT = 120.0  # the longest a connection may take to open
RECEIPT_WAIT = {True: 20.0, False: 90.0}  # the longest to wait for the receipts of one event (quick, full)


@dataclass
class Receipts:
    """When each client received each event (keyed by the event's `year`, unique per event)."""

    times: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    expected: dict[int, int] = field(default_factory=dict)
    done: dict[int, asyncio.Event] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    first_frame: str | None = None

    def expect(self, key: int, count: int) -> asyncio.Event:
        self.expected[key] = count
        event = self.done[key] = asyncio.Event()
        if count <= 0:
            event.set()
        return event

    def got(self, key: int, at: float) -> None:
        got = self.times[key]
        got.append(at)
        if len(got) >= self.expected.get(key, 1 << 62):
            self.done[key].set()


def key_of(frame: str | bytes, receipts: Receipts) -> int | None:
    message = json.loads(frame)
    if message.get("type") == "next":
        if receipts.first_frame is None:
            receipts.first_frame = frame if isinstance(frame, str) else frame.decode()
        return int(message["payload"]["data"]["events"]["payload"]["year"])
    if message.get("type") in ("error", "complete") or message.get("payload", {}).get("errors"):
        receipts.errors.append(str(message)[:300])
    return None


async def reader(ws: ClientConnection, receipts: Receipts) -> None:
    clock = time.perf_counter
    try:
        async for frame in ws:
            at = clock()
            key = key_of(frame, receipts)
            if key is not None:
                receipts.got(key, at)
    except (ConnectionClosed, asyncio.CancelledError):
        pass


@dataclass
class Clients:
    sockets: list[ClientConnection] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for start in range(0, len(self.sockets), 500):
            batch = self.sockets[start : start + 500]
            await asyncio.gather(*(asyncio.wait_for(ws.close(), 10) for ws in batch), return_exceptions=True)
        self.sockets.clear()
        self.tasks.clear()


async def open_clients(
    url: str, tokens: list[str], receipts: Receipts, *, subscribe: bool, parallel: int = 64
) -> Clients:
    """One socket per token; with `subscribe`, graphql-transport-ws init (token in the payload) and subscribe."""
    clients = Clients()
    gate = asyncio.Semaphore(parallel)

    async def one(token: str) -> None:
        async with gate:
            try:
                ws = await connect(
                    url,
                    subprotocols=[PROTOCOL],
                    ping_interval=None,
                    open_timeout=WAIT,
                    close_timeout=5,
                    max_size=2**20,
                )
                if subscribe:
                    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                    await ws.send(json.dumps(init))
                    ack = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                    if ack.get("type") != "connection_ack":
                        clients.failures[f"no ack: {ack}"[:120]] += 1
                        await ws.close()
                        return
                    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
            except (OSError, WebSocketException, TimeoutError) as error:
                clients.failures[type(error).__name__] += 1
                return
            clients.sockets.append(ws)
            clients.tasks.append(asyncio.create_task(reader(ws, receipts)))

    await asyncio.gather(*(one(t) for t in tokens))
    return clients


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


async def emit(key: int, departments: list[int], flusher: OutboxFlusher) -> float:
    """An event through the outbox, as a mutation writes it and publishes it (through the process's
    one flusher, as Services.after_commit does); returns the moment it was committed."""
    async with in_transaction():
        await record_event(
            EventKind.CALENDAR_CHANGED,
            subject_type="CalendarYear",
            subject_id=key,
            departments=departments,
            payload={"moved": 0},
        )
    committed = time.perf_counter()
    await flusher.flush(datetime.now(SHANGHAI))
    return committed


async def settle(pid: int, seconds: float = 1.0) -> int:
    await asyncio.sleep(seconds)
    return rss(pid)


async def broadcast_times(
    receipts: Receipts, count: int, send: Callable[[int], Any], keys: list[int], wait: float
) -> tuple[list[float], list[int]]:
    """Time from `send` to the last of `count` receipts, for each key; and how many were missing."""
    lasts: list[float] = []
    missing: list[int] = []
    for key in keys:
        done = receipts.expect(key, count)
        sent = await send(key)
        try:
            await asyncio.wait_for(done.wait(), wait)
        except TimeoutError:
            if os.environ.get("BENCH_DEBUG"):
                from models.event import Event

                print(
                    f"  key {key}: {len(receipts.times[key])}/{count} after {wait}s; unsequenced "
                    f"{await Event.filter(seq=None).count()}, unpublished "
                    f"{await Event.filter(published_at=None).count()}",
                    flush=True,
                )
        got = receipts.times[key]
        missing.append(count - len(got))
        lasts.append((max(got) - sent) if got else float("nan"))
        await asyncio.sleep(0.5)
    return lasts, missing


async def run(ctx: Context) -> list[Result]:
    assert ctx.db_url is not None and ctx.data is not None
    n = ctx.subscriptions or ctx.count(500, 10_000)
    departments = ctx.data.supervision_department_ids[:DEPARTMENTS]
    from api.auth import issue_token

    now = datetime.now(SHANGHAI)
    users = {u.id: u for u in await User.filter(department_id__in=departments)}
    by_department = {u.department_id: u for u in users.values()}
    tokens_of = {d: issue_token(by_department[d], secret=env.SECRET, ttl_minutes=240, now=now) for d in departments}
    owner = [departments[i % len(departments)] for i in range(n)]
    redis = aioredis.Redis.from_url(ctx.redis_url)
    server = env.shenguan_server(ctx.db_url, ctx.redis_url, ctx.work_dir, name="fanout")
    # One account per department holds all of that department's sockets (a wall of screens): the
    # per-account socket limit must admit them, or most of a large run is refused at connection_init.
    server.env["SHENGUAN_MAX_CONNECTIONS_PER_USER"] = str(-(-n // DEPARTMENTS))
    raw = env.python_module("bench.baseline_broadcast", ctx.work_dir)
    try:
        await drain(redis, now)  # an earlier scenario's backlog would delay the first events here
        await asyncio.to_thread(server.start)
        platform = await _platform(ctx, server, redis, tokens_of, owner, departments)
        await asyncio.to_thread(raw.start)
        baseline = await _raw(raw, list(tokens_of.values()), n, platform.pop("frame"), RECEIPT_WAIT[ctx.quick])
    finally:
        server.stop()
        raw.stop()
        await redis.aclose()
    return _results(n, platform, baseline)


async def _platform(
    ctx: Context,
    server: env.Process,
    redis: aioredis.Redis,
    tokens_of: dict[int, str],
    owner: list[int],
    departments: list[int],
) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{server.port}/graphql"
    wait = RECEIPT_WAIT[ctx.quick]
    receipts = Receipts()
    everyone = list(departments)
    flusher = OutboxFlusher(redis, None)
    # Warm up code paths (one subscriber, one event) before the memory baseline is taken.
    warm = await open_clients(url, [tokens_of[owner[0]]], receipts, subscribe=True)
    await asyncio.sleep(0.3)
    await broadcast_times(receipts, 1, lambda k: emit(k, [owner[0]], flusher), [1], wait)
    await warm.close()
    before = await settle(server.pid)
    t0 = time.perf_counter()
    clients = await open_clients(url, [tokens_of[d] for d in owner], receipts, subscribe=True)
    connect_s = time.perf_counter() - t0
    connected = len(clients.sockets)
    await asyncio.sleep(1.0)
    # A probe to everyone: once all have it, every subscription is registered with the hub.

    def to_all(key: int) -> Awaitable[float]:
        return emit(key, everyone, flusher)

    _, probe_missing = await broadcast_times(receipts, connected, to_all, [2], wait)
    after = await settle(server.pid)
    lasts, missing = await broadcast_times(receipts, connected, to_all, [10, 11, 12], wait)
    per_department = await _per_department_load(ctx, receipts, redis, flusher, owner[:connected])
    await clients.close()
    return {
        "subscriptions": connected,
        "failures": dict(clients.failures),
        "connect_seconds": round(connect_s, 2),
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "kib_per_subscription": round((after - before) / max(connected, 1) / 1024, 1),
        "probe_missing": probe_missing[0],
        "broadcast_last_ms": [round(x * 1000, 1) for x in lasts],
        "broadcast_missing": missing,
        "per_department": per_department,
        "errors": receipts.errors[:5],
        "frame": receipts.first_frame,
    }


async def _per_department_load(
    ctx: Context, receipts: Receipts, redis: aioredis.Redis, flusher: OutboxFlusher, owner: list[int]
) -> dict[str, Any]:
    """RATE events per second for a few seconds, each to one department, open loop (no waiting on the last)."""
    seconds = ctx.pick(3.0, 10.0)
    total = int(RATE * seconds)
    subs = Counter(owner)
    targets = list(subs)
    committed: dict[int, float] = {}
    tasks: list[asyncio.Task[None]] = []
    keys: list[int] = []

    async def one(key: int, department: int) -> None:
        committed[key] = await emit(key, [department], flusher)

    start = time.perf_counter()
    saturated = False
    for i in range(total):
        if sum(not t.done() for t in tasks) > 3 * RATE:  # three seconds behind: the rate cannot be held
            saturated = True
            break
        key = 100_000 + i
        department = targets[i % len(targets)]
        receipts.expect(key, subs[department])
        keys.append(key)
        delay = start + i / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(key, department)))
    emitted_s = time.perf_counter() - start
    wait = RECEIPT_WAIT[ctx.quick]
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), wait)
    except TimeoutError:
        saturated = True
        for task in tasks:
            task.cancel()
    deadline = time.perf_counter() + wait
    for key in keys:
        remaining = deadline - time.perf_counter()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(receipts.done[key].wait(), remaining)
    keys = [k for k in keys if k in committed]
    latencies = [t - committed[k] for k in keys for t in receipts.times[k]]
    # Where the time goes: commit → Redis stream is the outbox (sequencing, publishing), stream →
    # receipt the platform's live path (hub, shared delivery, socket) and this client's reader.
    entered = await _stream_entry_times(redis, keys, since=start)
    to_stream = [entered[k] - committed[k] for k in keys if k in entered]
    from_stream = [t - entered[k] for k in keys if k in entered for t in receipts.times[k]]
    expected = sum(receipts.expected[k] for k in keys)
    return {
        "events": len(keys),
        "saturated": saturated,
        "achieved_rate": round(len(keys) / emitted_s, 1),
        "receipts": len(latencies),
        "missing": expected - len(latencies),
        "p50": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p99": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
        "to_stream_p50": _ms(to_stream, 50),
        "to_stream_p99": _ms(to_stream, 99),
        "from_stream_p50": _ms(from_stream, 50),
        "from_stream_p99": _ms(from_stream, 99),
    }


def _ms(seconds: list[float], rank: int) -> float | None:
    return round(percentile(seconds, rank) * 1000, 1) if seconds else None


async def _stream_entry_times(redis: aioredis.Redis, keys: list[int], *, since: float) -> dict[int, float]:
    """When each event first entered the Redis stream, on this process's perf_counter clock.

    A stream entry id starts with the milliseconds of the Redis server's clock when it was added;
    Redis runs on this machine, so its clock is this process's wall clock (to the millisecond).
    Entries from before `since` are an earlier run's events with the same keys (a reused Redis).
    """
    wanted = set(keys)
    offset = time.time() - time.perf_counter()
    entered: dict[int, float] = {}
    for entry_id, fields in await redis.xrevrange(STREAM, count=2 * len(keys) + 100):
        subject = fields[b"subject"].decode()
        key = int(subject.partition(":")[2]) if subject.startswith("CalendarYear:") else -1
        if key in wanted:
            at = int(entry_id.decode().partition("-")[0]) / 1000 - offset
            if at >= since - 0.001:  # newest first: the first publication of this run wins
                entered[key] = at
    return entered


async def _raw(raw: env.Process, tokens: list[str], n: int, frame: str | None, wait: float) -> dict[str, Any]:
    if frame is None:
        raise RuntimeError("the GraphQL server sent no frame to replay")
    receipts = Receipts()
    before = await settle(raw.pid, 0.5)
    t0 = time.perf_counter()
    clients = await open_clients(
        raw.url.replace("http", "ws") + "/", [tokens[i % len(tokens)] for i in range(n)], receipts, subscribe=False
    )
    connect_s = time.perf_counter() - t0
    after = await settle(raw.pid)
    control = await connect(raw.url.replace("http", "ws") + "/control", ping_interval=None)
    message = json.loads(frame)

    async def send(key: int) -> float:
        message["payload"]["data"]["events"]["payload"]["year"] = key
        text = json.dumps(message, ensure_ascii=False)
        sent = time.perf_counter()
        await control.send(text)
        return sent

    try:
        lasts, missing = await broadcast_times(receipts, len(clients.sockets), send, [10, 11, 12], wait)
    finally:
        await control.close()
        await clients.close()
    return {
        "connections": len(clients.sockets) or n,
        "connect_seconds": round(connect_s, 2),
        "kib_per_connection": round((after - before) / n / 1024, 1),
        "broadcast_last_ms": [round(x * 1000, 1) for x in lasts],
        "broadcast_missing": missing,
        "frame_bytes": len(frame.encode()),
    }


def _results(n: int, p: dict[str, Any], b: dict[str, Any]) -> list[Result]:
    kib = p["kib_per_subscription"]
    p_last = statistics.median(p["broadcast_last_ms"])
    b_last = statistics.median(b["broadcast_last_ms"])
    load = p["per_department"]
    trouble = []
    if p["failures"]:
        trouble.append(f"connect failures {p['failures']}")
    if p["probe_missing"] or any(p["broadcast_missing"]) or any(b["broadcast_missing"]):
        trouble.append(
            f"missing receipts: probe {p['probe_missing']}, platform {p['broadcast_missing']}, "
            f"raw {b['broadcast_missing']}"
        )
    if p["errors"]:
        trouble.append(f"errors: {p['errors']}")
    extra = {"platform": p, "baseline": b}
    return [
        Result(
            name="subscription_memory",
            title=f"{p['subscriptions']:,} idle graphql-transport-ws subscriptions over {DEPARTMENTS} departments: "
            "server RSS delta per subscription",
            unit="KiB",
            platform={
                "headline": f"{kib} KiB/subscription (RSS {p['rss_before_mib']} → {p['rss_after_mib']} MiB; "
                f"connected in {p['connect_seconds']} s)",
                "kib": kib,
            },
            baseline={
                "headline": f"{b['kib_per_connection']} KiB/connection (raw websockets, idle)",
                "kib": b["kib_per_connection"],
            },
            ratio=round(kib / b["kib_per_connection"], 2) if b["kib_per_connection"] > 0 else None,
            ratio_of="platform KiB / raw KiB",
            target=f"≤ {TARGET_KIB} KiB per idle subscription",
            met=kib <= TARGET_KIB and not p["failures"],
            note="; ".join(trouble),
            extra=extra,
        ),
        Result(
            name="subscription_broadcast",
            title=f"one event to all {p['subscriptions']:,} subscribers: commit → last receipt (median of 3)",
            unit="ms",
            platform={"headline": f"{p_last} ms (runs {p['broadcast_last_ms']})", "last_ms": p_last},
            baseline={
                "headline": f"{b_last} ms (runs {b['broadcast_last_ms']}), same frame, {b['frame_bytes']} B",
                "last_ms": b_last,
            },
            ratio=round(p_last / b_last, 2),
            ratio_of="platform time / raw websockets time",
            target=f"≤ {TARGET_BROADCAST_RATIO:.0f}x raw",
            met=p_last <= TARGET_BROADCAST_RATIO * b_last and not any(p["broadcast_missing"]),
            note="outbox → Redis stream → hub → one shared execution per operation and permission scope",
        ),
        Result(
            name="subscription_per_department",
            title=f"{RATE} events/s, each to one department's subscribers: commit → receipt",
            unit="ms",
            platform={
                "headline": f"p50 {load['p50']} / p99 {load['p99']} ms over {load['receipts']} receipts "
                f"({load['events']} events at {load['achieved_rate']}/s, {load['missing']} missing); "
                f"commit → Redis stream p50 {load['to_stream_p50']} / p99 {load['to_stream_p99']} ms, "
                f"stream → receipt p50 {load['from_stream_p50']} / p99 {load['from_stream_p99']} ms",
                **load,
            },
            baseline={},
            target=f"p99 ≤ {TARGET_P99_MS} ms",
            met=load["p99"] is not None
            and load["p99"] <= TARGET_P99_MS
            and load["missing"] == 0
            and not load["saturated"],
            note="no baseline: a raw broadcast server has no audiences"
            + (
                "; SATURATED: the outbox could not commit and flush 100 events/s, the load was cut short"
                if load["saturated"]
                else ""
            ),
        ),
    ]
