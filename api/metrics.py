"""Prometheus metrics of the API process, the /metrics endpoint and the request middleware.

Counters and histograms move as things happen; backlog gauges (pushes pending and overdue per
department level, arq queue depth, live subscriptions) are computed when Prometheus scrapes.
/metrics answers only a configured network or the configured bearer token (403 otherwise).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api.collector import CHURN
from api.http import error_response
from api.logs import request_fields
from models.calendar import SHANGHAI
from models.operations import push_backlog
from models.settings import Settings
from workers.metrics import LAG_BUCKETS, queue_depth

log = logging.getLogger("shenguan.requests")

GRAPHQL_REQUESTS = Counter(
    "shenguan_graphql_requests_total", "GraphQL operations, by operation name and outcome", ["operation", "outcome"]
)
GRAPHQL_LATENCY = Histogram(
    "shenguan_graphql_request_duration_seconds",
    "GraphQL operation time, by operation name and outcome",
    ["operation", "outcome"],
)
HTTP_REQUESTS = Counter("shenguan_http_requests_total", "HTTP requests, by route and status", ["route", "status"])
HTTP_IN_PROGRESS = Gauge("shenguan_http_requests_in_progress", "HTTP requests being served by this process")
WEBSOCKETS_OPEN = Gauge("shenguan_websocket_connections", "Open WebSocket connections on this process")
SUBSCRIPTIONS_ACTIVE = Gauge("shenguan_subscriptions_active", "Live subscriptions on this process")
EVENTS_DELIVERED = Counter("shenguan_events_delivered_total", "Events queued to a subscription on this process")
PUBLISH_DELIVERY_LAG = Histogram(
    "shenguan_event_publish_delivery_lag_seconds",
    "From an event's publication to its arrival at this process's hub",
    buckets=LAG_BUCKETS,
)
QUEUE_DEPTH = Gauge("shenguan_arq_queue_depth", "Jobs waiting in the arq queue (deferred wake-ups included)")
PUSHES_PENDING = Gauge("shenguan_pushes_pending", "Unclaimed pushes, by department level", ["level"])
PUSHES_OVERDUE = Gauge("shenguan_pushes_overdue", "Unclaimed pushes past their claim deadline", ["level"])
SCRAPE_ERRORS = Counter("shenguan_metrics_scrape_errors_total", "Scrape-time gauges that could not be read", ["source"])

# Operation names come from clients: bound the label values Prometheus has to keep.
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 200
_seen_operations: set[str] = set()
KNOWN_ROUTES = ("/graphql", "/healthz", "/readyz", "/metrics")
QUIET_ROUTES = ("/healthz", "/readyz", "/metrics")  # probes and scrapes: logged at DEBUG only
SCRAPE_QUERY_SECONDS = 3.0
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def operation_label(name: str | None) -> str:
    """The label for an operation name: the name itself, `anonymous`, `invalid`, or `other` past the cap."""
    if not name:
        return "anonymous"
    if not OPERATION_NAME.fullmatch(name):
        return "invalid"
    if name not in _seen_operations:
        if len(_seen_operations) >= MAX_OPERATION_NAMES:
            return "other"
        _seen_operations.add(name)
    return name


def observe_delivery_lag(stamp: bytes | None) -> None:
    """The publication stamp of a stream entry, as it reaches this process."""
    if stamp:
        try:
            PUBLISH_DELIVERY_LAG.observe(max(0.0, time.time() - float(stamp)))
        except ValueError:
            return


def outcome_of(result: Any) -> str:
    """`error` for GraphQL errors, `user_error` when a payload lists errors, else `ok`."""
    if result is None or getattr(result, "errors", None):
        return "error"
    data = getattr(result, "data", None)
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict) and value.get("errors"):
                return "user_error"
    return "ok"


class OperationMetrics(SchemaExtension):
    """Counts, times and logs every GraphQL operation (one line each), by name and outcome."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        ctx = self.execution_context
        name = ctx.operation_name
        outcome = outcome_of(ctx.result)
        label = operation_label(name)
        GRAPHQL_REQUESTS.labels(label, outcome).inc()
        GRAPHQL_LATENCY.labels(label, outcome).observe(elapsed)
        user = getattr(ctx.context, "user", None)
        fields = {
            "operation": name or "anonymous",
            "operation_type": ctx.operation_type.value if ctx.operation_type else None,
            "user_id": user.id if user else None,
            "department_id": user.department_id if user else None,
        }
        shared = request_fields.get()
        if shared is not None:  # the HTTP request's own line names the operation and the user too
            shared.update({k: v for k, v in fields.items() if v is not None})
        log.info(
            "graphql %s %s",
            fields["operation"],
            outcome,
            extra={**fields, "duration_ms": round(elapsed * 1000, 1), "outcome": outcome},
        )


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            given = value.decode("latin-1").strip()
            if REQUEST_ID.fullmatch(given):
                return str(given)
    # URL-safe base64 rather than hex: a long run of digits could look like a phone number to the log mask.
    return secrets.token_urlsafe(16)


