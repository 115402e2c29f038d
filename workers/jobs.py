"""Thin, idempotent jobs: load by id, re-check state in models/, publish. Running twice changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from models.calendar import SHANGHAI
from models.claim import due_for_sweep, mark_overdue, remind_push
from models.db import write_transaction
from models.enums import ReportKind
from models.notice import expire_decisions
from models.obligation import mark_obligation_overdue, obligations_due_for_sweep, remind_obligation
from models.report import first_working_day_of_month, month_before, produce_report
from workers.dispatch import flush_outbox

log = logging.getLogger(__name__)
Ctx = dict[str, Any]


def _now(ctx: Ctx) -> datetime:
    clock: Callable[[], datetime] | None = ctx.get("clock")
    return clock() if clock else datetime.now(SHANGHAI)


async def _publish(ctx: Ctx, now: datetime) -> None:
    await flush_outbox(ctx["redis"], ctx["redis"], now)


async def remind_push_job(ctx: Ctx, push_id: int) -> bool:
    """Wake-up the working day before a claim deadline."""
    now = _now(ctx)
    async with write_transaction():
        done = await remind_push(push_id, now=now)
    if done:
        await _publish(ctx, now)
    return done


async def mark_push_overdue_job(ctx: Ctx, push_id: int) -> bool:
    """Wake-up at a claim deadline."""
    now = _now(ctx)
    async with write_transaction():
        done = await mark_overdue(push_id, now=now)
    if done:
        await _publish(ctx, now)
    return done


async def remind_obligation_job(ctx: Ctx, obligation_id: int) -> bool:
    """Wake-up the working day before any other obligation's due day."""
    now = _now(ctx)
    async with write_transaction():
        done = await remind_obligation(obligation_id, now=now)
    if done:
        await _publish(ctx, now)
    return done


async def mark_obligation_overdue_job(ctx: Ctx, obligation_id: int) -> bool:
    """Wake-up at any other obligation's deadline."""
    now = _now(ctx)
    async with write_transaction():
        done = await mark_obligation_overdue(obligation_id, now=now)
    if done:
        await _publish(ctx, now)
    return done


async def _each(ids: list[int], mark: Callable[..., Awaitable[bool]], now: datetime) -> int:
    """Apply a once-only mark to each id, one short transaction each."""
    done = 0
    for pk in ids:
        async with write_transaction():
            done += await mark(pk, now=now)
    return done


async def sweep(ctx: Ctx) -> dict[str, int]:
    """Catch what lost wake-ups missed and publish what a crashed process left unpublished."""
    now = _now(ctx)
    overdue, remind = await due_for_sweep(now)
    marked = await _each(overdue, mark_overdue, now)
    reminded = await _each(remind, remind_push, now)
    overdue, remind = await obligations_due_for_sweep(now)
    marked += await _each(overdue, mark_obligation_overdue, now)
    reminded += await _each(remind, remind_obligation, now)
    published = await flush_outbox(ctx["redis"], ctx["redis"], now)
    if marked or reminded or published:
        log.info("sweep: overdue=%d reminded=%d published=%d", marked, reminded, published)
    return {"overdue": marked, "reminded": reminded, "published": published}


async def monthly_report(ctx: Ctx) -> bool:
    """Art. 19: from the first working day of a month, the report of the month before, once.

    Runs daily and at start-up: a worker that was down on the first working day makes it when it comes back.
    """
    now = _now(ctx)
    today = now.astimezone(SHANGHAI).date()
    if today < await first_working_day_of_month(today):
        return False
    start, end = month_before(today)
    async with write_transaction():
        report, made = await produce_report(
            ReportKind.MONTHLY, start, end, now=now, reports_dir=ctx["reports_dir"], thresholds=ctx.get("thresholds")
        )
    if made:
        log.info("monthly report %s..%s: %d departments, %d red", start, end, report.departments, report.red_flags)
        await _publish(ctx, now)
    return made


async def expire_decisions_job(ctx: Ctx) -> int:
    """Daily: decisions past their validity become EXPIRED, in batches of one transaction each.

    Idempotent: a decision already EXPIRED (or otherwise no longer in force) is never picked again.
    """
    now = _now(ctx)
    total = 0
    while True:
        async with write_transaction():
            moved = await expire_decisions(now)
        if not moved:
            break
        total += moved
        await _publish(ctx, now)
    if total:
        log.info("expired %d decisions", total)
    return total
