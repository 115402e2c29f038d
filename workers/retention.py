"""The nightly retention job: prune events past SHENGUAN_EVENT_RETENTION_DAYS (idempotent)."""

from __future__ import annotations

from models.retention import prune_events
from workers.jobs import Ctx, _now


async def prune_events_job(ctx: Ctx) -> int:
    """Delete expired events in small batches; running twice deletes nothing more."""
    report = await prune_events(_now(ctx), ctx["retention_days"])
    return report.events
