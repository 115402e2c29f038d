"""The monthly regular liaison meeting (例会, Art. 29), opened by a cron job."""

from __future__ import annotations

import logging

from models.db import write_transaction
from models.meeting import open_regular_meetings
from workers.jobs import Ctx, _now, _publish

log = logging.getLogger(__name__)


async def open_regular_meetings_job(ctx: Ctx) -> int:
    """Daily: from the month's first working day, each approval department's regular meeting exists.

    Idempotent (one meeting per convener and month, a unique key): every later run that month,
    and a second worker, create nothing.
    """
    now = _now(ctx)
    async with write_transaction():
        created = await open_regular_meetings(now)
    if created:
        await _publish(ctx, now)
        log.info("opened %d regular meetings", len(created))
    return len(created)
