"""Abuse limits: request size, query cost, request rate, introspection, origins and socket counts.

Every limit answers with a readable error naming what was exceeded and by how much, so an
honest client can adjust; none of them ever shows up as a masked crash. The settings are in
models.settings.Limits and documented in README.md ("Limits").
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
)
from graphql.utilities import get_operation_ast
from redis.exceptions import NoScriptError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api.graphql.base import DEFAULT_PAGE, MAX_PAGE
from api.http import error_body

if TYPE_CHECKING:
    from api.context import Context

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Request body size


class BodyTooLarge(Exception):
    """The body grew past the limit while it was being read."""


class BodyLimit:
    """ASGI middleware: an HTTP body over `max_bytes` gets a 413 with a JSON error, never reaching the app.

    A declared Content-Length is checked before anything is read; a chunked body is counted as
    it arrives (the GraphQL view reads the whole body before answering, so no response has
    started when the limit trips).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # An evidence file arrives as a multipart request: its own limit (the file's, plus the form).
        self.upload_bytes = max(max_bytes, upload_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if _is_multipart(scope) else self.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            error_body("PAYLOAD_TOO_LARGE", f"请求体过大：不得超过 {self.max_bytes} 字节", limit=self.max_bytes),
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _is_multipart(scope: Scope) -> bool:
    return any(
        name == b"content-type" and value.lower().startswith(b"multipart/form-data")
        for name, value in scope.get("headers", [])
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# --------------------------------------------------------------------------------------------
# Query cost


def query_cost(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None
) -> int:
    """What an operation may cost: one per field, children multiplied by the page size of their list.

    A field with a `first` argument (a connection) multiplies its selection by `first` (default
    20, at most the largest page); a plain list of objects counts as a default page; the
    `edges` of a connection count once more only by the connection's own size. Aliases and
    fragments count each time they are used, as the executor would run them.
    """
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _cost(schema, operation.selection_set, root, fragments, variables or {}, ())


def _cost(
    schema: GraphQLSchema,
    selection_set: SelectionSetNode,
    parent: Any,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    seen: tuple[str, ...],
) -> int:
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += _field_cost(schema, selection, parent, fragments, variables, seen)
        elif isinstance(selection, InlineFragmentNode):
            target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
            total += _cost(schema, selection.selection_set, target or parent, fragments, variables, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:  # validation reports both; never loop here
                continue
            target = schema.get_type(fragment.type_condition.name.value) or parent
            total += _cost(schema, fragment.selection_set, target, fragments, variables, (*seen, name))
    return total


def _field_cost(
    schema: GraphQLSchema,
    node: FieldNode,
    parent: Any,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    seen: tuple[str, ...],
) -> int:
    fields = getattr(parent, "fields", None) or {}
    definition = fields.get(node.name.value)
    if definition is None or node.selection_set is None:
        return 1  # a leaf, a meta field (__typename, __schema) or an unknown field validation rejects
    child_type = get_named_type(definition.type)
    if not is_composite_type(child_type):
        return 1
    children = _cost(schema, node.selection_set, child_type, fragments, variables, seen)
    return 1 + _multiplier(node, definition, parent, variables) * children


def _multiplier(node: FieldNode, definition: Any, parent: Any, variables: dict[str, Any]) -> int:
    if "first" in definition.args:
        return _page(node, variables)
    if is_list_type(get_nullable_type(definition.type)):
        return 1 if parent.name.endswith("Connection") else DEFAULT_PAGE
    return 1


def _page(node: FieldNode, variables: dict[str, Any]) -> int:
    """The `first` a field asks for, as the resolver will read it (bad values are its own error)."""
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        raw: Any = None
        if isinstance(value, IntValueNode):
            raw = value.value
        elif isinstance(value, VariableNode):
            raw = variables.get(value.name.value)
        try:
            return min(max(int(raw), 0), MAX_PAGE) if raw is not None else DEFAULT_PAGE
        except (TypeError, ValueError):
            return DEFAULT_PAGE
    return DEFAULT_PAGE


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"查询过于复杂：估算成本 {cost} 超过上限 {limit}，请减少嵌套或每页条数（first）",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit},
    )


# --------------------------------------------------------------------------------------------
# Request rate: a token bucket per user (or per address when anonymous), kept in Redis

# Redis' own clock keeps every API process on the same time line.
TOKEN_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / per_ms)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_ms) + 1000)
return wait
"""
TOKEN_BUCKET_SHA = hashlib.sha1(TOKEN_BUCKET.encode()).hexdigest()
RATE_KEY = "shenguan:rate:{}"
REDIS_BUDGET_SECONDS = 0.5
SKIP_AFTER_FAILURE_SECONDS = 5.0  # after Redis failed, do not make every request wait for it again
_last_warning = [0.0]
_skip_until = [0.0]


def rate_key(context: Context) -> str:
    user = context.user
    return RATE_KEY.format(f"user:{user.id}" if user is not None else f"addr:{context.address}")


async def wait_before_next(redis: aioredis.Redis, key: str, per_minute: int) -> float:
    """Take one token; 0 when allowed, else the seconds until a token is back.

    Redis unreachable or slow: allowed (fail open), with a warning at most once a minute, and
    Redis is not asked again for a few seconds — the limit protects the platform, it must not
    become the outage.
    """
    if time.monotonic() < _skip_until[0]:
        return 0.0
    try:
        waited_ms = await asyncio.wait_for(_take(redis, key, per_minute), REDIS_BUDGET_SECONDS)
    except Exception as error:  # any Redis failure, including a timeout
        now = time.monotonic()
        _skip_until[0] = now + SKIP_AFTER_FAILURE_SECONDS
        if now - _last_warning[0] > 60:
            _last_warning[0] = now
            log.warning("限流暂不可用（Redis：%s），请求放行", type(error).__name__)
        return 0.0
    return float(waited_ms) / 1000


async def _take(redis: aioredis.Redis, key: str, per_minute: int) -> int:
    """The script by its digest; sent in full only when this Redis has not seen it (or forgot it)."""
    args = (key, str(per_minute), repr(per_minute / 60_000))
    try:
        return int(await redis.evalsha(TOKEN_BUCKET_SHA, 1, *args))  # type: ignore[misc]
    except NoScriptError:
        return int(await redis.eval(TOKEN_BUCKET, 1, *args))  # type: ignore[misc]


def rate_limited(wait: float) -> GraphQLError:
    seconds = max(1, int(wait + 0.999))
    return GraphQLError(
        f"请求过于频繁，请 {seconds} 秒后再试",
        extensions={"code": "RATE_LIMITED", "retryAfter": seconds},
    )


# --------------------------------------------------------------------------------------------
# Introspection and suggestions: for signed-in users only

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
SUGGESTION = re.compile(r"\s*Did you mean .*\?\s*$", re.DOTALL)


def asks_introspection(document: DocumentNode) -> bool:
    """Whether any selection (fragments included) asks for __schema or __type."""
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode) and node.name.value in INTROSPECTION_FIELDS:
            return True
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return False


def without_suggestion(error: GraphQLError) -> GraphQLError:
    """The same error without graphql-core's "Did you mean …?" (which spells out the schema)."""
    message = SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


