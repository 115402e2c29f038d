"""The daily expiry job: decisions past their validity become EXPIRED once, in batches; supervisors are told."""

from __future__ import annotations

from datetime import date

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis

import models.notice
from models.decision import Decision
from models.enums import DecisionStatus
from models.event import Event, EventKind, EventRecipient
from models.notice import DecisionStatusChange
from tests import factories as f
from tests.workers.conftest import Clock, World
from workers.jobs import expire_decisions_job


async def with_validity(world: World, until: date, status: DecisionStatus = DecisionStatus.VALID) -> Decision:
    row = await f.decision(world.issuer, world.item, now=f.at(2026, 9, 1))
    await Decision.filter(id=row.id).update(valid_until=until, status=status)
    return row


async def test_expiry_is_idempotent_batched_and_tells_the_supervisors(
    world: World, pool: ArqRedis, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models.notice, "EXPIRY_BATCH", 1)  # three batches for the two due and the empty last one
    ended = await with_validity(world, date(2026, 10, 8))
    amended = await with_validity(world, date(2026, 9, 30), DecisionStatus.AMENDED)
    last_day = await with_validity(world, date(2026, 10, 9))  # still valid through its last day
    revoked = await with_validity(world, date(2026, 9, 1), DecisionStatus.REVOKED)
    ctx = {"clock": Clock(f.at(2026, 10, 9, 0, 5)), "redis": pool}

    assert await expire_decisions_job(ctx) == 2
    statuses = {d.id: d.status for d in await Decision.all()}
    assert statuses == {
        ended.id: DecisionStatus.EXPIRED,
        amended.id: DecisionStatus.EXPIRED,
        last_day.id: DecisionStatus.VALID,
        revoked.id: DecisionStatus.REVOKED,
    }
    changes = await DecisionStatusChange.all().order_by("decision_id")
    assert [(c.decision_id, c.from_status, c.actor_id, c.decided_on) for c in changes] == [
        (ended.id, DecisionStatus.VALID, None, date(2026, 10, 9)),
        (amended.id, DecisionStatus.AMENDED, None, date(2026, 10, 9)),
    ]
    events = await Event.filter(kind=EventKind.DECISION_STATUS_CHANGED).order_by("id")
    assert [e.subject_id for e in events] == [ended.id, amended.id]
    for event in events:
        audience = await EventRecipient.filter(event_id=event.id).order_by("department_id")
        assert [r.department_id for r in audience] == sorted([world.approval.id, world.supervision.id])
        assert event.published_at is not None  # the job publishes what it committed

    # Running again (at-least-once jobs, a second worker) changes nothing and tells nobody again.
    assert await expire_decisions_job(ctx) == 0
    assert await Event.filter(kind=EventKind.DECISION_STATUS_CHANGED).count() == 2
    assert await DecisionStatusChange.all().count() == 2

    ctx["clock"] = Clock(f.at(2026, 10, 10, 0, 5))
    assert await expire_decisions_job(ctx) == 1
    assert (await Decision.get(id=last_day.id)).status is DecisionStatus.EXPIRED
