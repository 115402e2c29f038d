"""Scenario 1: WorkCalendar.add_working_days per call, beside a bare bisect over the same array."""

from __future__ import annotations

import random
import time
from bisect import bisect_right
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from bench.context import Context
from bench.stats import Result, percentile
from models.workdays import WorkCalendar, package_exception_days

TARGET_US = 2.0
BATCH = 1000


def _per_call_us(fn: Callable[[date, int], date], starts: list[date], seconds: float) -> list[float]:
    """Per-call time (µs) of each batch of BATCH calls, for `seconds` of wall time."""
    samples: list[float] = []
    clock = time.perf_counter
    deadline = clock() + seconds
    i = 0
    n = len(starts)
    while clock() < deadline:
        batch = [starts[(i + k) % n] for k in range(BATCH)]
        i += BATCH
        t0 = clock()
        for day in batch:
            fn(day, 3)
        samples.append((clock() - t0) / BATCH * 1e6)
    return samples


def _figures(samples: list[float]) -> dict[str, Any]:
    mean = sum(samples) / len(samples)
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    return {
        "headline": f"{mean:.3f} µs/call (p50 {p50:.3f} / p99 {p99:.3f} µs)",
        "calls": len(samples) * BATCH,
        "mean_us": round(mean, 3),
        "throughput": round(1e6 / mean),
        "p50_us": round(p50, 3),
        "p99_us": round(p99, 3),
    }


async def run(ctx: Context) -> list[Result]:
    exceptions, years = package_exception_days()
    calendar = WorkCalendar(exceptions, years)
    ordinals = calendar._ordinals  # the very array the calendar bisects
    rng = random.Random(1)
    first = date(2004, 1, 1)
    starts = [first + timedelta(days=rng.randrange(365 * 22)) for _ in range(10_000)]

    def bare(start: date, n: int) -> date:
        return date.fromordinal(ordinals[bisect_right(ordinals, start.toordinal()) + n - 1])

    assert all(calendar.add_working_days(d, 3) == bare(d, 3) for d in starts[:1000])
    seconds = ctx.pick(1.0, 3.0)
    platform = _figures(_per_call_us(calendar.add_working_days, starts, seconds))
    baseline = _figures(_per_call_us(bare, starts, seconds))
    return [
        Result(
            name="workdays",
            title="add_working_days per call (µs; p50/p99 over batches of 1,000 calls)",
            unit="µs/call",
            platform=platform,
            baseline=baseline,
            ratio=round(platform["mean_us"] / baseline["mean_us"], 2),
            ratio_of="platform time / baseline time",
            target=f"≤ {TARGET_US} µs per call",
            met=platform["mean_us"] <= TARGET_US,
            note="baseline: date.fromordinal(ordinals[bisect_right(ordinals, d.toordinal()) + n - 1])",
        )
    ]
