"""The back-flow's deadlines run on the shared obligation machinery: wake-ups scheduled by the flow's events."""

from __future__ import annotations

from datetime import date, datetime

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from models.backflow import ActionInput, ActionKind, push_action, record_action
from models.db import write_transaction
from models.event import Event, EventKind, EventRecipient
from models.notice import NoticeInput, NoticeKind, send_notice
from models.obligation import Obligation
from tests import factories as f
from tests.workers.conftest import RunJobs, World
from workers.dispatch import flush_outbox


async def overdue_marks() -> list[tuple[str, int, list[int]]]:
    out = []
    for event in await Event.filter(kind=EventKind.OBLIGATION_OVERDUE).order_by("id"):
        audience = await EventRecipient.filter(event_id=event.id).order_by("department_id")
        out.append((event.subject_type, event.subject_id, [r.department_id for r in audience]))
    return out


async def test_an_unclaimed_penalty_push_and_an_unanswered_notice_are_marked_overdue(
    world: World, redis: aioredis.Redis, pool: ArqRedis, run_jobs: RunJobs
) -> None:
    decision = await f.decision(world.issuer, world.item, now=f.at(2026, 9, 1))
    pushed_at = f.at(2026, 9, 30)
    async with write_transaction():
        data = ActionInput(
            kind=ActionKind.LICENCE_REVOCATION,
            penalty_document_number="济市监罚〔2026〕40号",
            penalty_decided_on=date(2026, 9, 29),
            content="吊销许可证件",
            decision_ids=[decision.id],
        )
        action = await record_action(world.receiver, data, now=pushed_at)
        await push_action(world.receiver, action.id, now=pushed_at)
        notice = await send_notice(
            world.receiver,
            NoticeInput(decision_id=decision.id, kind=NoticeKind.REVOKE, reasons="吊销后应撤销许可"),
            now=pushed_at,
        )
    await flush_outbox(redis, pool, pushed_at)
    claim = await Obligation.get(subject_type="SupervisionAction", subject_id=action.id)
    reply = await Obligation.get(subject_type="Notice", subject_id=notice.id)
    # Across National Day: 3 working days end on the make-up Saturday, 10 on 2026-10-20.
    assert (str(claim.due_on), str(reply.due_on)) == ("2026-10-10", "2026-10-20")
    queued = {job.job_id for job in await pool.queued_jobs()}
    assert {f"ob-overdue:{claim.id}:2026-10-10", f"ob-overdue:{reply.id}:2026-10-20"} <= queued

    await run_jobs(datetime(2026, 10, 11, 0, 0, 0, tzinfo=pushed_at.tzinfo), f"ob-overdue:{claim.id}:2026-10-10")
    await run_jobs(datetime(2026, 10, 21, 0, 0, 0, tzinfo=pushed_at.tzinfo), f"ob-overdue:{reply.id}:2026-10-20")
    both = sorted([world.approval.id, world.supervision.id])
    assert await overdue_marks() == [("SupervisionAction", action.id, both), ("Notice", notice.id, both)]
