"""Scenario 4: the inbox at depth — p95 of the first page, the page after 10,000 rows and the last page.

One client, sequential requests, against the hot department of the generated data set (the one with
the deepest inbox), through a real `shenguan serve` process and beside the hand-written endpoint.
Deep pages use the keyset cursor the API itself hands out (claim_deadline|id). The plans of the
statement that reads the page are taken with EXPLAIN (ANALYZE, BUFFERS) on the very SQL and values
the ORM sent (captured in process, see inbox.py), and of the baseline's SQL.

When the target is missed, the scenario also measures a what-if: the same pages after creating
the index the plans call for, on the bench database only (it is dropped again afterwards), so that
the figures of the proposed migration are in the same results file.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import httpx

from bench.baseline_inbox import FIRST_PAGE_SQL, NEXT_PAGE_SQL
from bench.context import Context
from bench.scenarios.inbox import body, count_statements, latency_figures, servers, viewer_token
from bench.stats import Result

TARGET_P95_MS = 20.0
DEPTH = 10_000
WHAT_IF_INDEX = "CREATE INDEX bench_what_if_inbox ON decision_push (department_id, claim_deadline, id)"


def _cursor(deadline: Any, pk: int) -> str:
    from api.graphql.base import encode_cursor

    return encode_cursor([deadline.isoformat(), pk])


async def _pages(db_url: str, department_id: int) -> tuple[int, dict[str, Any]]:
    """Cursors of the pages to measure: first, after DEPTH rows, and the last page."""
    conn = await asyncpg.connect(db_url)
    try:
        total = int(await conn.fetchval("SELECT count(*) FROM decision_push WHERE department_id = $1", department_id))
        sql = (
            "SELECT claim_deadline, id FROM decision_push WHERE department_id = $1 ORDER BY claim_deadline, id "
            "OFFSET $2 LIMIT 1"
        )
        pages: dict[str, Any] = {"first page": None}
        if total > DEPTH + 20:
            row = await conn.fetchrow(sql, department_id, DEPTH - 1)
            pages[f"after {DEPTH:,} rows"] = (row["claim_deadline"], row["id"])
        row = await conn.fetchrow(sql, department_id, max(total - 21, 0))
        pages[f"last page (after {max(total - 20, 0):,} rows)"] = (row["claim_deadline"], row["id"])
    finally:
        await conn.close()
    return total, pages


async def _latencies(url: str, token: str, payload: dict[str, Any], requests: int) -> list[float]:
    out: list[float] = []
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        for n in range(requests + 10):
            t0 = time.perf_counter()
            response = await client.post(url + "/graphql", json=payload, headers=headers)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200 or b'"errors"' in response.content[:200]:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
            if n >= 10:  # the first ten warm connections and caches
                out.append(elapsed)
    return out


async def _explain(db_url: str, sql: str, values: list[Any]) -> str:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *values)
    finally:
        await conn.close()
    return "\n".join(r[0] for r in rows)


def _page_sql(statements: list[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    for sql, values in statements:
        if 'FROM "decision_push"' in sql and "LIMIT" in sql:
            return sql, values
    raise RuntimeError("no decision_push page statement among " + "; ".join(s for s, _ in statements))


async def _measure(
    ctx: Context, token: str, pages: dict[str, Any], requests: int, user_id: int, version: int
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """p50/p95/p99 per page for the platform and the baseline, and the plans of both."""
    assert ctx.db_url is not None
    figures: dict[str, dict[str, Any]] = {}
    payloads = {name: body(after=_cursor(*cur) if cur else None) for name, cur in pages.items()}
    async with servers(ctx) as (platform, baseline):
        for name, payload in payloads.items():
            figures[name] = {
                "platform": latency_figures(await _latencies(platform.url, token, payload, requests)),
                "baseline": latency_figures(await _latencies(baseline.url, token, payload, requests)),
            }
    counted = await count_statements(ctx, token, payloads)
    plans: dict[str, str] = {}
    for name, (_, statements) in counted.items():
        sql, values = _page_sql(statements)
        plans[f"platform, {name}: {sql}"] = await _explain(ctx.db_url, sql, values)
        cur = pages[name]
        if cur is None:
            plans[f"baseline, {name}"] = await _explain(ctx.db_url, FIRST_PAGE_SQL, [user_id, version, 21])
        else:
            plans[f"baseline, {name}"] = await _explain(ctx.db_url, NEXT_PAGE_SQL, [user_id, version, 21, *cur])
    return figures, plans


async def run(ctx: Context) -> list[Result]:
    assert ctx.db_url is not None and ctx.data is not None
    department_id = ctx.data.hot_department_id
    token = await viewer_token(department_id)
    total, pages = await _pages(ctx.db_url, department_id)
    requests = ctx.count(100, 200)
    figures, plans = await _measure(ctx, token, pages, requests, department_id, 1)
    rows = [_row(name, f, total, requests, plans if i == 0 else {}) for i, (name, f) in enumerate(figures.items())]
    if not all(r.met for r in rows):
        conn = await asyncpg.connect(ctx.db_url)
        try:
            await conn.execute(WHAT_IF_INDEX)
            await conn.execute("ANALYZE decision_push")
            after, after_plans = await _measure(ctx, token, pages, requests, department_id, 1)
        finally:
            await conn.execute("DROP INDEX IF EXISTS bench_what_if_inbox")
            await conn.close()
        for i, (name, f) in enumerate(after.items()):
            row = _row(name, f, total, requests, after_plans if i == 0 else {})
            row.name += "_with_index"
            row.title += f" — what-if, after `{WHAT_IF_INDEX}` (bench database only)"
            rows.append(row)
    return rows


def _row(name: str, f: dict[str, Any], total: int, requests: int, plans: dict[str, str]) -> Result:
    slug = "inbox_depth_" + ("first" if name.startswith("first") else "10k" if name.startswith("after") else "last")
    p95 = f["platform"]["p95"]
    return Result(
        name=slug,
        title=f"inbox {name} of a department with {total:,} pushes, {requests} sequential requests, p95",
        unit="ms",
        platform={
            "headline": f"p50 {f['platform']['p50']} / p95 {p95} / p99 {f['platform']['p99']} ms",
            **f["platform"],
        },
        baseline={
            "headline": f"p50 {f['baseline']['p50']} / p95 {f['baseline']['p95']} / p99 {f['baseline']['p99']} ms",
            **f["baseline"],
        },
        ratio=round(p95 / f["baseline"]["p95"], 2),
        ratio_of="platform p95 / baseline p95",
        target=f"p95 ≤ {TARGET_P95_MS:.0f} ms",
        met=p95 <= TARGET_P95_MS,
        note="over HTTP through a real server; plans below" if plans else "over HTTP through a real server",
        extra={"plans": plans} if plans else {},
    )
