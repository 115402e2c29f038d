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


CALENDAR = "subscription{events(kinds:[CALENDAR_CHANGED]){cursor kind payload{...on CalendarEventPayload{year}}}}"


async def calendar_event(app: Any, year: int, departments: list[int]) -> None:
    from models.event import EventKind, record_event

    async with write_transaction():
        await record_event(
            EventKind.CALENDAR_CHANGED, subject_type="CalendarYear", subject_id=year, departments=departments
        )
    await app.state.services.after_commit(datetime.now(UTC))


async def test_an_event_to_many_departments_executes_once_and_reaches_only_those_addressed(
    live: tuple[Any, str],
) -> None:
    app, url = live
    departments = [await f.department() for _ in range(3)]
    users = [await f.user(d, Role.OFFICER) for d in departments]
    token = lambda u: issue_token(u, secret=SECRET, ttl_minutes=60, now=datetime.now(UTC))  # noqa: E731
    sockets = [await subscribe(url, token(u), CALENDAR) for u in users]
    await asyncio.sleep(0.5)  # graphql-transport-ws does not acknowledge `subscribe`

    multiplexer = app.state.services.multiplexer
    before = multiplexer.executions
    await calendar_event(app, 2031, [departments[0].id, departments[1].id])
    await calendar_event(app, 2032, [departments[2].id])
    years = [(await next_payload(ws))["data"]["events"]["payload"]["year"] for ws in sockets]
    # The third department's first frame is the event addressed to it, not the one to the others.
    assert years == [2031, 2031, 2032]
    # A calendar payload is the same for every viewer: one execution per event, whatever the scopes.
    assert multiplexer.executions - before == 2
    for ws in sockets:
        await ws.close()


async def test_a_live_subscription_keeps_no_task_of_its_own(live: tuple[Any, str]) -> None:
    app, url = live
    user = await f.user(await f.department(), Role.OFFICER)
    ws = await subscribe(url, issue_token(user, secret=SECRET, ttl_minutes=60, now=datetime.now(UTC)), CALENDAR)
    await asyncio.sleep(0.5)
    tasks = len(asyncio.all_tasks())
    for n in range(2, 12):
        await ws.send(json.dumps({"id": f"s{n}", "type": "subscribe", "payload": {"query": CALENDAR}}))
    await asyncio.sleep(0.5)
    assert len(asyncio.all_tasks()) == tasks  # ten more subscriptions, served by their group
    await calendar_event(app, 2033, [user.department_id])
    ids = set()
    for _ in range(11):
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert message["payload"]["data"]["events"]["payload"]["year"] == 2033
        ids.add(message["id"])
    assert ids == {"s1", *(f"s{n}" for n in range(2, 12))}
    await ws.close()


class SlowSocket:
    """A connection whose writes block until released, as a socket with a full buffer does."""

    def __init__(self, user_id: int) -> None:
        self.context = type("Ctx", (), {"require_user": lambda _: type("U", (), {"id": user_id})()})()
        self.sent: list[str] = []
        self.room = asyncio.Event()
        self.ended: list[str] = []

    async def send_text(self, text: str) -> None:
        await self.room.wait()
        self.sent.append(text)

    async def end_operation(self, operation: Any, reason: str) -> None:
        self.ended.append(reason)


async def test_a_member_whose_socket_cannot_keep_up_gets_resync_required(monkeypatch: pytest.MonkeyPatch) -> None:
    import api.hub
    from api.hub import Hub, Scope
    from api.multiplex import Member, Multiplexer

    monkeypatch.setattr(api.hub, "QUEUE_SIZE", 2)
    hub = Hub(redis=None)  # type: ignore[arg-type]  # never started: only its indexes are used
    socket = SlowSocket(user_id=7)
    group = Multiplexer().group(("q", None, "{}", 1, ()), Scope(1, frozenset()), None, hub)  # type: ignore[arg-type]
    operation = type("Op", (), {"id": "a"})()
    member = Member(socket, operation, group, last=0)  # type: ignore[arg-type]
    group.members.add(member)
    hub.watch(member)

    member.deliver(1, "{}")  # the write waits for room: the frames after it wait in the backlog
    member.deliver(2, "{}")
    member.deliver(3, "{}")
    assert socket.ended == []
    member.deliver(4, "{}")  # a backlog of two overflows
    await asyncio.sleep(0)
    assert socket.ended == ["RESYNC_REQUIRED"]
    assert group.members == set() and hub.subscribers == set()
    socket.room.set()
    await asyncio.sleep(0.01)
    assert socket.sent == ['{"id":"a","type":"next","payload":{}}']  # the write in flight, nothing after the end


async def test_a_write_with_room_completes_at_once_and_one_without_finishes_later() -> None:
    from api.multiplex import started

    done: list[str] = []

    async def write(room: asyncio.Event, text: str) -> None:
        await room.wait()
        done.append(text)

    free, full = asyncio.Event(), asyncio.Event()
    free.set()
    assert started(write(free, "now")) is None
    assert done == ["now"]
    rest = started(write(full, "later"))
    assert rest is not None and done == ["now"]
    task = asyncio.ensure_future(_finish(rest))
    await asyncio.sleep(0)
    full.set()
    await asyncio.wait_for(task, 1)
    assert done == ["now", "later"]


async def _finish(rest: Any) -> None:
    await rest
