"""Art. 18, 20: issuing a decision writes it, one push per supervisor and one event per push, atomically."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from tortoise.transactions import in_transaction

from models.account import Department, User
from models.calendar import SHANGHAI, current_calendar
from models.catalogue import ApprovalItem
from models.decision import Decision, DecisionPush
from models.enums import AdminLevel, Channel, CounterpartyKind, DepartmentKind, Role
from models.errors import DomainError, Duplicate, Forbidden, ValidationErrors
from models.event import Event, EventKind, EventRecipient
from models.identifiers import make_citizen_id
from models.issuance import (
    CounterpartyInput,
    DecisionInput,
    create_push,
    fingerprint,
    issue_decision,
    validate_decision,
)
from tests import factories as f

TODAY = date(2026, 9, 30)


def data(item_id: int = 1, number: str = "济审批〔2026〕1号", **over: object) -> DecisionInput:
    base = DecisionInput(
        item_id=item_id,
        document_number=number,
        content="准予许可",
        approved_on=TODAY,
        counterparty=f.person(),
        valid_from=date(2026, 9, 30),
        valid_until=date(2031, 9, 29),
    )
    return replace(base, **over)  # type: ignore[arg-type]


# --- pure validation -------------------------------------------------------------------------------


def test_valid_input_is_cleaned_trimmed_and_upper_cased() -> None:
    raw = make_citizen_id("110105", "19491231", 2)
    cp = CounterpartyInput(
        name=" 张三 ",
        kind=CounterpartyKind.PERSON,
        id_number=f" {raw.lower()} ",
        phone=" 13853712345 ",
        contact_name="  ",
        address=" 济宁市 ",
    )
    cleaned, errors = validate_decision(
        data(number=" 济审批〔2026〕1号 ", content=" 准予许可 ", counterparty=cp), TODAY
    )
    assert errors == []
    assert (cleaned.document_number, cleaned.content) == ("济审批〔2026〕1号", "准予许可")
    assert cleaned.counterparty == CounterpartyInput(
        name="张三",
        kind=CounterpartyKind.PERSON,
        id_number=raw,
        credit_code=None,
        contact_name=None,
        phone="13853712345",
        address="济宁市",
    )


def test_every_error_is_collected_with_its_path() -> None:
    cp = CounterpartyInput(
        name="", kind=CounterpartyKind.ORGANIZATION, credit_code="91370800MA3C4D5E6X", phone="abc", address="址" * 257
    )
    _, errors = validate_decision(
        data(
            number="",
            content="",
            approved_on=date(2026, 10, 1),
            valid_from=date(2026, 5, 2),
            valid_until=date(2026, 5, 1),
            counterparty=cp,
        ),
        TODAY,
    )
    assert [(e.code, e.field) for e in errors] == [
        ("REQUIRED", "documentNumber"),
        ("REQUIRED", "content"),
        ("REQUIRED", "counterparty.name"),
        ("INVALID_CREDIT_CODE", "counterparty.creditCode"),
        ("TOO_LONG", "counterparty.address"),
        ("INVALID_PHONE", "counterparty.phone"),
        ("DATE_IN_FUTURE", "approvedOn"),
        ("INVALID_VALIDITY", "validUntil"),
    ]


def test_open_ended_and_one_day_validity_are_allowed() -> None:
    for valid_from, valid_until in ((None, None), (TODAY, None), (None, TODAY), (TODAY, TODAY)):
        assert validate_decision(data(valid_from=valid_from, valid_until=valid_until), TODAY)[1] == []


def test_fingerprint_ignores_whitespace_but_not_content() -> None:
    a, _ = validate_decision(data(content="准予许可"), TODAY)
    b, _ = validate_decision(data(content="  准予许可 "), TODAY)
    c, _ = validate_decision(data(content="准予许可。"), TODAY)
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    assert fingerprint(a) != fingerprint(replace(a, channel=Channel.OFFLINE))


# --- with the database ------------------------------------------------------------------------------


async def setup() -> tuple[User, ApprovalItem, list[Department]]:
    city = await f.department(DepartmentKind.APPROVAL)
    supervisors = [await f.department(code="M"), await f.department(code="H")]
    await f.department(level=AdminLevel.COUNTY, region="370811", code="RC")
    officer = await f.user(city, Role.OFFICER)
    return officer, await f.item(*supervisors), supervisors


async def counts() -> tuple[int, int, int, int]:
    return (
        await Decision.all().count(),
        await DecisionPush.all().count(),
        await Event.all().count(),
        await EventRecipient.all().count(),
    )


async def test_decision_pushes_and_events_are_written_together(db: str) -> None:
    officer, item, (market, health) = await setup()
    now = f.at(2026, 9, 30, 9, 15)
    decision, created = await issue_decision(officer, data(item.id), now=now)
    assert created is True
    pushes = await DecisionPush.filter(decision_id=decision.id).order_by("id")
    assert [
        (p.department_id, p.pushed_at, p.claim_due_on, p.claim_deadline, p.deadline_provisional) for p in pushes
    ] == [
        (d.id, now, date(2026, 10, 10), datetime(2026, 10, 10, 23, 59, 59, tzinfo=SHANGHAI), False)
        for d in (market, health)
    ]
    events = await Event.filter(kind=EventKind.PUSH_CREATED).order_by("id")
    assert [(e.subject_id, e.seq) for e in events] == [(p.id, None) for p in pushes]  # sequenced after commit
    assert await counts() == (1, 2, 2, 2)
    assert (decision.created_by_id, decision.channel, decision.content_hash) == (
        officer.id,
        Channel.PLATFORM,
        fingerprint(validate_decision(data(item.id), TODAY)[0]),
    )


async def test_nothing_stays_when_the_callers_transaction_fails(db: str) -> None:
    officer, item, _ = await setup()
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await issue_decision(officer, data(item.id), now=f.at(2026, 9, 30))
            assert await counts() == (1, 2, 2, 2)
            raise RuntimeError("the audit record could not be written")
    assert await counts() == (0, 0, 0, 0)


async def test_retry_returns_the_decision_without_new_pushes(db: str) -> None:
    officer, item, _ = await setup()
    first, _ = await issue_decision(officer, data(item.id), now=f.at(2026, 9, 30))
    colleague = await f.user(await officer.department, Role.INTEGRATION)
    again, created = await issue_decision(colleague, data(item.id, content=" 准予许可 "), now=f.at(2026, 10, 2))
    assert (again.id, created) == (first.id, False)
    assert await counts() == (1, 2, 2, 2)
    with pytest.raises(Duplicate) as caught:
        await issue_decision(officer, data(item.id, content="不予许可"), now=f.at(2026, 10, 2))
    assert (caught.value.code, caught.value.field) == ("DUPLICATE_DOCUMENT_NUMBER", "documentNumber")
    assert await counts() == (1, 2, 2, 2)


@pytest.mark.parametrize("role", [Role.LEADER, Role.ADMIN])
async def test_only_issuer_roles_of_an_approval_department_issue(db: str, role: Role) -> None:
    officer, item, (market, _) = await setup()
    for actor in (await f.user(await officer.department, role), await f.user(market, Role.OFFICER)):
        with pytest.raises(Forbidden):
            await issue_decision(actor, data(item.id), now=f.at(2026, 9, 30))
    assert await counts() == (0, 0, 0, 0)


async def test_several_errors_with_an_unknown_item_are_raised_together(db: str) -> None:
    officer, _, _ = await setup()
    with pytest.raises(ValidationErrors) as caught:
        await issue_decision(officer, data(99999, number=""), now=f.at(2026, 9, 30))
    assert [(e.code, e.field) for e in caught.value.errors] == [
        ("REQUIRED", "documentNumber"),
        ("ITEM_NOT_FOUND", "itemId"),
    ]


@pytest.mark.parametrize(
    ("pushed_at", "due_on", "provisional"),
    [
        (f.at(2026, 9, 30, 0, 1), date(2026, 10, 10), False),
        (f.at(2026, 9, 30, 23, 59), date(2026, 10, 10), False),
        (f.at(2026, 2, 13, 17, 30), date(2026, 2, 25), False),
        # 17:00 UTC on 12 February is already 01:00 on 13 February in Shanghai.
        (datetime(2026, 2, 12, 17, 0, tzinfo=UTC), date(2026, 2, 25), False),
        (datetime(2026, 2, 12, 15, 59, tzinfo=UTC), date(2026, 2, 24), False),
        (f.at(2026, 10, 10, 11), date(2026, 10, 14), False),  # pushed on the Saturday make-up workday
        (f.at(2026, 10, 3, 11), date(2026, 10, 10), False),  # pushed during the holiday
        (f.at(2026, 12, 24), date(2026, 12, 29), False),
        (f.at(2026, 12, 28), date(2026, 12, 31), False),
        (f.at(2026, 12, 29), date(2027, 1, 1), True),  # 2027 has no official schedule yet
        (f.at(2026, 12, 30), date(2027, 1, 4), True),
    ],
)
async def test_claim_deadline_is_the_end_of_the_third_working_day(
    db: str, pushed_at: datetime, due_on: date, provisional: bool
) -> None:
    officer, item, _ = await setup()
    decision, _ = await issue_decision(officer, data(item.id, approved_on=date(2026, 1, 1)), now=f.at(2026, 1, 5))
    elsewhere = await f.department()  # a decision has one push per department
    push = await create_push(decision, elsewhere.id, now=pushed_at, calendar=await current_calendar())
    stored = await DecisionPush.get(id=push.id)
    assert (stored.claim_due_on, stored.claim_deadline, stored.deadline_provisional) == (
        due_on,
        datetime.combine(due_on, datetime.max.time().replace(microsecond=0), SHANGHAI),
        provisional,
    )
    assert stored.pushed_at == pushed_at


async def test_an_error_from_routing_leaves_nothing(db: str) -> None:
    city = await f.department(DepartmentKind.APPROVAL)
    county_only = await f.item(await f.department(level=AdminLevel.COUNTY, region="370811"))
    with pytest.raises(DomainError) as caught:
        await issue_decision(await f.user(city), data(county_only.id), now=f.at(2026, 9, 30))
    assert (caught.value.code, caught.value.field) == ("NO_SUPERVISING_DEPARTMENT", "itemId")
    assert await counts() == (0, 0, 0, 0)
