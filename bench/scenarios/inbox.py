"""Scenario 3: the inbox page over HTTP, GraphQL against a hand-written endpoint on the same database.

A real `shenguan serve` process and bench/baseline_inbox.py (uvicorn, its own process) answer the
same request for the hot supervision department of the generated data set: a page of 20 pushes with
decision { documentNumber item { name } issuer { name } counterparty { name } }. Before timing, the
two answers are compared: the baseline must return the very JSON the GraphQL server returns.

SQL statements per GraphQL request are counted in a separate, in-process measurement: the same
Starlette app is driven through httpx's ASGI transport while tortoise's `tortoise.db_client` logger
(which logs every statement at DEBUG) is recorded. pg_stat_statements would count on the server
side, but it needs shared_preload_libraries and a PostgreSQL restart, which CI's service cannot be
assumed to allow; the logger sees exactly what the ORM sends, including the token check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs installed

from bench import env
from bench.context import Context
from bench.stats import Result, percentile, summary_ms
from models.account import User
from models.calendar import SHANGHAI

TARGET_RATIO = 0.30
TARGET_STATEMENTS = 4
QUERY = """
query Inbox($first: Int, $after: String) {
  inbox(first: $first, after: $after) {
    edges { cursor node { id status claimDeadline
      decision { documentNumber item { name } issuer { name } counterparty { name } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def viewer_token(user_id: int) -> str:
    from api.auth import issue_token

    user = await User.get(id=user_id)
    return issue_token(user, secret=env.SECRET, ttl_minutes=240, now=datetime.now(SHANGHAI))


@asynccontextmanager
async def servers(ctx: Context) -> AsyncIterator[tuple[env.Process, env.Process]]:
    """The platform and the baseline, each in its own process, on the bench database."""
    assert ctx.db_url is not None
    platform = env.shenguan_server(ctx.db_url, ctx.redis_url, ctx.work_dir)
    baseline = env.python_module(
        "bench.baseline_inbox", ctx.work_dir, "--database-url", ctx.db_url, "--secret", env.SECRET
    )
    try:
        await asyncio.to_thread(platform.start)
        await asyncio.to_thread(baseline.start)
        yield platform, baseline
    finally:
        platform.stop()
        baseline.stop()


def body(first: int = 20, after: str | None = None) -> dict[str, Any]:
    return {"query": QUERY, "variables": {"first": first, "after": after}}


async def fetch(url: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url + "/graphql", json=payload, headers={"authorization": f"Bearer {token}"})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    server_cpu_s: float = 0.0


async def load(url: str, token: str, payload: dict[str, Any], *, clients: int, seconds: float, pid: int) -> Load:
    """`clients` concurrent keep-alive clients posting for `seconds` (after a one-second warm-up)."""
    out = Load()
    server = psutil.Process(pid)
    headers = {"authorization": f"Bearer {token}"}

    async def client_loop(stop_at: float, record: bool, client: httpx.AsyncClient) -> None:
        clock = time.perf_counter
        while clock() < stop_at:
            t0 = clock()
            response = await client.post(url + "/graphql", json=payload, headers=headers)
            t1 = clock()
            if response.status_code != 200 or b'"errors"' in response.content[:200]:
                out.errors += 1
            elif record:
                out.latencies.append(t1 - t0)

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [httpx.AsyncClient(timeout=30, limits=limits) for _ in range(clients)]
    try:
        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(client_loop(warm, False, c) for c in pool))
        cpu0 = sum(server.cpu_times()[:2])
        t0 = time.perf_counter()
        await asyncio.gather(*(client_loop(t0 + seconds, True, c) for c in pool))
        out.elapsed = time.perf_counter() - t0
        out.server_cpu_s = sum(server.cpu_times()[:2]) - cpu0
    finally:
        for c in pool:
            await c.aclose()
    return out


def load_figures(result: Load) -> dict[str, Any]:
    figures: dict[str, Any] = summary_ms(result.latencies, result.elapsed)
    figures["errors"] = result.errors
    figures["server_cpu_ms_per_request"] = round(result.server_cpu_s / max(len(result.latencies), 1) * 1000, 3)
    return figures


# -- statements per request, in process ---------------------------------------------------------


class StatementLog(logging.Handler):
    """Every statement the ORM sends (tortoise logs each at DEBUG on `tortoise.db_client`)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, list[Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 2 and isinstance(args[0], str):
            values = args[1] if isinstance(args[1], list | tuple) else []
            self.statements.append((args[0], list(values)))
        elif isinstance(record.msg, str) and not args:
            self.statements.append((record.msg, []))


@asynccontextmanager
async def in_process_app(ctx: Context) -> AsyncIterator[Callable[[str, dict[str, Any]], Awaitable[Any]]]:
    """The platform's Starlette app over httpx.ASGITransport, on the ORM this process already opened.

    The hub is not started: its poll would add statements that belong to no request. The rate limit
    is off, as in the served process (env.shenguan_server), so that both run the same request path.
    """
    import redis.asyncio as aioredis

    from api.app import create_app
    from api.hub import Hub
    from api.services import Services
    from models.settings import Limits, Settings

    assert ctx.db_url is not None
    settings = Settings(
        var_dir=Path(ctx.work_dir),
        database_url=ctx.db_url,
        redis_url=ctx.redis_url,
        host="127.0.0.1",
        port=0,
        token_ttl_minutes=60,
        secret_key=env.SECRET,
        limits=Limits(rate_limit_per_minute=0),
    )
    redis = aioredis.Redis.from_url(ctx.redis_url)
    app = create_app(settings)
    app.state.services = Services(settings=settings, redis=redis, arq=None, hub=Hub(redis))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def post(token: str, payload: dict[str, Any]) -> Any:
            response = await client.post("/graphql", json=payload, headers={"authorization": f"Bearer {token}"})
            response.raise_for_status()
            return response.json()

        yield post
    await redis.aclose()


@asynccontextmanager
async def recording() -> AsyncIterator[StatementLog]:
    logger = logging.getLogger("tortoise.db_client")
    handler = StatementLog()
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


async def count_statements(
    ctx: Context, token: str, pages: dict[str, dict[str, Any]]
) -> dict[str, tuple[int, list[tuple[str, list[Any]]]]]:
    """Statements sent for each request (run twice; the second, warm, run is the one counted)."""
    out: dict[str, tuple[int, list[tuple[str, list[Any]]]]] = {}
    async with in_process_app(ctx) as post:
        for name, payload in pages.items():
            await post(token, payload)
            async with recording() as log:
                answer = await post(token, payload)
            if answer.get("errors"):
                raise RuntimeError(f"in-process {name} answered errors: {answer['errors']}")
            out[name] = (len(log.statements), log.statements)
    return out


# -- the scenario --------------------------------------------------------------------------------


async def typical_department(db_url: str, pushes: int = 2000) -> tuple[int, int]:
    """The department whose inbox holds closest to `pushes` pushes (a busy bureau, not the extreme one)."""
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow(
            "SELECT department_id, count(*) AS n FROM decision_push GROUP BY 1 ORDER BY abs(count(*) - $1), 1 LIMIT 1",
            pushes,
        )
    finally:
        await conn.close()
    return int(row["department_id"]), int(row["n"])


async def run(ctx: Context) -> list[Result]:
    assert ctx.data is not None and ctx.db_url is not None
    department_id, pushes = await typical_department(ctx.db_url)
    token = await viewer_token(department_id)
    clients = ctx.count(8, 16)
    seconds = ctx.pick(4.0, 10.0)
    async with servers(ctx) as (platform, baseline):
        ours = await fetch(platform.url, token, body())
        theirs = await fetch(baseline.url, token, body())
        same = ours == theirs
        edges = len(((ours.get("data") or {}).get("inbox") or {}).get("edges") or [])
        if ours.get("errors") or edges != 20:
            raise RuntimeError(f"GraphQL inbox answered {edges} edges, errors {ours.get('errors')}")
        p_load = await load(platform.url, token, body(), clients=clients, seconds=seconds, pid=platform.pid)
        b_load = await load(baseline.url, token, body(), clients=clients, seconds=seconds, pid=baseline.pid)
    p_fig, b_fig = load_figures(p_load), load_figures(b_load)
    ratio = p_fig["throughput"] / b_fig["throughput"]
    pages = {f"first={n}": body(first=n) for n in (1, 20, 100)}
    counted = await count_statements(ctx, token, pages)
    per_size = {name: n for name, (n, _) in counted.items()}
    worst = max(per_size.values())
    sample = [sql for sql, _ in counted["first=20"][1]]
    rows = [
        Result(
            name="inbox_http",
            title=f"inbox page of 20 over HTTP, {clients} concurrent keep-alive httpx clients, {seconds:.0f} s each",
            unit="req/s",
            platform=p_fig,
            baseline=b_fig,
            ratio=round(ratio, 3),
            ratio_of="platform req/s / baseline req/s",
            target=f"≥ {TARGET_RATIO:.0%} of baseline",
            met=ratio >= TARGET_RATIO,
            note=f"viewer: department {department_id} ({pushes:,} pushes); "
            f"baseline JSON identical to GraphQL's: {same}; "
            f"server CPU per request {p_fig['server_cpu_ms_per_request']} ms vs "
            f"{b_fig['server_cpu_ms_per_request']} ms (client and servers share the 2 cores)",
            extra={"identical_json": same},
        ),
        Result(
            name="inbox_statements",
            title="SQL statements per GraphQL inbox request (token check included), by page size",
            unit="statements",
            platform={"headline": ", ".join(f"{k}: {v}" for k, v in per_size.items()), **per_size},
            baseline={"headline": "1 (token check and page in one statement)", "statements": 1},
            target=f"≤ {TARGET_STATEMENTS} whatever the page size",
            met=worst <= TARGET_STATEMENTS,
            note="counted from tortoise.db_client DEBUG records in process; statements for first=20: "
            + " | ".join(s.split(" FROM ")[1].split(" ")[0] if " FROM " in s else s[:40] for s in sample),
            extra={"statements_first_20": sample},
        ),
    ]
    return rows


def latency_figures(latencies: list[float]) -> dict[str, Any]:
    return {
        "count": len(latencies),
        "p50": round(percentile(latencies, 50) * 1000, 3),
        "p95": round(percentile(latencies, 95) * 1000, 3),
        "p99": round(percentile(latencies, 99) * 1000, 3),
    }