def introspection_refused() -> GraphQLError:
    return GraphQLError("请先登录：未登录不能查询接口结构", extensions={"code": "UNAUTHENTICATED"})


# --------------------------------------------------------------------------------------------
# The schema extension that applies the per-operation limits


class OperationGuard(SchemaExtension):
    """Before execution: introspection (signed-in only), the rate limit, then the cost limit.

    After the operation: an anonymous caller's errors lose their "Did you mean" suggestions.
    Validation results are cached per document for everyone, so these per-caller rules live
    here rather than in validation rules.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        document = self.execution_context.graphql_document
        if document is not None and hasattr(context, "services"):
            refusal = await check_operation(context, document, self.execution_context)
            if refusal is not None:
                self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if getattr(context, "user", True) is not None:
            return
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [without_suggestion(e) for e in errors]


async def check_operation(context: Context, document: DocumentNode, execution: Any) -> GraphQLError | None:
    """The first limit the operation breaks, or None."""
    limits = context.settings.limits
    if context.user is None and asks_introspection(document):
        return introspection_refused()
    if limits.rate_limit_per_minute:
        wait = await wait_before_next(context.services.redis, rate_key(context), limits.rate_limit_per_minute)
        if wait > 0:
            error = rate_limited(wait)
            _tell_http(context, 429, {"Retry-After": str((error.extensions or {})["retryAfter"])})
            return error
    cost = query_cost(execution.schema._schema, document, execution.operation_name, execution.variables)
    if cost > limits.max_query_cost:
        return too_costly(cost, limits.max_query_cost)
    return None


def _tell_http(context: Context, status: int, headers: dict[str, str]) -> None:
    """Status and headers for an HTTP response (a WebSocket has none to set)."""
    response = context.response
    if not isinstance(response, Response):
        return
    response.status_code = status
    response.headers.update(headers)


# --------------------------------------------------------------------------------------------
# WebSockets: how many one account may hold (which origins may open one: strawberry's allowed_origins)


class SocketRegistry:
    """The open, acknowledged WebSockets of each account in this process."""

    def __init__(self) -> None:
        self._by_user: dict[int, set[int]] = {}
        self._owner: dict[int, int] = {}

    def admit(self, user_id: int, socket: object, limit: int) -> bool:
        held = self._by_user.setdefault(user_id, set())
        if len(held) >= limit:
            return False
        held.add(id(socket))
        self._owner[id(socket)] = user_id
        return True

    def release(self, socket: object) -> None:
        user_id = self._owner.pop(id(socket), None)
        if user_id is None:
            return
        held = self._by_user.get(user_id, set())
        held.discard(id(socket))
        if not held:
            self._by_user.pop(user_id, None)

    def count(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))


TOO_MANY_CONNECTIONS_CODE = 4029


def too_many_connections(limit: int) -> str:
    return f"同一账号的实时连接数已达上限（{limit}），请先关闭其他连接"


def too_many_subscriptions(limit: int) -> GraphQLError:
    return GraphQLError(
        f"每个连接最多 {limit} 个订阅，请先结束不再需要的订阅",
        extensions={"code": "TOO_MANY_SUBSCRIPTIONS", "limit": limit},
    )
