"""Live subscriptions: replay from the database after a cursor, then live, without gap or duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import weakref
from collections.abc import AsyncGenerator
from enum import Enum
from typing import Annotated, NoReturn, cast

import strawberry
from graphql import GraphQLError
from starlette.websockets import WebSocket, WebSocketState
from strawberry.scalars import JSON

from api.context import Context, Info
from api.graphql.base import Node
from api.graphql.loaders import Loaders
from api.graphql.nodes import load_node
from api.graphql.obligations import Obligation, can_see_obligation
from api.graphql.types import ApprovalDecision, DecisionPush
from api.hub import Subscriber
from models.account import User
from models.event import EventKind, SequencedEvent, first_retained_sequence, last_sequence, load_for_department
from models.obligation import Obligation as ObligationRow

# graphql-ws close codes: its client retries after 4403 (and the retry is refused at connection_init),
# never after 4401 (sign in again), and reconnects after 1012, resuming from its last cursor.
FORBIDDEN_CLOSE = 4403
UNAUTHORIZED_CLOSE = 4401
RESTART_CLOSE = 1012
SOCKET_CLOSE_GRACE = 30.0  # a client answers a close within seconds; strawberry then cancels the operation


@strawberry.enum(description="What happened.")
class PlatformEventKind(Enum):
    PUSH_CREATED = EventKind.PUSH_CREATED.value
    PUSH_CLAIMED = EventKind.PUSH_CLAIMED.value
    PUSH_RETURNED = EventKind.PUSH_RETURNED.value
    PUSH_REMINDER = EventKind.PUSH_REMINDER.value
    PUSH_OVERDUE = EventKind.PUSH_OVERDUE.value
    DECISION_STATUS_CHANGED = EventKind.DECISION_STATUS_CHANGED.value
    CALENDAR_CHANGED = EventKind.CALENDAR_CHANGED.value
    DEADLINE_MOVED = EventKind.DEADLINE_MOVED.value
    OBLIGATION_REMINDER = EventKind.OBLIGATION_REMINDER.value
    OBLIGATION_OVERDUE = EventKind.OBLIGATION_OVERDUE.value
    REPORT_RELEASED = EventKind.REPORT_RELEASED.value
    INQUIRY_SENT = EventKind.INQUIRY_SENT.value
    INQUIRY_ANSWERED = EventKind.INQUIRY_ANSWERED.value
    INQUIRY_FOLLOWED_UP = EventKind.INQUIRY_FOLLOWED_UP.value
    INQUIRY_CLOSED = EventKind.INQUIRY_CLOSED.value
    MEETING_REQUESTED = EventKind.MEETING_REQUESTED.value
    MEETING_CONVENED = EventKind.MEETING_CONVENED.value
    MEETING_TOPIC_SUBMITTED = EventKind.MEETING_TOPIC_SUBMITTED.value
    MEETING_AGENDA_SET = EventKind.MEETING_AGENDA_SET.value
    MEETING_INVITED = EventKind.MEETING_INVITED.value
    MEETING_INVITATION_REPLIED = EventKind.MEETING_INVITATION_REPLIED.value
    MEETING_MINUTES_RECORDED = EventKind.MEETING_MINUTES_RECORDED.value
    MEETING_ESCALATED = EventKind.MEETING_ESCALATED.value
    ACTION_ITEM_ASSIGNED = EventKind.ACTION_ITEM_ASSIGNED.value
    ACTION_ITEM_COMPLETED = EventKind.ACTION_ITEM_COMPLETED.value
    JOINT_CONFERENCE_DECIDED = EventKind.JOINT_CONFERENCE_DECIDED.value
    PUBLIC_SUBMISSION_RECEIVED = EventKind.PUBLIC_SUBMISSION_RECEIVED.value
    PUBLIC_SUBMISSION_ROUTED = EventKind.PUBLIC_SUBMISSION_ROUTED.value
    PUBLIC_SUBMISSION_REPLIED = EventKind.PUBLIC_SUBMISSION_REPLIED.value
    EXPERT_PROPOSED = EventKind.EXPERT_PROPOSED.value
    EXPERT_STATUS_CHANGED = EventKind.EXPERT_STATUS_CHANGED.value
    AGENCY_PROPOSED = EventKind.AGENCY_PROPOSED.value
    AGENCY_STATUS_CHANGED = EventKind.AGENCY_STATUS_CHANGED.value
    INSPECTION_INVITED = EventKind.INSPECTION_INVITED.value
    INSPECTION_INVITATION_REPLIED = EventKind.INSPECTION_INVITATION_REPLIED.value
    INSPECTION_EXPERTS_DRAWN = EventKind.INSPECTION_EXPERTS_DRAWN.value
    INSPECTION_OPINION_RECORDED = EventKind.INSPECTION_OPINION_RECORDED.value
    INSPECTION_CLOSED = EventKind.INSPECTION_CLOSED.value
    INSPECTION_LINKED = EventKind.INSPECTION_LINKED.value
    VERIFICATION_ASSIGNED = EventKind.VERIFICATION_ASSIGNED.value
    VERIFICATION_RECORDED = EventKind.VERIFICATION_RECORDED.value
    COMMITMENT_OUTCOME_REQUESTED = EventKind.COMMITMENT_OUTCOME_REQUESTED.value
    COMMITMENT_OUTCOME_DONE = EventKind.COMMITMENT_OUTCOME_DONE.value
    CREDIT_RECORDED = EventKind.CREDIT_RECORDED.value
    SUPERVISION_ACTION_PUSHED = EventKind.SUPERVISION_ACTION_PUSHED.value
    SUPERVISION_ACTION_CLAIMED = EventKind.SUPERVISION_ACTION_CLAIMED.value
    SUPERVISION_ACTION_RETURNED = EventKind.SUPERVISION_ACTION_RETURNED.value
    NOTICE_SENT = EventKind.NOTICE_SENT.value
    NOTICE_STATUS_CHANGED = EventKind.NOTICE_STATUS_CHANGED.value
    NOTICE_DECIDED = EventKind.NOTICE_DECIDED.value


@strawberry.type(description="A push addressed to the viewer's department; `cursor` resumes after it.")
class DecisionPushedEvent:
    cursor: str
    push: DecisionPush


@strawberry.type(description="Something happened to a push: created, claimed, returned, reminded, overdue, moved.")
class PushEventPayload:
    push: DecisionPush


@strawberry.type(description="A decision the viewer's department received changed status.")
class DecisionEventPayload:
    decision: ApprovalDecision


@strawberry.type(description="The working-day calendar changed; open deadlines were recomputed.")
class CalendarEventPayload:
    year: int
    moved_deadlines: int


@strawberry.type(
    description="Something happened to a record of the other flows (notice, inquiry, inspection...): "
    "`subject` is the record, `deadline` the obligation the event is about, if any."
)
class RecordEventPayload:
    subject: Node | None
    deadline: Obligation | None
    detail: JSON = strawberry.field(description="The event's own facts (due day, reason...); records are in `subject`.")


EventPayload = Annotated[
    PushEventPayload | DecisionEventPayload | CalendarEventPayload | RecordEventPayload,
    strawberry.union("EventPayload"),
]
PUSH_KINDS = frozenset(
    k.value
    for k in (
        EventKind.PUSH_CREATED,
        EventKind.PUSH_CLAIMED,
        EventKind.PUSH_RETURNED,
        EventKind.PUSH_REMINDER,
        EventKind.PUSH_OVERDUE,
    )
)


@strawberry.type(description="An event the viewer may see, with its cursor.")
class PlatformEvent:
    cursor: str
    kind: PlatformEventKind
    payload: EventPayload


def _cursor(after: str | None) -> int | None:
    if after is None or after is strawberry.UNSET:
        return None
    # isascii: str.isdigit() also accepts "²" and other digits that int() refuses.
    if not (after.isascii() and after.isdigit()):
        raise GraphQLError("无效的事件游标", extensions={"code": "INVALID_CURSOR"})
    return int(after)


async def event_stream(
    context: Context, after: str | None, kinds: frozenset[str] | None
) -> AsyncGenerator[SequencedEvent]:
    """Rule 4: every event the viewer may see after `after` (or from now), in cursor order, no gap, no duplicate."""
    sub = subscriber_for(context.require_user(), kinds)
    try:
        async for event in opening(context, sub, after):
            yield event
        while True:
            event = await _next(context, sub)
            if event.seq > sub.last:
                sub.last = event.seq
                yield event
    finally:
        context.services.hub.unregister(sub)


def subscriber_for(user: User, kinds: frozenset[str] | None) -> Subscriber:
    return Subscriber(user_id=user.id, department_id=user.department_id, roles=frozenset(user.roles), kinds=kinds)


async def opening(context: Context, sub: Subscriber, after: str | None) -> AsyncGenerator[SequencedEvent]:
    """Register `sub` with the hub, replay from the database after `after`, then what arrived meanwhile.

    It ends, without awaiting anything after its last check, once the queue is empty: the caller
    then waits for more on the same queue, or hands the subscription over to a shared delivery,
    with nothing slipping in between. The caller unregisters `sub` when it is done with it.
    """
    user = context.require_user()
    start = _cursor(after)
    snapshot = context.services.hub.register(sub)  # every event after `snapshot` now reaches sub.queue
    # Registered first, checked second: an access change committed after this read reaches
    # the subscriber through the hub; one committed before it is seen here.
    if not await _access_unchanged(user):
        await _end(context, FORBIDDEN_CLOSE, "账号权限已变更，请重新登录", "FORBIDDEN")
    sub.last = snapshot
    if start is not None:
        sub.last = await _replay_start(start, snapshot)
        while batch := await load_for_department(user.department_id, sub.last, snapshot):
            for event in batch:
                sub.last = event.seq
                if sub.may_see(event) and event.kind != EventKind.ACCESS_CHANGED.value:
                    yield event
        sub.last = max(sub.last, start)
    while sub.queue or sub.ended:  # neither waits: _next returns the head, or ends the subscription
        event = await _next(context, sub)
        if event.seq > sub.last:
            sub.last = event.seq
            yield event


async def _replay_start(start: int, snapshot: int) -> int:
    """Where replay starts; refuses a cursor never handed out, or one older than the retained events."""
    # A cursor above this process's snapshot may come from another process that is ahead of this
    # one: the database, not the hub, says whether it was handed out. Its events then arrive live.
    if start > snapshot and start > await last_sequence():
        raise GraphQLError("事件游标不存在", extensions={"code": "INVALID_CURSOR"})
    if start + 1 < await first_retained_sequence():
        raise GraphQLError("游标早于保留期，请重新同步", extensions={"code": "RESYNC_REQUIRED"})
    return min(start, snapshot)


async def _access_unchanged(user: User) -> bool:
    """Rule 5: the account is still active with the access its token was issued for."""
    current = await User.get_or_none(id=user.id)
    return current is not None and current.is_active and current.token_version == user.token_version


END_REASONS: dict[str, tuple[int | None, str, str]] = {
    "ACCESS_REVOKED": (FORBIDDEN_CLOSE, "账号权限已变更，请重新登录", "FORBIDDEN"),
    "RESYNC_REQUIRED": (None, "事件积压过多，请重新同步后再订阅", "RESYNC_REQUIRED"),
    "SERVER_SHUTDOWN": (RESTART_CLOSE, "服务重启，请重新连接", "SERVER_SHUTDOWN"),
    "DELIVERY_FAILED": (None, "事件推送出错，请从最后收到的游标重新订阅", "INTERNAL_SERVER_ERROR"),
}


async def _next(context: Context, sub: Subscriber) -> SequencedEvent:
    """The next queued event; ends the subscription when access ends or the token expires."""
    while True:
        if sub.ended:
            close, message, code = END_REASONS.get(sub.ended, (None, "订阅已结束", "FORBIDDEN"))
            await _end(context, close, message, code)
        if sub.queue:
            return sub.queue.popleft()
        sub.wake.clear()
        remaining = (context.token_expires or time.time() + 3600) - time.time()
        if remaining <= 0:
            await _end(context, UNAUTHORIZED_CLOSE, "登录已过期", "UNAUTHENTICATED")
        with contextlib.suppress(TimeoutError):
            # asyncio.timeout, not wait_for: no extra task per idle subscription, no lost cancel on 3.11.
            async with asyncio.timeout(min(remaining, 60)):
                await sub.wake.wait()


async def _end(context: Context, close: int | None, message: str, code: str) -> NoReturn:
    """End the subscription: close the socket when the connection itself is done, else send an error.

    A closed socket is what graphql-ws clients act on. strawberry cancels this operation once it sees
    the disconnect, so after closing we only wait: a reply sent on a closed socket would just fail.
    """
    websocket = context.request
    if close is not None and isinstance(websocket, WebSocket):
        await close_socket(websocket, close, message)
        await asyncio.sleep(SOCKET_CLOSE_GRACE)
    raise GraphQLError(message, extensions={"code": code})


async def close_socket(websocket: WebSocket, code: int, reason: str) -> None:
    """Close a socket unless it is closed already (by another subscription on it, or by the client)."""
    if websocket.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code=code, reason=reason)


_closing: set[asyncio.Task[None]] = set()


def close_socket_at_expiry(websocket: WebSocket, expires: int) -> None:
    """Rule 5: an expired token ends its socket (4401), whether or not it has subscriptions.

    The timer holds the socket weakly, so a socket that closed earlier is not kept alive until then.
    """
    delay = max(0.0, expires - time.time())
    asyncio.get_running_loop().call_later(delay, _expire, weakref.ref(websocket))


def _expire(ref: weakref.ref[WebSocket]) -> None:
    socket = ref()
    if socket is not None and socket.application_state is WebSocketState.CONNECTED:
        task = asyncio.ensure_future(close_socket(socket, UNAUTHORIZED_CLOSE, "登录已过期"))
        _closing.add(task)  # the loop holds tasks weakly
        task.add_done_callback(_closing.discard)


async def _push_of(context: Context, event: SequencedEvent) -> DecisionPush | None:
    push_id = event.payload.get("pushId")
    row = await context.loaders.push.load(int(push_id)) if push_id else None
    return DecisionPush(row=row) if row else None


async def _record_payload(context: Context, event: SequencedEvent) -> RecordEventPayload | None:
    """Any other event: its subject through the node loaders (so with their visibility), and its obligation."""
    subject = await load_node(context, event.subject_type, event.subject_id)
    obligation_id = event.payload.get("obligationId")
    row = await context.loaders.of(ObligationRow).load(int(obligation_id)) if obligation_id else None
    viewer = context.require_user()
    deadline = Obligation(row=row) if row and can_see_obligation(viewer, row) else None
    if subject is None and deadline is None:
        return None
    facts = {k: v for k, v in event.payload.items() if not k.endswith("Id")}
    return RecordEventPayload(subject=subject, deadline=deadline, detail=cast(JSON, facts))


# Events whose payload is made of the event alone, with no row read and nothing about the viewer:
# an operation's frame for one of them is the same for every viewer allowed to receive it.
SAME_FOR_EVERY_VIEWER = frozenset({EventKind.CALENDAR_CHANGED.value})


async def _payload_of(
    context: Context, event: SequencedEvent
) -> PushEventPayload | DecisionEventPayload | CalendarEventPayload | RecordEventPayload | None:
    """The union member for an event: its push, the decision, the calendar year, or the record it is about."""
    if event.kind == EventKind.CALENDAR_CHANGED.value:
        return CalendarEventPayload(year=event.subject_id, moved_deadlines=int(event.payload.get("moved", 0)))
    if event.kind in PUSH_KINDS or (event.kind == EventKind.DEADLINE_MOVED.value and "pushId" in event.payload):
        push = await _push_of(context, event)
        return PushEventPayload(push=push) if push else None
    if event.kind == EventKind.DECISION_STATUS_CHANGED.value:
        decision_id = event.payload.get("decisionId", event.subject_id)
        row = await context.loaders.decision.load(int(decision_id))
        return DecisionEventPayload(decision=ApprovalDecision(row=row)) if row else None
    return await _record_payload(context, event)


async def decision_pushed_value(context: Context, event: SequencedEvent) -> DecisionPushedEvent | None:
    """What `decisionPushed` yields for an event (None: nothing to send)."""
    push = await _push_of(context, event)
    return DecisionPushedEvent(cursor=str(event.seq), push=push) if push else None


async def platform_event_value(context: Context, event: SequencedEvent) -> PlatformEvent | None:
    """What `events` yields for an event (None: nothing to send)."""
    payload = await _payload_of(context, event)
    if payload is None:
        return None
    return PlatformEvent(cursor=str(event.seq), kind=PlatformEventKind(event.kind), payload=payload)


def fresh(context: Context) -> Context:
    """The socket's context with fresh loaders: a socket lives long, rows change between events."""
    return dataclasses.replace(context, loaders=Loaders())


PUSHED_KINDS = frozenset({EventKind.PUSH_CREATED.value})


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every push addressed to the viewer's department, in order, as it happens.")
    async def decision_pushed(
        self, info: Info, after: str | None = strawberry.UNSET
    ) -> AsyncGenerator[DecisionPushedEvent]:
        async for event in event_stream(info.context, after, PUSHED_KINDS):
            info.context.loaders = Loaders()  # nested fields read these: fresh rows for every event
            if value := await decision_pushed_value(info.context, event):
                yield value

    @strawberry.subscription(description="Every event the viewer may see, optionally of some kinds only.")
    async def events(
        self,
        info: Info,
        after: str | None = strawberry.UNSET,
        kinds: list[PlatformEventKind] | None = strawberry.UNSET,
    ) -> AsyncGenerator[PlatformEvent]:
        wanted = frozenset(k.value for k in kinds) if kinds else None
        async for event in event_stream(info.context, after, wanted):
            info.context.loaders = Loaders()  # nested fields read these: fresh rows for every event
            if value := await platform_event_value(info.context, event):
                yield value
