"""Event retention: the outbox keeps SHENGUAN_EVENT_RETENTION_DAYS of events, nothing else is pruned.

Pruning removes a prefix of the cursor sequence, never a hole: only events up to the last cursor
before the first one still young enough to keep, so `first_retained_sequence()` rises and a client
resuming from before it is told to resync rather than silently missing events. The newest
sequenced event is always kept: the sequencer numbers new events after it.

Deletion runs in small transactions over id ranges (recipients first, then their events), so
writers are never held up behind one long delete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.db import write_transaction
from models.event import Event, EventRecipient, last_sequence

log = logging.getLogger(__name__)
PRUNE_BATCH = 1000


@dataclass(frozen=True)
class PruneReport:
    events: int
    recipients: int
    upto_sequence: int  # every cursor up to this one is gone (0: nothing pruned)

    def summary(self) -> str:
        if not self.events:
            return "没有超过保留期的事件"
        return f"已清理 {self.events} 个事件（{self.recipients} 条接收记录），游标 {self.upto_sequence} 及之前不再保留"


async def prunable_upto(cutoff: datetime) -> int:
    """The highest cursor that may go: before the first young event, and below the newest cursor."""
    newest = await last_sequence()
    if newest == 0:
        return 0
    young = await Event.filter(seq__not_isnull=True, created_at__gte=cutoff).order_by("seq").only("id", "seq").first()
    first_kept = young.seq if young is not None and young.seq is not None else newest
    return max(0, min(first_kept, newest) - 1)


async def prune_events(
    now: datetime,
    retention_days: int,
    *,
    batch: int = PRUNE_BATCH,
    progress: Callable[[int], None] | None = None,
) -> PruneReport:
    """Delete events older than the retention period, with their recipients, batch by batch."""
    upto = await prunable_upto(now - timedelta(days=retention_days))
    if upto == 0:
        return PruneReport(0, 0, 0)
    events = recipients = 0
    start = 0
    while True:
        async with write_transaction():
            query = Event.filter(id__gte=start, seq__lte=upto).order_by("id").limit(batch)
            ids: list[int] = await query.values_list("id", flat=True)  # type: ignore[assignment]
            if not ids:
                break
            # One id range per transaction: the rows of [ids[0], ids[-1]], recipients first (RESTRICT).
            recipients += await EventRecipient.filter(event_id__in=ids).delete()
            events += await Event.filter(id__in=ids).delete()
        if progress is not None:
            progress(len(ids))
        start = ids[-1] + 1
    log.info("pruned %d events up to cursor %d", events, upto)
    return PruneReport(events, recipients, upto)
