"""SIGTERM to a real `shenguan serve`: sockets close with 1012, requests in flight finish, and
subscribers that reconnect to the restarted server and resume from their last cursor lose nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tortoise.transactions import in_transaction
from websockets.exceptions import ConnectionClosed

from models.event import last_sequence
from tests.api.test_live_faults import committed_pushes, until
from tests.api.test_subscriptions import PUSHED, WAIT, LiveSocket, issue, token_for, world

SUBSCRIBERS = 3
HELD_REQUESTS = 4


class Subscriber:
    """One graphql-ws client: every (cursor, documentNumber) it received and how its socket closed."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, str]] = []
        self.close_code: int | None = None

    async def read(self, live: LiveSocket) -> None:
        try:
            while True:
                msg = json.loads(await live.ws.recv())
                assert msg["type"] == "next" and "errors" not in msg["payload"], msg
                event = msg["payload"]["data"]["decisionPushed"]
                self.frames.append((int(event["cursor"]), event["push"]["decision"]["documentNumber"]))
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None

    @property
    def last_cursor(self) -> int:
        return self.frames[-1][0]

    def distinct(self) -> list[tuple[int, str]]:
        return sorted(set(self.frames))


@contextlib.asynccontextmanager
async def writes_held(database_url: str) -> AsyncIterator[None]:
    """Hold the database's write lock, so every mutation the server starts waits inside its request."""
    release = asyncio.Event()
    locked = asyncio.Event()

    async def hold() -> None:
        async with in_transaction() as conn:
            if database_url.startswith("postgres"):
                await conn.execute_script("LOCK TABLE decision IN SHARE ROW EXCLUSIVE MODE")
            else:
                await conn.execute_query("UPDATE calendar_state SET version = version WHERE 0")
            locked.set()
            await release.wait()

    holder = asyncio.ensure_future(hold())
    await asyncio.wait_for(locked.wait(), WAIT)
    try:
        yield
    finally:
        release.set()
        await holder


async def in_progress(http: httpx.AsyncClient) -> float:
    """The server's own count of HTTP requests being served (this scrape included)."""
    text = (await http.get("/metrics", timeout=WAIT)).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "shenguan_http_requests_in_progress":
                return sample.value
    raise AssertionError("no in-progress gauge")


@pytest.mark.slow
async def test_sigterm_closes_sockets_with_1012_finishes_requests_and_a_restart_loses_nothing(
    db: str, redis: Any, server_factory: Any
) -> None:
    w = await world()
    server = server_factory()
    start = str(await last_sequence())
    token, issuer = token_for(w.supervisor_a), token_for(w.issuer)
    subscribers = [Subscriber() for _ in range(SUBSCRIBERS)]
    sockets = [await LiveSocket.open(server.url, token) for _ in subscribers]
    for live in sockets:
        await live.subscribe(PUSHED, {"a": start})
    readers = [asyncio.ensure_future(s.read(live)) for s, live in zip(subscribers, sockets, strict=True)]

    async with httpx.AsyncClient() as http:
        for _ in range(3):  # a burst while everyone listens
            await issue(http, server.url, issuer, w.item_a)
        await until(lambda: all(len(s.frames) >= 3 for s in subscribers), "the first burst to arrive")

        async with writes_held(db):
            held = [asyncio.ensure_future(issue(http, server.url, issuer, w.item_a)) for _ in range(HELD_REQUESTS)]
            async with httpx.AsyncClient(base_url=server.url) as scraper:
                for _ in range(50):
                    if await in_progress(scraper) >= HELD_REQUESTS + 1:
                        break
                assert await in_progress(scraper) >= HELD_REQUESTS + 1, "the held requests never reached the server"
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(*readers), WAIT)  # sockets close while requests are held
            assert [s.close_code for s in subscribers] == [1012] * SUBSCRIBERS
            assert not any(task.done() for task in held)
        # The lock is released: every request in flight at SIGTERM completes, successfully.
        finished = await asyncio.wait_for(asyncio.gather(*held), WAIT)
        assert len(set(finished)) == HELD_REQUESTS
    # uvicorn re-raises the signal once it has shut down cleanly: the exit status says SIGTERM, the log says how.
    assert await asyncio.to_thread(server.process.wait, WAIT) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log.read_text()

    restarted = server_factory()
    resumed = [await LiveSocket.open(restarted.url, token) for _ in subscribers]
    for s, live in zip(subscribers, resumed, strict=True):
        await live.subscribe(PUSHED, {"a": str(s.last_cursor)})
    readers = [asyncio.ensure_future(s.read(live)) for s, live in zip(subscribers, resumed, strict=True)]
    truth = await committed_pushes(w)
    assert len(truth) == 3 + HELD_REQUESTS
    assert {number for _, number in truth} >= set(finished)
    await until(lambda: all(len(s.distinct()) == len(truth) for s in subscribers), "every push after resuming")
    for s in subscribers:
        assert s.distinct() == truth
        assert [c for c, _ in s.frames] == sorted(c for c, _ in s.frames)  # in cursor order, across the restart
    for live in resumed:
        await live.close()
    await asyncio.wait_for(asyncio.gather(*readers), WAIT)
