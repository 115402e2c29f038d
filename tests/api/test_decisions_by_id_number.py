"""decisions(idNumber:) finds a counterparty's decisions by keyed hash; the output stays masked."""

from __future__ import annotations

from models.enums import DepartmentKind, Role
from tests import factories as f
from tests.api.conftest import Gql

NOW = f.at(2026, 3, 2)
BY_ID = """query($n: String) { decisions(idNumber: $n) { totalCount edges { node { documentNumber
  counterparty { idNumber phone } } } } }"""


async def test_decisions_by_id_number_are_exact_scoped_and_masked(db: str, gql: Gql) -> None:
    issuer = await f.user(await f.department(DepartmentKind.APPROVAL), Role.OFFICER)
    outsider = await f.user(await f.department(), Role.OFFICER)
    item = await f.item(await f.department())
    await f.decision(issuer, item, now=NOW, number="甲-1", seq=1)
    await f.decision(issuer, item, now=NOW, number="甲-2", seq=2)
    number = f.person(1).id_number
    assert number is not None
    found = (await gql(BY_ID, {"n": number}, user=issuer))["data"]["decisions"]
    assert found["totalCount"] == 1
    assert found["edges"][0]["node"] == {
        "documentNumber": "甲-1",
        "counterparty": {"idNumber": number[:6] + "********" + number[-4:], "phone": "138****2345"},
    }
    assert (await gql(BY_ID, {"n": f" {number.lower()} "}, user=issuer))["data"]["decisions"]["totalCount"] == 1
    assert (await gql(BY_ID, {"n": number}, user=outsider))["data"]["decisions"]["totalCount"] == 0
    assert (await gql(BY_ID, {"n": None}, user=issuer))["data"]["decisions"]["totalCount"] == 2


async def test_the_inbox_reads_its_decisions_counterparty_opened_and_masked(db: str, gql: Gql) -> None:
    """The inbox page loads decisions in the same statement (select_related): those open too."""
    issuer = await f.user(await f.department(DepartmentKind.APPROVAL), Role.OFFICER)
    market = await f.department()
    receiver = await f.user(market, Role.OFFICER)
    await f.decision(issuer, await f.item(market), now=NOW, seq=3)
    number = f.person(3).id_number
    assert number is not None
    query = "{ inbox { edges { node { decision { counterparty { idNumber phone } } } } } }"
    (edge,) = (await gql(query, user=receiver, now=NOW))["data"]["inbox"]["edges"]
    assert edge["node"]["decision"]["counterparty"] == {
        "idNumber": number[:6] + "********" + number[-4:],
        "phone": "138****2345",
    }
