"""Art. 20: claiming, returning and re-routing pushes, and the inbox rules, in the domain."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from models.account import Department, User
from models.claim import claim_push, reroute_push, return_push
from models.decision import DecisionPush
from models.enums import DepartmentKind, PushStatus, Role
from models.errors import DomainError, Forbidden, PushAlreadyClaimed
from models.event import Event, EventKind
from models.visibility import inbox
from tests import factories as f


@dataclass
class Setup:
    issuer: User
    market: Department
    health: Department
    officer: User  # of the market department
    push: DecisionPush  # pushed 2026-09-30 to the market department, due 2026-10-10


async def setup() -> Setup:
    city = await f.department(DepartmentKind.APPROVAL)
    market, health = await f.department(), await f.department()
    issuer = await f.user(city, Role.OFFICER)
    decision = await f.decision(issuer, await f.item(market), now=f.at(2026, 9, 30))
    return Setup(
        issuer, market, health, await f.user(market, Role.OFFICER), await DecisionPush.get(decision_id=decision.id)
    )


async def test_claim_on_the_last_minute_is_on_time_and_a_second_later_is_late(db: str) -> None:
    s = await setup()
    other = await f.decision(s.issuer, await f.item(s.market), now=f.at(2026, 9, 30))
    second = await DecisionPush.get(decision_id=other.id)
    # The claim day lasts until 24:00: even the last fraction of its last second is on time.
    on_time = await claim_push(
        s.officer, s.push.id, now=f.at(2026, 10, 10, 23, 59).replace(second=59, microsecond=999999)
    )
    late = await claim_push(s.officer, second.id, now=f.at(2026, 10, 11, 0, 0))
    assert (on_time.claimed_late, late.claimed_late) == (False, True)
    assert (late.status, late.claimed_by_id, late.claimed_at) == (
        PushStatus.CLAIMED,
        s.officer.id,
        f.at(2026, 10, 11, 0, 0),
    )


async def test_claimed_push_stays_with_its_first_claimer(db: str) -> None:
    s = await setup()
    await claim_push(s.officer, s.push.id, now=f.at(2026, 10, 8))
    with pytest.raises(PushAlreadyClaimed) as caught:
        await claim_push(await f.user(s.market, Role.LIAISON), s.push.id, now=f.at(2026, 10, 9))
    assert (caught.value.code, caught.value.field) == ("ALREADY_CLAIMED", "id")
    assert await Event.filter(kind=EventKind.PUSH_CLAIMED).count() == 1


async def test_only_officers_and_liaisons_of_the_receiver_act_on_a_push(db: str) -> None:
    s = await setup()
    with pytest.raises(Forbidden):
        await claim_push(await f.user(s.market, Role.LEADER), s.push.id, now=f.at(2026, 10, 8))
    for outsider in (await f.user(s.health, Role.OFFICER), s.issuer, await f.user(s.health, Role.ADMIN)):
        with pytest.raises(DomainError) as caught:
            await return_push(outsider, s.push.id, "非本部门业务", now=f.at(2026, 10, 8))
        assert caught.value.code == "PUSH_NOT_FOUND"
    assert (await DecisionPush.get(id=s.push.id)).status is PushStatus.PENDING


async def test_return_then_reroute_keeps_the_chain(db: str) -> None:
    s = await setup()
    returned = await return_push(s.officer, s.push.id, " 不属于本部门职责 ", now=f.at(2026, 10, 8))
    assert (returned.status, returned.return_reason, returned.returned_by_id) == (
        PushStatus.RETURNED,
        "不属于本部门职责",
        s.officer.id,
    )
    new = await reroute_push(s.issuer, s.push.id, s.health.id, now=f.at(2026, 10, 9, 16))
    assert (new.department_id, new.rerouted_from_id, new.status) == (s.health.id, s.push.id, PushStatus.PENDING)
    assert (new.pushed_at, new.claim_due_on.isoformat()) == (f.at(2026, 10, 9, 16), "2026-10-13")
    with pytest.raises(DomainError) as caught:
        await reroute_push(s.issuer, s.push.id, (await f.department()).id, now=f.at(2026, 10, 9))
    assert caught.value.code == "ALREADY_REROUTED"
    # The re-routed push can be returned in its turn and re-routed again.
    await return_push(await f.user(s.health, Role.LIAISON), new.id, "也不属于本部门", now=f.at(2026, 10, 10))
    third = await reroute_push(s.issuer, new.id, (await f.department()).id, now=f.at(2026, 10, 12))
    assert third.rerouted_from_id == new.id
    assert await DecisionPush.filter(decision_id=s.push.decision_id).count() == 3


async def test_inbox_overdue_means_pending_after_the_deadline(db: str) -> None:
    s = await setup()
    pending_late = s.push  # due 2026-10-10
    claimed = await DecisionPush.get(
        decision_id=(await f.decision(s.issuer, await f.item(s.market), now=f.at(2026, 9, 30))).id
    )
    await claim_push(s.officer, claimed.id, now=f.at(2026, 10, 12))
    returned = await DecisionPush.get(
        decision_id=(await f.decision(s.issuer, await f.item(s.market), now=f.at(2026, 9, 30))).id
    )
    await return_push(s.officer, returned.id, "非本部门业务", now=f.at(2026, 10, 9))
    in_time = await DecisionPush.get(
        decision_id=(await f.decision(s.issuer, await f.item(s.market), now=f.at(2026, 10, 12))).id
    )
    now = f.at(2026, 10, 13)

    async def ids(**filters: object) -> list[int]:
        return [p.id for p in await inbox(s.officer, now=now, **filters).order_by("claim_deadline", "id")]  # type: ignore[arg-type]

    assert await ids(overdue=True) == [pending_late.id]
    assert await ids(overdue=False) == [claimed.id, returned.id, in_time.id]
    assert await ids(overdue=False, status=PushStatus.PENDING) == [in_time.id]
    assert await ids() == [pending_late.id, claimed.id, returned.id, in_time.id]
    with pytest.raises(ValueError):
        inbox(s.officer, overdue=True)


async def test_the_database_keeps_one_push_per_decision_and_department(db: str) -> None:
    """Two re-routes racing to one department: the unique index lets only one push exist."""
    from tortoise.exceptions import IntegrityError

    from models.calendar import current_calendar
    from models.issuance import create_push

    s = await setup()
    decision = await s.push.decision
    with pytest.raises(IntegrityError):
        await create_push(decision, s.market.id, now=f.at(2026, 10, 1), calendar=await current_calendar())
    assert await DecisionPush.filter(decision_id=decision.id, department_id=s.market.id).count() == 1
