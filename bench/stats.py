"""Percentiles and the shape of one result row."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(latencies_s: list[float], elapsed_s: float | None = None) -> dict[str, float]:
    """Throughput (per second of wall time when given, else 1/mean) and p50/p95/p99 in milliseconds."""
    count = len(latencies_s)
    if elapsed_s is None:
        elapsed_s = sum(latencies_s)
    return {
        "count": count,
        "throughput": round(count / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "p50": round(percentile(latencies_s, 50) * 1000, 3),
        "p95": round(percentile(latencies_s, 95) * 1000, 3),
        "p99": round(percentile(latencies_s, 99) * 1000, 3),
    }


@dataclass
class Result:
    """One row of the results table: the platform's figures, the baseline's, their ratio and the target."""

    name: str
    title: str
    unit: str
    status: str = "ok"  # ok | skipped | error
    note: str = ""
    platform: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    ratio: float | None = None
    ratio_of: str = ""
    target: str = ""
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def skipped(name: str, title: str, reason: str) -> Result:
    return Result(name=name, title=title, unit="", status="skipped", note=reason)
