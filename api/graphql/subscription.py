"""Live subscriptions: replay from the database after a cursor, then live, without gap or duplicate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from enum import Enum
from typing import Annotated

import strawberry
from graphql import GraphQLError

from api.context import Info
from api.graphql.loaders import Loaders
from api.graphql.types import DecisionPush
from api.hub import Subscriber
from models.event import EventKind, SequencedEvent, first_retained_sequence, load_for_department

PlatformEventKind = strawberry.enum(
    Enum("PlatformEventKind", {k.value: k.value for k in EventKind if k is not EventKind.ACCESS_CHANGED}),  # type: ignore[misc]
    description="What happened.",
)


@strawberry.type(description="A push addressed to the viewer's department; `cursor` resumes after it.")
class DecisionPushedEvent:
    cursor: str
    push: DecisionPush


@strawberry.type(description="Something happened to a push: created, claimed, returned, reminded, overdue, moved.")
class PushEventPayload:
    push: DecisionPush


@strawberry.type(description="The working-day calendar changed; open deadlines were recomputed.")
class CalendarEventPayload:
    year: int
    moved_deadlines: int


EventPayload = Annotated[PushEventPayload | CalendarEventPayload, strawberry.union("EventPayload")]


@strawberry.type(description="An event the viewer may see, with its cursor.")
class PlatformEvent:
    cursor: str
    kind: PlatformEventKind  # type: ignore[valid-type]
    payload: EventPayload


def _cursor(after: str | None) -> int | None:
    if after is None or after is strawberry.UNSET:
        return None
    if not after.isdigit():
        raise GraphQLError("无效的事件游标", extensions={"code": "INVALID_CURSOR"})
    return int(after)


async def event_stream(info: Info, after: str | None, kinds: frozenset[str] | None) -> AsyncGenerator[SequencedEvent]:
    """Every event the viewer may see after `after` (or from now), in cursor order."""
    user = info.context.require_user()
    hub = info.context.services.hub
    start = _cursor(after)
    sub = Subscriber(user_id=user.id, department_id=user.department_id, roles=frozenset(user.roles), kinds=kinds)
    snapshot = hub.register(sub)
    try:
        last = snapshot
        if start is not None:
            if start > snapshot:
                raise GraphQLError("事件游标不存在", extensions={"code": "INVALID_CURSOR"})
            if start + 1 < await first_retained_sequence():
                raise GraphQLError("游标早于保留期，请重新同步", extensions={"code": "RESYNC_REQUIRED"})
            last = start
            while batch := await load_for_department(user.department_id, last, snapshot):
                for event in batch:
                    last = event.seq
                    if sub.may_see(event):
                        yield event
        while True:
            event = await _next(info, sub)
            if event.seq > last:
                last = event.seq
                yield event
    finally:
        hub.unregister(sub)


async def _next(info: Info, sub: Subscriber) -> SequencedEvent:
    """The next queued event; ends the subscription when access ends or the token expires."""
    while True:
        if sub.ended:
            code = "RESYNC_REQUIRED" if sub.ended == "RESYNC_REQUIRED" else "FORBIDDEN"
            if sub.ended == "SERVER_SHUTDOWN":
                code = "SERVER_SHUTDOWN"
            raise GraphQLError("订阅已结束：" + sub.ended, extensions={"code": code})
        if not sub.queue.empty():
            return sub.queue.get_nowait()
        sub.wake.clear()
        remaining = (info.context.token_expires or time.time() + 3600) - time.time()
        if remaining <= 0:
            raise GraphQLError("登录已过期", extensions={"code": "UNAUTHENTICATED"})
        try:
            await asyncio.wait_for(sub.wake.wait(), timeout=min(remaining, 60))
        except TimeoutError:
            continue


async def _push_of(info: Info, event: SequencedEvent) -> DecisionPush | None:
    info.context.loaders = Loaders()  # fresh rows for every event: a socket lives long
    push_id = event.payload.get("pushId")
    row = await info.context.loaders.push.load(int(push_id)) if push_id else None
    return DecisionPush(row=row) if row else None


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every push addressed to the viewer's department, in order, as it happens.")
    async def decision_pushed(
        self, info: Info, after: str | None = strawberry.UNSET
    ) -> AsyncGenerator[DecisionPushedEvent]:
        async for event in event_stream(info, after, frozenset({EventKind.PUSH_CREATED.value})):
            push = await _push_of(info, event)
            if push is not None:
                yield DecisionPushedEvent(cursor=str(event.seq), push=push)

    @strawberry.subscription(description="Every event the viewer may see, optionally of some kinds only.")
    async def events(
        self,
        info: Info,
        after: str | None = strawberry.UNSET,
        kinds: list[PlatformEventKind] | None = strawberry.UNSET,  # type: ignore[valid-type]
    ) -> AsyncGenerator[PlatformEvent]:
        wanted = frozenset(k.value for k in kinds) if kinds else None
        async for event in event_stream(info, after, wanted):
            payload: PushEventPayload | CalendarEventPayload | None
            if event.kind == EventKind.CALENDAR_CHANGED.value:
                payload = CalendarEventPayload(year=event.subject_id, moved_deadlines=int(event.payload.get("moved", 0)))
            else:
                push = await _push_of(info, event)
                payload = PushEventPayload(push=push) if push else None
            if payload is not None:
                yield PlatformEvent(cursor=str(event.seq), kind=PlatformEventKind[event.kind], payload=payload)
