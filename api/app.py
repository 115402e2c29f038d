"""The Starlette application: /graphql (HTTP and graphql-transport-ws) and /healthz."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry import UNSET
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.auth import bearer, user_for_token
from api.collector import CollectorUpkeep
from api.context import Context
from api.downloads import export_list, report_file
from api.files import download_file
from api.graphql.schema import schema
from api.graphql.subscription import close_socket_at_expiry
from api.limits import BodyLimit
from api.metrics import RequestContextMiddleware, metrics_endpoint
from api.multiplex import MultiplexingHandler
from api.services import Services
from api.unavailable import HANDLED, database_down, is_database_down
from models.calendar import SHANGHAI
from models.crypto import configure_from_settings
from models.db import close_database, open_database, orm_config, pending_migrations
from models.event import publish_lag
from models.settings import Settings, load_settings
from workers.redis import worker_heartbeat_fresh


class Platform(Starlette):
    """The application, with a /graphql WebSocket handed straight to GraphQL past the HTTP middleware.

    A live socket stays open for hours, and every ASGI layer it passes through keeps a coroutine
    frame (some a closure too) for as long: the router and the HTTP middleware cost an idle
    subscription kilobytes and do nothing for it. The request context (request id, socket count,
    closing log line) still wraps it, and the database being away still only closes the socket.
    """

    def __init__(self, live: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.live = RequestContextMiddleware(live)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != "/graphql":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # as Starlette sets it: get_context finds the services through it
        try:
            await self.live(scope, receive, send)
        except HANDLED as error:
            if not is_database_down(error):
                raise


class GraphQLApp(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = MultiplexingHandler

    def decode_json(self, data: str | bytes) -> object:
        """A body that is not UTF-8, or nested beyond the parser's reach, is malformed JSON (400), not a crash."""
        try:
            return json.loads(data)
        except (UnicodeDecodeError, RecursionError) as error:
            raise json.JSONDecodeError(f"请求体无法解析：{type(error).__name__}", "", 0) from error

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None) -> Context:
        services: Services = request.app.state.services
        context = Context(request=request, response=response, services=services)
        if isinstance(request, Request):
            token = bearer(request.headers.get("authorization"))
            context.user, context.token_expires = await user_for_token(token, secret=services.settings.secret_key)
        return context

    async def on_ws_connect(self, context: Context) -> Any:
        """graphql-transport-ws: the token comes in connection_init, else on the upgrade request."""
        params = context.connection_params or {}
        token = bearer(params.get("authorization") or params.get("Authorization"))
        token = token or bearer(context.request.headers.get("authorization"))
        user, expires = await user_for_token(token, secret=context.settings.secret_key)
        if user is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.user, context.token_expires = user, expires
        if expires is not None and isinstance(context.request, WebSocket):
            close_socket_at_expiry(context.request, expires)
        return UNSET  # a bare connection_ack, without "payload": null


async def healthz(request: Request) -> JSONResponse:
    """The process is alive."""
    return JSONResponse({"status": "ok"})


MAX_PUBLISH_LAG_SECONDS = 60.0


async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: database reachable and migrated, Redis reachable, a worker alive, events flowing."""
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        missing = await pending_migrations(orm_config(services.settings.database_url))
        checks["database"] = f"{len(missing)} 个迁移未执行" if missing else "ok"
        lag = await publish_lag(datetime.now(SHANGHAI))
        checks["events"] = f"最早未发布事件已等待 {lag:.0f} 秒" if lag > MAX_PUBLISH_LAG_SECONDS else "ok"
    except Exception as error:  # reported, not raised: this endpoint exists to say what is wrong
        checks["database"] = f"不可用：{type(error).__name__}"
    try:
        await services.redis.ping()
        checks["redis"] = "ok"
        checks["worker"] = "ok" if await worker_heartbeat_fresh(services.redis) else "没有存活的工作进程心跳"
    except Exception as error:
        checks["redis"] = f"不可用：{type(error).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


UPLOAD_FORM_OVERHEAD = 64 * 1024  # the operations and map fields around an uploaded file


def middleware(settings: Settings) -> list[Middleware]:
    """Request ids, logs and metrics outermost; the body size limit always (multipart uploads up to the
    evidence file limit); CORS only when origins are configured (browsers then may call across sites)."""
    limits = settings.limits
    upload = settings.max_file_bytes + UPLOAD_FORM_OVERHEAD
    stack = [
        Middleware(RequestContextMiddleware),
        Middleware(BodyLimit, max_bytes=limits.max_body_bytes, upload_bytes=upload),
    ]
    if limits.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(limits.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    return stack


def create_app(
    settings: Settings | None = None,
    *,
    poll_interval: float = 1.0,
    check_migrated: bool = True,
    own_database: bool = True,
) -> Platform:
    """The application; `own_database=False` leaves the ORM to a caller that already opened it."""
    settings = settings or load_settings()
    configure_from_settings(settings.data_keys)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if own_database:
            await open_database(settings.database_url, check_migrated=check_migrated)
        services = await Services.start(settings, poll_interval=poll_interval)
        app.state.services = services
        collector = CollectorUpkeep()  # full collections off the live path (api/collector.py)
        collector.start()
        try:
            yield
        finally:
            await collector.stop()
            await services.stop()
            if own_database:
                await close_database()

    # Evidence files arrive as GraphQL multipart requests; the bearer token (no cookies) keeps them safe from CSRF.
    graphql = GraphQLApp(
        schema,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        graphql_ide="graphiql",
        multipart_uploads_enabled=True,
        # Browsers may open a socket only from the platform's own origin or these (403 otherwise).
        allowed_origins=settings.limits.allowed_origins,
        max_subscriptions_per_connection=None,  # MultiplexingHandler applies the configured limit
    )
    return Platform(
        graphql,
        middleware=middleware(settings),
        exception_handlers=dict.fromkeys(HANDLED, database_down),
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/reports/{report_id}/report.{format}", report_file),
            Route("/exports/{which}.{format}", export_list),
            Route("/files/{id}", download_file, methods=["GET"]),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
