"""Small builders for test data, through the same domain operations the API uses."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from models.account import Department, User, hash_password
from models.calendar import SHANGHAI
from models.catalogue import ApprovalItem, create_approval_item
from models.decision import Decision
from models.enums import AdminLevel, CounterpartyKind, DepartmentKind, Role
from models.identifiers import make_citizen_id, make_credit_code
from models.issuance import CounterpartyInput, DecisionInput, issue_decision

PASSWORD = "Test-Pass-2026!"
_n = itertools.count(1)
_HASH: list[str] = []


def password_hash() -> str:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


async def department(
    kind: DepartmentKind = DepartmentKind.SUPERVISION,
    level: AdminLevel = AdminLevel.CITY,
    region: str = "370800",
    code: str | None = None,
    name: str | None = None,
) -> Department:
    n = next(_n)
    return await Department.create(
        code=code or f"D{n}", name=name or f"部门{n}", kind=kind, level=level, region_code=region
    )


async def user(dept: Department, *roles: Role, username: str | None = None) -> User:
    n = next(_n)
    return await User.create(
        username=username or f"user{n}",
        password_hash=password_hash(),
        display_name=f"用户{n}",
        department_id=dept.id,
        roles=sorted(r.value for r in (roles or (Role.OFFICER,))),
    )


async def item(*supervisors: Department, code: str | None = None) -> ApprovalItem:
    n = next(_n)
    return await create_approval_item(
        code=code or f"ITEM{n}",
        name="食品经营许可",
        legal_basis="《中华人民共和国食品安全法》第三十五条",
        commitment_based=False,
        joint_inspection=False,
        supervising_department_ids=[d.id for d in supervisors],
    )


def person(seq: int = 1) -> CounterpartyInput:
    return CounterpartyInput(
        name="张三",
        kind=CounterpartyKind.PERSON,
        id_number=make_citizen_id("370811", "19860214", seq),
        phone="13853712345",
    )


def organization() -> CounterpartyInput:
    return CounterpartyInput(
        name="济宁鲁兴餐饮管理有限公司",
        kind=CounterpartyKind.ORGANIZATION,
        credit_code=make_credit_code("91370800MA3C4D5E6"),
    )


async def decision(
    actor: User, item_: ApprovalItem, *, now: datetime, number: str | None = None, seq: int = 1
) -> Decision:
    data = DecisionInput(
        item_id=item_.id,
        document_number=number or f"济审批〔2026〕{next(_n)}号",
        content="准予许可",
        approved_on=now.astimezone(SHANGHAI).date(),
        counterparty=person(seq),
        valid_from=date(2026, 1, 1),
        valid_until=date(2031, 1, 1),
    )
    row, _ = await issue_decision(actor, data, now=now)
    return row
