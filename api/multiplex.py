"""Shared execution for live subscriptions (the cost rule of the live-delivery design).

Subscribers whose operation has the same text, the same variables (the resume cursor aside) and
the same permission scope (department and roles) receive the same frame for an event. The first
of them to reach an event executes the selection and serialises the payload; the others await
that result and only prepend their own operation id. Replay after a cursor goes through the same
path, so a resuming client gets exactly what a live one would.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, SubscribeMessage

from api.context import Context
from api.graphql.schema import LIMIT_RULES, MASKED_MESSAGE, MAX_TOKENS, is_unexpected, schema
from api.graphql.subscription import (
    PUSHED_KINDS,
    decision_pushed_value,
    event_stream,
    fresh,
    platform_event_value,
)
from api.limits import TOO_MANY_CONNECTIONS_CODE, query_cost, too_costly, too_many_connections, too_many_subscriptions
from models.event import SequencedEvent

FRAME_CACHE_SIZE = 4096
PLAN_CACHE_SIZE = 256
ValueOf = Callable[[Context, SequencedEvent], Awaitable[Any]]
VALUES: dict[str, ValueOf] = {"decisionPushed": decision_pushed_value, "events": platform_event_value}


@dataclass(frozen=True)
class Plan:
    """A parsed, validated live subscription with a single root field we know how to serve."""

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
    return Plan(document=document, operation=chosen[0], field=field)


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

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.context.services.sockets.release(self)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """After a good init, one account may hold only so many sockets (in this process)."""
        await super().handle_connection_init(message)
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

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        multiplexer: Multiplexer = self.context.services.multiplexer
        plan = multiplexer.plan(operation.query, operation.operation_name)
        if plan is None:
            await super().run_operation(operation)
            return
        try:
            await self._serve(multiplexer, plan, operation)
        except GraphQLError as error:
            await self._send_next(
                operation,
                json.dumps({"data": None, "errors": [_formatted(error)]}, ensure_ascii=False, separators=(",", ":")),
            )
        await operation.send_operation_message({"id": operation.id, "type": "complete"})

    async def _serve(self, multiplexer: Multiplexer, plan: Plan, operation: Operation[Context, None]) -> None:
        context = self.context
        user = context.require_user()
        args = plan.arguments(operation.variables)
        cost = query_cost(schema._schema, plan.document, operation.operation_name, operation.variables)
        if cost > context.settings.limits.max_query_cost:
            raise too_costly(cost, context.settings.limits.max_query_cost)
        kinds = PUSHED_KINDS if plan.field_name == "decisionPushed" else _kinds(args.get("kinds"))
        shared_vars = {k: v for k, v in (operation.variables or {}).items() if k != "after"}
        group = (
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

        async for event in event_stream(context, args.get("after"), kinds):
            frame = await multiplexer.frame((*group, event.seq), lambda e=event: compute(e))  # type: ignore[misc]
            if frame is not None:
                await self._send_next(operation, frame)

    async def _send_next(self, operation: Operation[Context, None], payload: str) -> None:
        if operation.completed:
            return
        await self.websocket.ws.send_text(  # type: ignore[attr-defined]
            '{"id":' + json.dumps(operation.id) + ',"type":"next","payload":' + payload + "}"
        )


def _kinds(value: Any) -> frozenset[str] | None:
    if not value:
        return None
    return frozenset(getattr(k, "value", k) for k in value)
