"""Shared execution for live subscriptions (the cost rule of the live-delivery design).

Subscribers whose operation has the same text, the same variables (the resume cursor aside) and
the same permission scope (department and roles) form a group, and receive the same frame for an
event. A subscription replays after its cursor in its own task (through the same frame cache, so
a resuming client gets exactly what a live one would), then joins its group and its task ends.
For each event the group executes the selection once, serialises it once, and writes it to every
member's socket in one pass, each with its own operation id spliced in front.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values
from starlette.websockets import WebSocketDisconnect
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, SubscribeMessage

from api import hub
from api.context import Context
from api.graphql.schema import LIMIT_RULES, MASKED_MESSAGE, MAX_TOKENS, is_unexpected, schema
from api.graphql.subscription import (
    END_REASONS,
    PUSHED_KINDS,
    SAME_FOR_EVERY_VIEWER,
    close_socket,
    decision_pushed_value,
    fresh,
    opening,
    platform_event_value,
    subscriber_for,
)
from api.hub import Hub, Scope
from api.limits import TOO_MANY_CONNECTIONS_CODE, query_cost, too_costly, too_many_connections, too_many_subscriptions
from api.metrics import EVENTS_DELIVERED
from models.event import SequencedEvent

log = logging.getLogger(__name__)

FRAME_CACHE_SIZE = 4096
PLAN_CACHE_SIZE = 256
ValueOf = Callable[[Context, SequencedEvent], Awaitable[Any]]
Compute = Callable[[SequencedEvent], Awaitable[str | None]]
GroupKey = tuple[Any, ...]  # the operation (text, name, variables), then the permission scope
OPERATION_PART = 3
# What sending on a socket the client already closed raises, at each layer (uvicorn, starlette).
SOCKET_GONE = (OSError, RuntimeError, WebSocketDisconnect)
VALUES: dict[str, ValueOf] = {"decisionPushed": decision_pushed_value, "events": platform_event_value}


@dataclass(frozen=True)
class Plan:
    """A parsed, validated live subscription with a single root field we know how to serve."""

    query: str
    document: DocumentNode
    operation: OperationDefinitionNode
    field: FieldNode

    @property
    def field_name(self) -> str:
        return self.field.name.value

    def arguments(self, variables: dict[str, Any] | None) -> dict[str, Any]:
        """The root field's arguments, coerced as graphql-core would; raises GraphQLError when invalid."""
        gql_schema = schema._schema
        coerced = get_variable_values(gql_schema, self.operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            raise coerced[0]
        subscription_type = gql_schema.subscription_type
        assert subscription_type is not None
        return get_argument_values(subscription_type.fields[self.field_name], self.field, coerced)


class Multiplexer:
    """Plans per operation text, and one shared frame per (group, event)."""

    def __init__(self) -> None:
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()
        self._frames: OrderedDict[tuple[Any, ...], asyncio.Future[str | None]] = OrderedDict()
        self.groups: dict[GroupKey, Group] = {}
        self.executions = 0  # how many times a selection ran; the benchmark reads it

    def plan(self, query: str, operation_name: str | None) -> Plan | None:
        """A plan when the operation is one of our live subscriptions, else None (strawberry serves it)."""
        key = (query, operation_name)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        plan = _make_plan(query, operation_name)
        self._plans[key] = plan
        if len(self._plans) > PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan

    async def frame(self, key: tuple[Any, ...], compute: Callable[[], Awaitable[str | None]]) -> str | None:
        """The serialised `next` payload for a group and an event, computed once."""
        future = self._frames.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._frames[key] = future
            if len(self._frames) > FRAME_CACHE_SIZE:
                self._frames.popitem(last=False)
            try:
                self.executions += 1
                future.set_result(await compute())
            except BaseException as error:
                self._frames.pop(key, None)
                future.set_exception(error)
                future.exception()  # retrieved: the waiters see it, the loop does not log it
                raise
        return await asyncio.shield(future)

    def group(self, key: GroupKey, scope: Scope, compute: Compute, events: Hub) -> Group:
        """The shared delivery of one operation and permission scope, offered its department's events."""
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(self, key, scope, compute, events)
            events.attach(group)
        return group

    def disband(self, group: Group) -> None:
        if self.groups.get(group.key) is group:
            del self.groups[group.key]
        group.hub.detach(group)


class Group:
    """Live subscribers of one operation and permission scope: one frame per event, one pass over sockets.

    Idle, a group costs no task: one runs only while events wait, computes each event's frame once
    and hands it to every member in a single pass, in cursor order.
    """

    __slots__ = ("compute", "events", "hub", "key", "members", "multiplexer", "running", "scope")

    def __init__(self, multiplexer: Multiplexer, key: GroupKey, scope: Scope, compute: Compute, events: Hub) -> None:
        self.multiplexer = multiplexer
        self.key = key
        self.scope = scope
        self.compute = compute
        self.hub = events
        self.members: set[Member] = set()
        self.events: deque[SequencedEvent] = deque()
        self.running = False

    @property
    def department_id(self) -> int:
        return self.scope.department_id

    def offer(self, event: SequencedEvent) -> None:
        """The hub's call for each event of the department: filtered once here for every member."""
        if not self.scope.may_see(event):
            return
        self.events.append(event)
        if not self.running:
            self.running = True
            spawn(self._deliver())

    def remove(self, member: Member) -> None:
        self.members.discard(member)
        if not self.members:
            self.multiplexer.disband(self)

    async def _deliver(self) -> None:
        try:
            while self.events:
                event = self.events.popleft()
                frame = await self.multiplexer.frame(frame_key(self.key, event), partial(self.compute, event))
                if frame is None:
                    continue
                members = list(self.members)
                for member in members:
                    member.deliver(event.seq, frame)
                EVENTS_DELIVERED.inc(len(members))
        except Exception:  # the database may be away: the members resume from their cursor elsewhere or later
            log.exception("实时事件推送失败")
            self.events.clear()
            for member in list(self.members):
                member.end("DELIVERY_FAILED")
        finally:
            self.running = False


class Member:
    """A subscription past its replay: its group's frames go straight to its socket.

    A write nearly always completes at once; when the socket's buffer is full the frames wait in a
    bounded backlog, drained by a task that exists only then, and a backlog that overflows ends the
    subscription with RESYNC_REQUIRED, as the per-subscriber queue does.
    """

    __slots__ = ("_backlog", "group", "handler", "head", "last", "operation", "user_id")

    def __init__(
        self, handler: MultiplexingHandler, operation: Operation[Context, None], group: Group, last: int
    ) -> None:
        self.handler = handler
        self.operation = operation
        self.group: Group | None = group
        self.user_id = handler.context.require_user().id
        self.last = last
        self.head = _next_head(operation.id)
        self._backlog: deque[str] | None = None

    def deliver(self, seq: int, frame: str) -> None:
        if seq <= self.last:
            return  # seen during its replay
        self.last = seq
        message = self.head + frame + "}"
        if self._backlog is not None:
            if len(self._backlog) >= hub.QUEUE_SIZE:
                self.end("RESYNC_REQUIRED")
            else:
                self._backlog.append(message)
            return
        try:
            rest = started(self.handler.send_text(message))
        except SOCKET_GONE:
            return  # the client left; the handler's shutdown removes this member
        if rest is not None:
            self._backlog = deque()
            spawn(self._drain(rest))

    async def _drain(self, rest: Awaitable[None]) -> None:
        try:
            await rest
            while self._backlog:
                await self.handler.send_text(self._backlog.popleft())
        except SOCKET_GONE:
            pass
        finally:
            self._backlog = None

    def leave(self) -> None:
        if self.group is not None:
            self.group.remove(self)
            self.group.hub.unwatch(self)
            self.group = None

    def end(self, reason: str) -> None:
        """The hub's call when access changes or the process stops; a group's when it cannot go on."""
        if self.group is None:
            return
        self.leave()
        if self._backlog:
            self._backlog.clear()
        spawn(self.handler.end_operation(self.operation, reason))


def frame_key(key: GroupKey, event: SequencedEvent) -> tuple[Any, ...]:
    """Which frame an event gets: one per operation and permission scope, or one per operation when
    the event's payload is the same for every viewer (a broadcast then costs one execution)."""
    if event.kind in SAME_FOR_EVERY_VIEWER:
        return (*key[:OPERATION_PART], event.seq)
    return (*key, event.seq)


def started(send: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
    """Run a coroutine up to its first wait: None when it finished there, else what is left of it.

    A write to a socket with room in its buffer never waits, so thousands of them take one pass
    and no task; only a write that must wait for the buffer to drain is left for a task to finish.
    """
    try:
        waiting_on = send.send(None)
    except StopIteration:
        return None
    return _Rest(send, waiting_on)


class _Rest:
    """The rest of a coroutine already run up to `waiting_on`: awaiting it resumes the coroutine there."""

    __slots__ = ("coroutine", "waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self.coroutine = coroutine
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        value = self.waiting_on
        while True:
            try:
                try:
                    sent = yield value
                except BaseException as error:  # a cancel, for one: the coroutine decides what it means
                    value = self.coroutine.throw(error)
                else:
                    value = self.coroutine.send(sent)
            except StopIteration:
                return


_running: set[asyncio.Task[None]] = set()


def spawn(work: Coroutine[Any, Any, None]) -> None:
    """A background task held until it ends (the loop holds tasks weakly)."""
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(_running.discard)


def _make_plan(query: str, operation_name: str | None) -> Plan | None:
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None  # strawberry's own path reports it, with its limits
    if validate(schema._schema, document, [*specified_rules, *LIMIT_RULES]):
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if len(chosen) != 1 or chosen[0].operation is not OperationType.SUBSCRIPTION:
        return None
    selections = chosen[0].selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    field = selections[0]
    if field.name.value not in VALUES or field.directives:
        return None
    return Plan(query=query, document=document, operation=chosen[0], field=field)


def _payload_json(result: Any) -> str | None:
    if result.data is None and not result.errors:
        return None
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [_formatted(e) for e in result.errors]
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _formatted(error: GraphQLError) -> dict[str, Any]:
    """Resolver crashes are masked as everywhere else; expected errors stay readable."""
    if is_unexpected(error):
        return dict(GraphQLError(MASKED_MESSAGE, nodes=error.nodes, path=error.path).formatted)
    return dict(error.formatted)


class MultiplexingHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with our live subscriptions served from shared frames, and socket limits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members: dict[str, Member] = {}  # operation id → its place in a shared delivery, once live

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.context.services.sockets.release(self)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """After a good init, one account may hold only so many sockets (in this process)."""
        await super().handle_connection_init(message)
        # Done with both: the socket lives for hours, and a finished task or a read token is memory.
        self.connection_init_timeout_task = None
        self.context.connection_params = None
        user = self.context.user
        if not self.connection_acknowledged or user is None:
            return
        limit = self.context.settings.limits.max_connections_per_user
        if not self.context.services.sockets.admit(user.id, self, limit):
            await self.websocket.close(code=TOO_MANY_CONNECTIONS_CODE, reason=too_many_connections(limit))

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.context.settings.limits.max_subscriptions_per_connection
        if self.connection_acknowledged and message["id"] not in self.operations and len(self.operations) >= limit:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [too_many_subscriptions(limit).formatted]}
            )
            return
        await super().handle_subscribe(message)

    async def cleanup_operation(self, operation_id: str) -> None:
        member = self.members.pop(operation_id, None)
        if member is None:
            await super().cleanup_operation(operation_id)
            return
        member.leave()
        self.operations.pop(operation_id, None)  # its task ended with the replay: nothing to cancel

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Replay in this task, then hand the subscription to its group: no task stays per subscription."""
        multiplexer: Multiplexer = self.context.services.multiplexer
        plan = multiplexer.plan(operation.query, operation.operation_name)
        if plan is None:
            await super().run_operation(operation)
            return
        operation.query = plan.query  # one copy of the text for every subscription to it
        try:
            await self._serve(multiplexer, plan, operation)
        except GraphQLError as error:
            await self._fail(operation, error)

    async def _serve(self, multiplexer: Multiplexer, plan: Plan, operation: Operation[Context, None]) -> None:
        context = self.context
        user = context.require_user()
        args = plan.arguments(operation.variables)
        cost = query_cost(schema._schema, plan.document, operation.operation_name, operation.variables)
        if cost > context.settings.limits.max_query_cost:
            raise too_costly(cost, context.settings.limits.max_query_cost)
        kinds = PUSHED_KINDS if plan.field_name == "decisionPushed" else _kinds(args.get("kinds"))
        shared_vars = {k: v for k, v in (operation.variables or {}).items() if k != "after"}
        key = (
            operation.query,
            operation.operation_name,
            json.dumps(shared_vars, sort_keys=True, default=str),
            user.department_id,
            tuple(sorted(user.roles)),
        )
        value_of = VALUES[plan.field_name]

        async def compute(event: SequencedEvent) -> str | None:
            local = fresh(context)
            value = await value_of(local, event)
            if value is None:
                return None
            result = execute(
                schema._schema,
                plan.document,
                root_value=value,
                context_value=local,
                variable_values=operation.variables,
                operation_name=operation.operation_name,
            )
            if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
                result = await result
            return _payload_json(result)

        sub = subscriber_for(user, kinds)
        try:
            async for event in opening(context, sub, args.get("after")):
                frame = await multiplexer.frame(frame_key(key, event), partial(compute, event))
                if frame is not None:
                    await self._send_next(operation, frame)
        finally:
            context.services.hub.unregister(sub)
        # Nothing awaited since the queue was last seen empty: every later event reaches the group.
        group = multiplexer.group(key, sub.scope, compute, context.services.hub)
        member = self.members[operation.id] = Member(self, operation, group, sub.last)
        group.members.add(member)
        context.services.hub.watch(member)
        operation.task = None  # this task ends now; the finished task need not stay with the socket

    async def end_operation(self, operation: Operation[Context, None], reason: str) -> None:
        """A live subscription ended by the hub: the socket closes, or the operation ends with an error."""
        self.members.pop(operation.id, None)
        if self.operations.get(operation.id) is not operation:
            return  # the client completed it meanwhile
        close, message, code = END_REASONS.get(reason, (None, "订阅已结束", "FORBIDDEN"))
        if close is not None:
            await close_socket(self.websocket.ws, close, message)  # type: ignore[attr-defined]
        else:
            await self._fail(operation, GraphQLError(message, extensions={"code": code}))

    async def _fail(self, operation: Operation[Context, None], error: GraphQLError) -> None:
        with contextlib.suppress(*SOCKET_GONE):
            await self._send_next(
                operation,
                json.dumps({"data": None, "errors": [_formatted(error)]}, ensure_ascii=False, separators=(",", ":")),
            )
            await operation.send_operation_message({"id": operation.id, "type": "complete"})

    def send_text(self, text: str) -> Coroutine[Any, Any, None]:
        return self.websocket.ws.send_text(text)  # type: ignore[attr-defined,no-any-return]

    async def _send_next(self, operation: Operation[Context, None], payload: str) -> None:
        if operation.completed:
            return
        await self.send_text(_next_head(operation.id) + payload + "}")


def _next_head(operation_id: str) -> str:
    """A `next` message up to its payload: the payload (already JSON) and a closing brace follow."""
    return '{"id":' + json.dumps(operation_id) + ',"type":"next","payload":'


def _kinds(value: Any) -> frozenset[str] | None:
    if not value:
        return None
    return frozenset(getattr(k, "value", k) for k in value)
