"""Art. 8 and 23: the item catalogue and where a decision is routed, by responsibility kind and level."""

from __future__ import annotations

import pytest

from models.account import Department
from models.catalogue import ApprovalItem, create_approval_item, route_decision
from models.enums import AdminLevel, DepartmentKind, ResponsibilityKind
from models.errors import DomainError, ValidationErrors
from tests import factories as f

N, A, FI, D, E = (
    ResponsibilityKind.NORMAL,
    ResponsibilityKind.ABOLISHED,
    ResponsibilityKind.FILING,
    ResponsibilityKind.DELEGATED,
    ResponsibilityKind.ENTRUSTED,
)
# Issuers: the city bureau and two county bureaus; supervisors: two at city level, one in each county.
ISSUERS = {
    "city": (AdminLevel.CITY, "370800"),
    "rencheng": (AdminLevel.COUNTY, "370811"),
    "yanzhou": (AdminLevel.COUNTY, "370812"),
}
SUPERVISORS = {
    "city_market": (AdminLevel.CITY, "370800"),
    "city_health": (AdminLevel.CITY, "370800"),
    "rencheng_market": (AdminLevel.COUNTY, "370811"),
    "yanzhou_market": (AdminLevel.COUNTY, "370812"),
}


async def departments() -> dict[str, Department]:
    made = {}
    for name, (level, region) in ISSUERS.items():
        made[name] = await f.department(DepartmentKind.APPROVAL, level, region, code=name)
    for name, (level, region) in SUPERVISORS.items():
        made[name] = await f.department(DepartmentKind.SUPERVISION, level, region, code=name)
    return made


async def make_item(depts: dict[str, Department], kind: ResponsibilityKind, *supervisors: str) -> ApprovalItem:
    return await create_approval_item(
        code=f"ITEM-{kind.value}",
        name="事项",
        legal_basis="依据",
        commitment_based=False,
        joint_inspection=False,
        supervising_department_ids=[depts[s].id for s in supervisors],
        responsibility=kind,
    )


ALL = ("city_market", "city_health", "rencheng_market", "yanzhou_market")


@pytest.mark.parametrize(
    ("kind", "listed", "issuer", "expected"),
    [
        (N, ALL, "city", ["city_market", "city_health"]),
        (N, ALL, "rencheng", ["rencheng_market"]),
        (N, ALL, "yanzhou", ["yanzhou_market"]),
        (N, ("city_market", "yanzhou_market"), "rencheng", "NO_SUPERVISING_DEPARTMENT"),
        (N, ("rencheng_market",), "city", "NO_SUPERVISING_DEPARTMENT"),
        (D, ALL, "city", "ITEM_DELEGATED"),
        (D, ALL, "rencheng", ["rencheng_market"]),
        (D, ("city_market",), "rencheng", "NO_SUPERVISING_DEPARTMENT"),
        (A, (), "city", "ITEM_ABOLISHED"),
        (A, ALL, "yanzhou", "ITEM_ABOLISHED"),
        (E, ("yanzhou_market", "city_health"), "rencheng", ["city_health", "yanzhou_market"]),
        (E, ("rencheng_market",), "city", ["rencheng_market"]),
        (FI, ("city_market", "rencheng_market"), "yanzhou", ["city_market", "rencheng_market"]),
    ],
)
async def test_art_23_routing(
    db: str, kind: ResponsibilityKind, listed: tuple[str, ...], issuer: str, expected: list[str] | str
) -> None:
    depts = await departments()
    item = await make_item(depts, kind, *listed)
    if isinstance(expected, str):
        with pytest.raises(DomainError) as caught:
            await route_decision(item, depts[issuer])
        assert (caught.value.code, caught.value.field) == (expected, "itemId")
    else:
        assert [d.code for d in await route_decision(item, depts[issuer])] == expected


async def test_item_needs_existing_supervision_departments(db: str) -> None:
    depts = await departments()
    with pytest.raises(DomainError) as caught:
        await make_item(depts, N)
    assert (caught.value.code, caught.value.field) == ("REQUIRED", "supervisingDepartmentIds")
    with pytest.raises(DomainError) as caught:
        await make_item(depts, N, "city")
    assert (caught.value.code, caught.value.field) == ("NOT_A_SUPERVISION_DEPARTMENT", "supervisingDepartmentIds")
    with pytest.raises(DomainError) as caught:
        await create_approval_item(
            code="X1",
            name="事项",
            legal_basis="依据",
            commitment_based=False,
            joint_inspection=False,
            supervising_department_ids=[99999],
        )
    assert (caught.value.code, caught.value.field) == ("DEPARTMENT_NOT_FOUND", "supervisingDepartmentIds")
    assert await ApprovalItem.all().count() == 0


async def test_item_code_is_unique_and_every_bad_field_is_reported(db: str) -> None:
    depts = await departments()
    await make_item(depts, N, "city_market")
    with pytest.raises(ValidationErrors) as caught:
        await create_approval_item(
            code="ITEM-NORMAL",
            name=" ",
            legal_basis="依" * 513,
            commitment_based=False,
            joint_inspection=False,
            supervising_department_ids=[depts["city_market"].id],
        )
    assert [(e.code, e.field) for e in caught.value.errors] == [
        ("DUPLICATE_CODE", "code"),
        ("REQUIRED", "name"),
        ("TOO_LONG", "legalBasis"),
    ]
    assert await ApprovalItem.all().count() == 1


async def test_supervisor_listed_twice_is_routed_once(db: str) -> None:
    depts = await departments()
    item = await create_approval_item(
        code="TWICE",
        name="事项",
        legal_basis="依据",
        commitment_based=False,
        joint_inspection=False,
        supervising_department_ids=[depts["city_market"].id, depts["city_market"].id],
    )
    assert [d.code for d in await route_decision(item, depts["city"])] == ["city_market"]
