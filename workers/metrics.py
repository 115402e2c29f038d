"""Metrics recorded below the API: the outbox (committed, published, lag) and arq jobs.

They live in the process-wide default registry: the API serves them at /metrics, and a worker
process serves its own on SHENGUAN_WORKER_METRICS_PORT when that is set.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis.asyncio as aioredis
from arq.constants import default_queue_name
from arq.typing import WorkerCoroutine
from prometheus_client import Counter, Histogram, start_http_server

from models.event import SequencedEvent

log = logging.getLogger("shenguan.jobs")
T = TypeVar("T")

# Seconds: sub-second is the normal live path, minutes means the sweep had to step in.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)

EVENTS_COMMITTED = Counter("shenguan_events_committed_total", "Committed events given their cursor (sequenced)")
EVENTS_PUBLISHED = Counter("shenguan_events_published_total", "Events handed to the Redis stream")
COMMIT_PUBLISH_LAG = Histogram(
    "shenguan_event_commit_publish_lag_seconds", "From an event's insert to its publication", buckets=LAG_BUCKETS
)
JOB_RUNS = Counter("shenguan_job_runs_total", "arq job runs, by job", ["job"])
JOB_FAILURES = Counter("shenguan_job_failures_total", "arq job runs that raised, by job", ["job"])
JOB_DURATION = Histogram("shenguan_job_duration_seconds", "arq job run time, by job", ["job"])


def record_published(events: list[SequencedEvent]) -> None:
    """Count a published batch and how long each of its events waited since it was written."""
    EVENTS_PUBLISHED.inc(len(events))
    wall = datetime.now(UTC)
    for event in events:
        if event.created_at is not None:
            COMMIT_PUBLISH_LAG.observe(max(0.0, (wall - event.created_at).total_seconds()))


def publish_stamp() -> str:
    """The publication moment carried in each stream entry, so a reader can measure delivery lag."""
    return f"{time.time():.6f}"


async def queue_depth(redis: aioredis.Redis) -> int:
    """Jobs waiting in arq's queue (deferred wake-ups included)."""
    return int(await redis.zcard(default_queue_name))


def instrumented(name: str, job: Callable[..., Awaitable[T]]) -> WorkerCoroutine:
    """Count, time and log one line per run of an arq job; the job itself is unchanged."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await job(ctx, *args, **kwargs)
            outcome = "ok"
            return result
        except asyncio.CancelledError:  # shutdown or timeout: arq retries it later, the job is idempotent
            outcome = "abandoned"
            raise
        except Exception:
            JOB_FAILURES.labels(name).inc()
            raise
        finally:
            elapsed = time.perf_counter() - started
            JOB_RUNS.labels(name).inc()
            JOB_DURATION.labels(name).observe(elapsed)
            log.info(
                "job %s %s",
                name,
                outcome,
                extra={
                    "job": name,
                    "job_id": ctx.get("job_id"),
                    "job_try": ctx.get("job_try"),
                    "duration_ms": round(elapsed * 1000, 1),
                    "outcome": outcome,
                },
            )

    return run  # functools.wraps gives it the job's __qualname__, which arq names it by


def serve_metrics(port: int, host: str) -> Callable[[], None] | None:
    """Expose this worker's metrics over HTTP when a port is configured; returns how to stop it."""
    if not port:
        return None
    server, thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
