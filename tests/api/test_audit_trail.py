"""Art. 9 through the schema: every mutation, login and reveal is audited; only auditors read the trail."""

from __future__ import annotations

from typing import Any

import pytest

from api.graphql.base import to_global_id
from models.account import Department, User
from models.audit import AuditRecord, verify_chain
from models.enums import DepartmentKind, Role
from tests import factories as f
from tests.api.conftest import Gql

NOW = f.at(2026, 3, 2)
RECORDS = """query($first: Int, $after: String, $actor: ID, $type: String, $from: DateTime, $to: DateTime) {
  auditRecords(first: $first, after: $after, actorId: $actor, objectType: $type, from: $from, to: $to) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id action actorId departmentId objectType objectId address detail at prevHash rowHash } } } }"""
CREATE_DEPARTMENT = """mutation($code: String!) { createDepartment(input: {code: $code, name: "审计测试部门",
  kind: SUPERVISION, level: CITY, regionCode: "370800"}) { department { id } errors { code } } }"""
LOGIN = """mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token errors { code } } }"""
REVEAL = """mutation($id: ID!) { revealCounterparty(decisionId: $id) { counterparty { idNumber } errors { code } } }"""


async def people() -> dict[str, User]:
    dept = await f.department()
    approval = await f.department(DepartmentKind.APPROVAL)
    return {
        "auditor": await f.user(dept, Role.AUDITOR, username="shen_ji"),
        "admin": await f.user(dept, Role.ADMIN, username="guan_li"),
        "officer": await f.user(approval, Role.OFFICER, username="jing_ban"),
        "liaison": await f.user(dept, Role.LIAISON, Role.OFFICER),
        "leader": await f.user(dept, Role.LEADER),
        "integration": await f.user(approval, Role.INTEGRATION),
    }


