"""Scenario: Art. 19 timeliness statistics for the busiest month, beside one hand-written GROUP BY.

Platform: models.statistics.timeliness (pushes grouped in SQL, claim-hour percentiles from the stored
column, obligations and supervision actions grouped too) for every department, as the GraphQL
`timelinessStatistics` query and the monthly report run it. Baseline: the push counts alone in one
hand-written statement (asyncpg). Target: well under a second for a month over the whole data set.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from bench.context import Context
from bench.stats import Result, summary_ms
from models.calendar import SHANGHAI
from models.statistics import timeliness

TARGET_MS = 1000.0
BASELINE_SQL = """
SELECT department_id, count(*) AS pushed,
       count(*) FILTER (WHERE status = 'CLAIMED' AND NOT claimed_late) AS on_time,
       count(*) FILTER (WHERE status = 'CLAIMED' AND claimed_late) AS late,
       count(*) FILTER (WHERE status = 'RETURNED') AS returned,
       count(*) FILTER (WHERE status = 'PENDING') AS unclaimed,
       count(*) FILTER (WHERE status = 'PENDING' AND claim_deadline <= $3) AS overdue
FROM decision_push WHERE pushed_at >= $1 AND pushed_at < $2 GROUP BY department_id
"""


async def _busiest_month(conn: asyncpg.Connection) -> tuple[date, date, int]:
    row = await conn.fetchrow(
        "SELECT date_trunc('month', pushed_at AT TIME ZONE 'Asia/Shanghai') AS m, count(*) AS n "
        "FROM decision_push GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    )
    assert row is not None
    first: date = row["m"].date()
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, last, int(row["n"])


async def run(ctx: Context) -> list[Result]:
    assert ctx.db_url is not None
    runs = ctx.count(10, 5)
    conn = await asyncpg.connect(ctx.db_url)
    try:
        start, end, pushes = await _busiest_month(conn)
        now = datetime.now(SHANGHAI)
        lo = datetime.combine(start, datetime.min.time(), SHANGHAI)
        hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), SHANGHAI)
        platform: list[float] = []
        departments = 0
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            rows = await timeliness(start, end, now=now)
            platform.append(time.perf_counter() - t0)
            departments = len(rows)
        baseline: list[float] = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            found = await conn.fetch(BASELINE_SQL, lo, hi, now)
            baseline.append(time.perf_counter() - t0)
        assert len(found) <= departments  # the platform's rows include every department the baseline has
    finally:
        await conn.close()
    mine, theirs = summary_ms(platform[1:]), summary_ms(baseline[1:])  # the first run warms the caches
    figures: dict[str, Any] = {"headline": f"p50 {mine['p50']:.0f} ms, p99 {mine['p99']:.0f} ms", **mine}
    return [
        Result(
            name="statistics",
            title=f"timeliness statistics for {start:%Y-%m} ({pushes:,} pushes, {departments:,} departments)",
            unit="ms",
            platform=figures,
            baseline={"headline": f"p50 {theirs['p50']:.0f} ms (push counts only)", **theirs},
            ratio=round(theirs["p50"] / mine["p50"], 3) if mine["p50"] else None,
            ratio_of="baseline p50 / platform p50",
            target=f"p50 ≤ {TARGET_MS:.0f} ms",
            met=mine["p50"] <= TARGET_MS,
            note="models.statistics.timeliness over every department; baseline: one GROUP BY of the pushes only",
        )
    ]
