"""Shared execution: subscribers with the same operation and permission scope share one execution per event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
import websockets

from api.app import create_app
from api.auth import issue_token
from models.db import write_transaction
from models.enums import DepartmentKind, Role
from models.settings import Settings
from tests import factories as f
from tests.conftest import SECRET, free_port

SUB = "subscription($a:String){decisionPushed(after:$a){cursor push{decision{documentNumber}}}}"


@pytest.fixture
async def live(db: str, redis: Any, settings: Settings) -> AsyncIterator[tuple[Any, str]]:
    """The app served in this test's event loop, so its multiplexer can be inspected."""
    app = create_app(settings, poll_interval=0.2, own_database=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # uvicorn exposes no start-up event, only the flag
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield app, f"ws://127.0.0.1:{port}/graphql"
    server.should_exit = True
    await task


async def subscribe(url: str, token: str, query: str = SUB) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "s1", "type": "subscribe", "payload": {"query": query, "variables": {}}}))
    return ws


async def next_payload(ws: Any) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "next", message
    assert message["id"] == "s1"
    return dict(message["payload"])


async def test_one_execution_per_event_for_subscribers_sharing_query_and_scope(live: tuple[Any, str]) -> None:
    app, url = live
    approval = await f.department(DepartmentKind.APPROVAL)
    market, other = await f.department(), await f.department()
    issuer = await f.user(approval, Role.OFFICER)
    watchers = [await f.user(market, Role.OFFICER) for _ in range(3)]
    outsider = await f.user(other, Role.OFFICER)
    item = await f.item(market, other)
    now = f.at(2026, 9, 30)
    token = lambda u: issue_token(u, secret=SECRET, ttl_minutes=60, now=datetime.now(UTC))  # noqa: E731
    sockets = [await subscribe(url, token(u)) for u in watchers]
    foreign = await subscribe(url, token(outsider))
    await asyncio.sleep(0.5)  # graphql-transport-ws does not acknowledge `subscribe`

    multiplexer = app.state.services.multiplexer
    before = multiplexer.executions
    async with write_transaction():
        decision = await f.decision(issuer, item, now=now, number="济审批〔2026〕88号")
    await app.state.services.after_commit(now)

    payloads = [await next_payload(ws) for ws in sockets]
    foreign_payload = await next_payload(foreign)
    expected = {"documentNumber": decision.document_number}
    assert all(p["data"]["decisionPushed"]["push"]["decision"] == expected for p in payloads)
    assert len({json.dumps(p, sort_keys=True) for p in payloads}) == 1
    assert foreign_payload["data"]["decisionPushed"]["push"]["decision"] == expected
    # Three subscribers of one department shared one execution; the other department had its own.
    assert multiplexer.executions - before == 2
    for ws in [*sockets, foreign]:
        await ws.close()


def test_the_shared_path_serves_only_operations_within_the_limits() -> None:
    from api.multiplex import Multiplexer

    multiplexer = Multiplexer()
    assert multiplexer.plan(SUB, None) is not None
    deep = "subscription{decisionPushed{push{" + "decision{pushes{" * 7 + "id" + "}}" * 7 + "}}}"
    aliases = "subscription{decisionPushed{" + " ".join(f"a{i}:cursor" for i in range(40)) + "}}"
    # Refused here, so strawberry's own path answers them, with its depth and alias errors.
    assert multiplexer.plan(deep, None) is None
    assert multiplexer.plan(aliases, None) is None
    assert multiplexer.plan("query{me{id}}", None) is None