def nodes(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert result["errors"] == [], result["errors"]
    return [e["node"] for e in result["data"]["auditRecords"]["edges"]]


async def test_a_mutation_is_audited_with_who_what_which_record_and_where(db: str, gql: Gql) -> None:
    p = await people()
    result = await gql(CREATE_DEPARTMENT, {"code": "AUDIT-1"}, user=p["admin"], now=NOW)
    created = result["data"]["createDepartment"]["department"]["id"]
    (row,) = nodes(await gql(RECORDS, {"type": "Department"}, user=p["auditor"]))
    assert row["action"] == "createDepartment"
    assert (row["actorId"], row["departmentId"]) == (
        to_global_id("User", p["admin"].id),
        to_global_id("Department", p["admin"].department_id),
    )
    assert (row["objectType"], to_global_id("Department", int(row["objectId"]))) == ("Department", created)
    assert (row["address"], row["detail"]) == ("127.0.0.1", {"code": "AUDIT-1"})
    assert len(row["rowHash"]) == 64 and row["prevHash"] == ""


async def test_login_success_failure_and_reveal_are_audited(db: str, gql: Gql) -> None:
    p = await people()
    market = await f.department()
    decision = await f.decision(p["officer"], await f.item(market), now=NOW)
    await gql(LOGIN, {"u": "jing_ban", "p": f.PASSWORD}, now=NOW)
    await gql(LOGIN, {"u": "jing_ban", "p": "Wrong-Pass-2026!"}, now=NOW)
    shown = await gql(REVEAL, {"id": to_global_id("ApprovalDecision", decision.id)}, user=p["officer"], now=NOW)
    assert shown["data"]["revealCounterparty"]["errors"] == []
    rows = nodes(await gql(RECORDS, {}, user=p["auditor"]))
    assert [(r["action"], r["objectType"]) for r in rows] == [
        ("login", "User"),
        ("login_failed", ""),
        ("reveal_counterparty", "Decision"),
    ]
    assert rows[1]["detail"] == {"username": "jing_ban"} and rows[1]["actorId"] is None
    assert rows[2]["objectId"] == str(decision.id) and rows[2]["actorId"] == to_global_id("User", p["officer"].id)
    assert [r["prevHash"] for r in rows[1:]] == [r["rowHash"] for r in rows[:-1]]


async def test_auditors_page_and_filter_the_trail(db: str, gql: Gql) -> None:
    p = await people()
    for n in range(3):
        await gql(CREATE_DEPARTMENT, {"code": f"A-{n}"}, user=p["admin"], now=NOW)
    await gql(LOGIN, {"u": "guan_li", "p": "Wrong-Pass-2026!"}, now=NOW)
    first = (await gql(RECORDS, {"first": 2}, user=p["auditor"]))["data"]["auditRecords"]
    assert (first["totalCount"], first["pageInfo"]["hasNextPage"], len(first["edges"])) == (4, True, 2)
    rest = nodes(await gql(RECORDS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, user=p["auditor"]))
    assert [r["action"] for r in rest] == ["createDepartment", "login_failed"]
    by_admin = nodes(await gql(RECORDS, {"actor": to_global_id("User", p["admin"].id)}, user=p["auditor"]))
    assert [r["action"] for r in by_admin] == ["createDepartment"] * 3
    ats = sorted(r.at for r in await AuditRecord.all())
    window = {"from": ats[1].isoformat(), "to": ats[3].isoformat()}
    assert len(nodes(await gql(RECORDS, window, user=p["auditor"]))) == 2  # from inclusive, to exclusive
    assert nodes(await gql(RECORDS, {"type": "Nothing"}, user=p["auditor"])) == []


@pytest.mark.parametrize("who", ["admin", "officer", "liaison", "leader", "integration"])
async def test_everyone_but_an_auditor_is_forbidden_the_trail(db: str, gql: Gql, who: str) -> None:
    p = await people()
    await gql(LOGIN, {"u": "guan_li", "p": "Wrong-Pass-2026!"}, now=NOW)
    result = await gql(RECORDS, {}, user=p[who])
    assert result["data"] is None
    assert [e["code"] for e in result["errors"]] == ["FORBIDDEN"]


async def test_anonymous_callers_must_sign_in_first(db: str, gql: Gql) -> None:
    result = await gql(RECORDS, {})
    assert [e["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


async def test_a_bad_actor_id_is_a_typed_input_error(db: str, gql: Gql) -> None:
    p = await people()
    result = await gql(RECORDS, {"actor": to_global_id("Department", 1)}, user=p["auditor"])
    assert [e["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]


async def test_an_auditor_sees_no_full_personal_data(db: str, gql: Gql) -> None:
    p = await people()
    decision = await f.decision(p["officer"], await f.item(await f.department()), now=NOW)
    result = await gql(REVEAL, {"id": to_global_id("ApprovalDecision", decision.id)}, user=p["auditor"], now=NOW)
    assert [e["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert await AuditRecord.filter(action="reveal_counterparty").count() == 0


async def test_no_mutation_edits_or_deletes_audit_records(db: str, gql: Gql) -> None:
    admin = await f.user(await f.department(DepartmentKind.APPROVAL), Role.ADMIN)
    result = await gql("{ __schema { mutationType { fields { name } } } }", user=admin)
    names = [m["name"].lower() for m in result["data"]["__schema"]["mutationType"]["fields"]]
    assert names and not [n for n in names if "audit" in n]


CREATE_USER = """mutation($i: CreateUserInput!) { createUser(input: $i) { user { roles } errors { code field } } }"""


async def test_only_an_admin_grants_the_auditor_role(db: str, gql: Gql) -> None:
    p = await people()
    dept = to_global_id("Department", p["liaison"].department_id)
    new = {"username": "xin_shen_ji", "password": "Strong-Pass-1", "displayName": "审计员", "departmentId": dept}
    refused = await gql(CREATE_USER, {"i": {**new, "roles": ["AUDITOR"]}}, user=p["liaison"], now=NOW)
    assert refused["data"]["createUser"] == {"user": None, "errors": [{"code": "FORBIDDEN", "field": "roles"}]}
    assert not await User.filter(username="xin_shen_ji").exists()
    granted = await gql(CREATE_USER, {"i": {**new, "roles": ["AUDITOR"]}}, user=p["admin"], now=NOW)
    assert granted["data"]["createUser"] == {"user": {"roles": ["AUDITOR"]}, "errors": []}


async def test_refused_mutations_are_audited_though_nothing_was_written(db: str, gql: Gql) -> None:
    """A missing role, a missing sign-in and a foreign object: each refusal leaves one record."""
    p = await people()
    by_role = await gql(
        'mutation { made: createDepartment(input: {code: "DENIED-1", name: "越权部门", kind: SUPERVISION, '
        'level: CITY, regionCode: "370800"}) { errors { code } } }',
        user=p["leader"],
        now=NOW,
    )
    assert by_role["errors"][0]["code"] == "FORBIDDEN"
    anonymous = await gql(CREATE_DEPARTMENT, {"code": "DENIED-2"}, now=NOW)
    assert anonymous["errors"][0]["code"] == "UNAUTHENTICATED"
    other = await f.department()
    foreign = await gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { errors { code } } }",
        {
            "i": {
                "username": "yue_quan",
                "password": "Matrix-Pass-2026!",
                "displayName": "越权账号",
                "departmentId": to_global_id("Department", other.id),
                "roles": ["OFFICER"],
            }
        },
        user=p["liaison"],  # a liaison officer manages the accounts of their own department only
        now=NOW,
    )
    assert foreign["data"]["createUser"]["errors"] == [{"code": "FORBIDDEN"}]
    assert await Department.filter(code__startswith="DENIED").count() == 0
    assert await User.filter(username="yue_quan").count() == 0

    rows = [r for r in nodes(await gql(RECORDS, {}, user=p["auditor"])) if r["detail"].get("outcome") == "DENIED"]
    assert [(r["action"], r["detail"]["code"], r["actorId"]) for r in rows] == [
        ("createDepartment", "FORBIDDEN", to_global_id("User", p["leader"].id)),
        ("createDepartment", "UNAUTHENTICATED", None),
        ("createUser", "FORBIDDEN", to_global_id("User", p["liaison"].id)),
    ]
    assert all(r["address"] == "127.0.0.1" for r in rows)
    assert (await verify_chain()).broken is None