class RequestContextMiddleware:
    """Request id (X-Request-ID, made when absent, echoed back), one log line per request, socket counts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        fields: dict[str, Any] = {"request_id": request_id}
        token = request_fields.set(fields)
        try:
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send, fields)
            else:
                await self._http(scope, receive, send, fields)
        finally:
            request_fields.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, fields: dict[str, Any]) -> None:
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", fields["request_id"].encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        HTTP_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            HTTP_IN_PROGRESS.dec()
            path = scope.get("path", "")
            route = path if path in KNOWN_ROUTES else "other"
            HTTP_REQUESTS.labels(route, str(status)).inc()
            level = logging.DEBUG if path in QUIET_ROUTES else logging.INFO
            log.log(
                level,
                "%s %s %d",
                scope.get("method", ""),
                path,
                status,
                extra={
                    "method": scope.get("method", ""),
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "outcome": "ok" if status < 400 else ("user_error" if status < 500 else "error"),
                },
            )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, fields: dict[str, Any]) -> None:
        started = time.perf_counter()
        WEBSOCKETS_OPEN.inc()
        accepted = False

        async def watched(message: Message) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                CHURN.opened += 1  # refused handshakes leave nothing behind: only accepted sockets count
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            WEBSOCKETS_OPEN.dec()
            if accepted:
                CHURN.closed += 1
            log.info(
                "websocket %s closed",
                scope.get("path", ""),
                extra={"path": scope.get("path", ""), "duration_ms": round((time.perf_counter() - started) * 1000, 1)},
            )


def metrics_allowed(request: Request, settings: Settings) -> bool:
    """A client on an allowed network, or one presenting the metrics bearer token."""
    if settings.metrics_token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(value.strip(), settings.metrics_token):
            return True
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_networks)


async def refresh_scrape_gauges(request: Request, now: datetime) -> None:
    """Read the backlog figures now; a source that is away is counted, the rest still reported."""
    services = request.app.state.services
    SUBSCRIPTIONS_ACTIVE.set(len(services.hub.subscribers))
    try:
        # Bounded: a scrape reports what it can rather than hang behind a locked database.
        async with asyncio.timeout(SCRAPE_QUERY_SECONDS):
            backlog = await push_backlog(now)
        for level, (pending, overdue) in backlog.items():
            PUSHES_PENDING.labels(level).set(pending)
            PUSHES_OVERDUE.labels(level).set(overdue)
    except Exception:
        SCRAPE_ERRORS.labels("database").inc()
        log.exception("读取推送积压指标失败")
    try:
        async with asyncio.timeout(SCRAPE_QUERY_SECONDS):
            QUEUE_DEPTH.set(await queue_depth(services.redis))
    except Exception:
        SCRAPE_ERRORS.labels("redis").inc()
        log.warning("读取任务队列长度失败", exc_info=True)


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus text format, for allowed scrapers only."""
    if not metrics_allowed(request, request.app.state.services.settings):
        return error_response(403, "FORBIDDEN", "无权读取监控指标")
    await refresh_scrape_gauges(request, datetime.now(SHANGHAI))
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
