"""Who may do what (Art. 27–28), parametrised over anonymous, wrong department, wrong role and right role.

"Who may call this field" is a top-level GraphQL error (UNAUTHENTICATED / FORBIDDEN); "may this actor act
on this object" is a typed error in the payload. Either way nothing is written. Every list and every
object is scoped: guessing a global id of another department's user gives null.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.graphql.base import to_global_id
from models.account import LiaisonAppointment, User, appoint_liaison
from models.claim import claim_push
from models.decision import DecisionPush
from models.enums import DepartmentKind, Role
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_accounts import counts

NOW = f.at(2026, 9, 30)
OK = ("ok",)


def top(code: str) -> tuple[str, ...]:
    return ("top", code)


def payload(code: str, field: str) -> tuple[str, ...]:
    return ("payload", code, field)


def gid(type_name: str, pk: int) -> str:
    return str(to_global_id(type_name, pk))


@pytest.fixture
async def world(db: str) -> dict[str, Any]:
    """An approval bureau P, supervision departments A and B (and C, which receives nothing), their people,
    and two decisions: d1 pushed to A only, d2 pushed to A and B."""
    p = await f.department(DepartmentKind.APPROVAL, code="JN-SP", name="市行政审批服务局")
    a = await f.department(code="JN-SCJG", name="市市场监督管理局")
    b = await f.department(code="JN-ZJ", name="市住房和城乡建设局")
    c = await f.department(code="JN-YJ", name="市应急管理局")
    w: dict[str, Any] = {"p": p, "a": a, "b": b, "c": c}
    w["admin"] = await f.user(p, Role.ADMIN, username="admin")
    w["issuer"] = await f.user(p, Role.OFFICER, username="sp_officer")
    w["liaison_a"] = await f.user(a, Role.LIAISON, Role.OFFICER, username="a_liaison")
    w["officer_a"] = await f.user(a, Role.OFFICER, username="a_officer")
    w["leader_a"] = await f.user(a, Role.LEADER, username="a_leader")
    w["deputy_a"] = await f.user(a, Role.OFFICER, username="a_deputy")
    w["admin_in_a"] = await f.user(a, Role.ADMIN, username="a_admin")
    w["liaison_b"] = await f.user(b, Role.LIAISON, Role.OFFICER, username="b_liaison")
    w["officer_b"] = await f.user(b, Role.OFFICER, username="b_officer")
    w["officer_c"] = await f.user(c, Role.OFFICER, username="c_officer")
    w["term_a"] = await appoint_liaison(
        w["admin"], department_id=a.id, user_id=w["deputy_a"].id, title="副科长", phone="13853712345", now=NOW
    )
    w["d1"] = await f.decision(w["issuer"], await f.item(a), now=NOW, seq=1)
    w["d2"] = await f.decision(w["issuer"], await f.item(a, b), now=NOW, seq=2)
    w["push_b"] = await DecisionPush.get(decision_id=w["d2"].id, department_id=b.id)
    return w


async def check(
    gql: Gql, world: dict[str, Any], actor: str | None, query: str, variables: dict[str, Any], expected: tuple[str, ...]
) -> dict[str, Any]:
    """Run a mutation as the actor and check the outcome; a refusal writes nothing but its audit record."""
    before = await counts()
    result = await gql(query, variables, user=world[actor] if actor else None, now=NOW)
    name = next(iter(result["data"] or {"?": None}))
    if expected[0] == "top":
        assert (result["data"], [e["code"] for e in result["errors"]]) == (None, [expected[1]])
    elif expected[0] == "payload":
        assert result["errors"] == []
        assert [(e["code"], e["field"]) for e in result["data"][name]["errors"]] == [expected[1:]]
    else:
        assert result["errors"] == []
        assert result["data"][name]["errors"] == []
        return result
    refused = expected[1] in ("FORBIDDEN", "UNAUTHENTICATED")  # a hidden object (…_NOT_FOUND) is no refusal
    assert await counts() == {**before, "audit": before["audit"] + refused}
    return result


ACTORS = ["anonymous", "wrong_role", "wrong_department", "right_role", "admin"]


def actor_of(kind: str, *, right: str, wrong_role: str, wrong_department: str) -> str | None:
    return {
        "anonymous": None,
        "wrong_role": wrong_role,
        "wrong_department": wrong_department,
        "right_role": right,
        "admin": "admin",
    }[kind]


# --- createUser ---------------------------------------------------------------------------------

CREATE_USER = """mutation($i: CreateUserInput!) { createUser(input: $i) {
  user { username department { code } } errors { code field } } }"""


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("anonymous", top("UNAUTHENTICATED")),
        ("wrong_role", top("FORBIDDEN")),
        ("wrong_department", payload("FORBIDDEN", "departmentId")),
        ("right_role", OK),
        ("admin", OK),
    ],
)
async def test_create_user_is_for_admins_and_the_departments_own_liaison(
    gql: Gql, world: dict[str, Any], kind: str, expected: tuple[str, ...]
) -> None:
    actor = actor_of(kind, right="liaison_a", wrong_role="officer_a", wrong_department="liaison_b")
    variables = {
        "i": {
            "username": "a_new",
            "password": "Strong-Pass-1",
            "displayName": "新同事",
            "departmentId": gid("Department", world["a"].id),
            "roles": ["OFFICER"],
        }
    }
    result = await check(gql, world, actor, CREATE_USER, variables, expected)
    if expected == OK:
        assert result["data"]["createUser"]["user"] == {"username": "a_new", "department": {"code": "JN-SCJG"}}


@pytest.mark.parametrize("actor", ["leader_a", "officer_c"])
async def test_leaders_and_officers_cannot_create_users_anywhere(gql: Gql, world: dict[str, Any], actor: str) -> None:
    variables = {
        "i": {
            "username": "x_new",
            "password": "Strong-Pass-1",
            "displayName": "新同事",
            "departmentId": gid("Department", world[actor].department_id),
            "roles": ["OFFICER"],
        }
    }
    await check(gql, world, actor, CREATE_USER, variables, top("FORBIDDEN"))


async def test_only_an_admin_grants_the_admin_role(gql: Gql, world: dict[str, Any]) -> None:
    variables = {
        "i": {
            "username": "a_new",
            "password": "Strong-Pass-1",
            "displayName": "新同事",
            "departmentId": gid("Department", world["a"].id),
            "roles": ["OFFICER", "ADMIN"],
        }
    }
    await check(gql, world, "liaison_a", CREATE_USER, variables, payload("FORBIDDEN", "roles"))
    await check(gql, world, "admin", CREATE_USER, variables, OK)


# --- createDepartment and createApprovalItem: admins only ----------------------------------------

CREATE_DEPARTMENT = """mutation($i: CreateDepartmentInput!) {
  createDepartment(input: $i) { department { code } errors { code field } } }"""
CREATE_ITEM = """mutation($i: CreateApprovalItemInput!) {
  createApprovalItem(input: $i) { approvalItem { code } errors { code field } } }"""


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("anonymous", top("UNAUTHENTICATED")),
        ("wrong_role", top("FORBIDDEN")),
        ("wrong_department", top("FORBIDDEN")),
        ("right_role", top("FORBIDDEN")),
        ("admin", OK),
    ],
)
async def test_departments_and_items_are_added_by_admins_only(
    gql: Gql, world: dict[str, Any], kind: str, expected: tuple[str, ...]
) -> None:
    actor = actor_of(kind, right="liaison_a", wrong_role="officer_a", wrong_department="liaison_b")
    department = {"code": "JN-WJ", "name": "市卫生健康委员会", "kind": "SUPERVISION", "level": "CITY"}
    await check(gql, world, actor, CREATE_DEPARTMENT, {"i": department}, expected)
    item = {
        "code": "ITEM-NEW",
        "name": "公共场所卫生许可",
        "legalBasis": "《公共场所卫生管理条例》第八条",
        "supervisingDepartmentIds": [gid("Department", world["a"].id)],
    }
    await check(gql, world, actor, CREATE_ITEM, {"i": item}, expected)


# --- appointLiaison, endLiaison, setUserActive ----------------------------------------------------

APPOINT = "mutation($i: AppointLiaisonInput!) { appointLiaison(input: $i) { liaison { title } errors { code field } } }"
END = "mutation($id: ID!) { endLiaison(id: $id) { liaison { isActive } errors { code field } } }"
SET_ACTIVE = """mutation($id: ID!, $a: Boolean!) {
  setUserActive(id: $id, active: $a) { user { isActive } errors { code field } } }"""


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("anonymous", top("UNAUTHENTICATED")),
        ("wrong_role", top("FORBIDDEN")),
        ("wrong_department", payload("FORBIDDEN", "departmentId")),
        ("right_role", OK),
        ("admin", OK),
    ],
)
async def test_appoint_liaison_is_for_admins_and_the_departments_own_liaison(
    gql: Gql, world: dict[str, Any], kind: str, expected: tuple[str, ...]
) -> None:
    actor = actor_of(kind, right="liaison_a", wrong_role="officer_a", wrong_department="liaison_b")
    variables = {
        "i": {
            "departmentId": gid("Department", world["a"].id),
            "userId": gid("User", world["leader_a"].id),
            "title": "办公室主任",
            "phone": "13905371234",
        }
    }
    await check(gql, world, actor, APPOINT, variables, expected)
    roles = (await User.get(id=world["leader_a"].id)).roles
    assert roles == (["LEADER", "LIAISON"] if expected == OK else ["LEADER"])


async def test_a_liaison_cannot_appoint_another_departments_user_nor_learn_it_exists(
    gql: Gql, world: dict[str, Any]
) -> None:
    variables = {
        "i": {
            "departmentId": gid("Department", world["a"].id),
            "userId": gid("User", world["officer_b"].id),
            "title": "办公室主任",
            "phone": "13905371234",
        }
    }
    await check(gql, world, "liaison_a", APPOINT, variables, payload("USER_NOT_FOUND", "userId"))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("anonymous", top("UNAUTHENTICATED")),
        ("wrong_role", top("FORBIDDEN")),
        ("wrong_department", payload("LIAISON_NOT_FOUND", "id")),
        ("right_role", OK),
        ("admin", OK),
    ],
)
async def test_end_liaison_is_for_admins_and_the_departments_own_liaison(
    gql: Gql, world: dict[str, Any], kind: str, expected: tuple[str, ...]
) -> None:
    actor = actor_of(kind, right="liaison_a", wrong_role="officer_a", wrong_department="liaison_b")
    await check(gql, world, actor, END, {"id": gid("Liaison", world["term_a"].id)}, expected)
    assert (await LiaisonAppointment.get(id=world["term_a"].id)).is_active is (expected != OK)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("anonymous", top("UNAUTHENTICATED")),
        ("wrong_role", top("FORBIDDEN")),
        ("wrong_department", payload("USER_NOT_FOUND", "id")),
        ("right_role", OK),
        ("admin", OK),
    ],
)
async def test_set_user_active_is_for_admins_and_the_departments_own_liaison(
    gql: Gql, world: dict[str, Any], kind: str, expected: tuple[str, ...]
) -> None:
    actor = actor_of(kind, right="liaison_a", wrong_role="leader_a", wrong_department="liaison_b")
    await check(gql, world, actor, SET_ACTIVE, {"id": gid("User", world["officer_a"].id), "a": False}, expected)
    assert (await User.get(id=world["officer_a"].id)).is_active is (expected != OK)


async def test_a_liaison_cannot_disable_an_admin_nor_themselves(gql: Gql, world: dict[str, Any]) -> None:
    await check(
        gql,
        world,
        "liaison_a",
        SET_ACTIVE,
        {"id": gid("User", world["admin_in_a"].id), "a": False},
        payload("FORBIDDEN", "id"),
    )
    await check(
        gql,
        world,
        "liaison_a",
        SET_ACTIVE,
        {"id": gid("User", world["liaison_a"].id), "a": False},
        payload("CANNOT_DISABLE_SELF", "id"),
    )
    await check(gql, world, "admin", SET_ACTIVE, {"id": gid("User", world["admin_in_a"].id), "a": False}, OK)


# --- reading: users, node(id:), decisions, inbox ---------------------------------------------------

A_USERS = ["a_liaison", "a_officer", "a_leader", "a_deputy", "a_admin"]
B_USERS = ["b_liaison", "b_officer"]


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("officer_a", A_USERS),
        ("leader_a", A_USERS),
        ("liaison_b", B_USERS),
        ("officer_c", ["c_officer"]),
        ("admin", ["admin", "sp_officer", *A_USERS, *B_USERS, "c_officer"]),
    ],
)
async def test_users_lists_only_the_viewers_department(
    gql: Gql, world: dict[str, Any], actor: str, expected: list[str]
) -> None:
    result = await gql("{ users(first: 50) { totalCount edges { node { username } } } }", user=world[actor])
    assert result["errors"] == []
    assert result["data"]["users"]["totalCount"] == len(expected)
    assert [e["node"]["username"] for e in result["data"]["users"]["edges"]] == expected


async def test_anonymous_reads_nothing_but_me(gql: Gql, world: dict[str, Any]) -> None:
    assert await gql("{ me { username } }") == {"data": {"me": None}, "errors": []}
    for query in (
        "{ users { totalCount } }",
        "{ decisions { totalCount } }",
        "{ inbox { totalCount } }",
        "{ departments { totalCount } }",
        "{ approvalItems { totalCount } }",
    ):
        result = await gql(query)
        assert (result["data"], [e["code"] for e in result["errors"]]) == (None, ["UNAUTHENTICATED"]), query
    node = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": gid("Department", world["a"].id)})
    assert (node["data"], [e["code"] for e in node["errors"]]) == ({"node": None}, ["UNAUTHENTICATED"])


NODE_USER = "query($id: ID!) { node(id: $id) { ... on User { username department { code } } } }"


@pytest.mark.parametrize(
    ("kind", "visible"),
    [("wrong_department", False), ("wrong_role", True), ("right_role", True), ("admin", True)],
)
async def test_a_user_of_another_department_cannot_be_read_by_global_id(
    gql: Gql, world: dict[str, Any], kind: str, visible: bool
) -> None:
    actor = actor_of(kind, right="liaison_b", wrong_role="officer_b", wrong_department="liaison_a")
    assert actor is not None
    result = await gql(NODE_USER, {"id": gid("User", world["officer_b"].id)}, user=world[actor])
    assert result == {
        "errors": [],
        "data": {"node": {"username": "b_officer", "department": {"code": "JN-ZJ"}} if visible else None},
    }


@pytest.mark.parametrize("value", ["garbage", "", gid("User", 424242), gid("Nothing", 1), "VXNlcjp4"])
async def test_node_of_a_malformed_or_missing_id_is_null(gql: Gql, world: dict[str, Any], value: str) -> None:
    assert await gql(NODE_USER, {"id": value}, user=world["admin"]) == {"data": {"node": None}, "errors": []}


async def test_node_of_an_id_beyond_any_key_is_null(gql: Gql, world: dict[str, Any]) -> None:
    result = await gql(NODE_USER, {"id": gid("User", 10**20)}, user=world["admin"])
    assert result == {"data": {"node": None}, "errors": []}


async def test_liaisons_of_another_department_show_the_term_but_not_the_account(
    gql: Gql, world: dict[str, Any]
) -> None:
    query = "query($id: ID!) { node(id: $id) { ... on Department { liaisons { title phone user { username } } } } }"
    dept_a = gid("Department", world["a"].id)
    outside = await gql(query, {"id": dept_a}, user=world["officer_b"])
    assert outside["data"]["node"]["liaisons"] == [{"title": "副科长", "phone": "138****2345", "user": None}]
    inside = await gql(query, {"id": dept_a}, user=world["officer_a"])
    assert inside["data"]["node"]["liaisons"] == [
        {"title": "副科长", "phone": "138****2345", "user": {"username": "a_deputy"}}
    ]


DECISIONS = "{ decisions { totalCount edges { node { documentNumber pushes { department { code } } } } } }"


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("issuer", {"d1": ["JN-SCJG"], "d2": ["JN-SCJG", "JN-ZJ"]}),  # the issuer sees every push
        ("officer_a", {"d1": ["JN-SCJG"], "d2": ["JN-SCJG"]}),  # a receiver sees its own push only
        ("leader_a", {"d1": ["JN-SCJG"], "d2": ["JN-SCJG"]}),
        ("officer_b", {"d2": ["JN-ZJ"]}),
        ("officer_c", {}),
        ("admin", {"d1": ["JN-SCJG"], "d2": ["JN-SCJG", "JN-ZJ"]}),
    ],
)
async def test_decisions_are_those_the_department_issued_or_received(
    gql: Gql, world: dict[str, Any], actor: str, expected: dict[str, list[str]]
) -> None:
    result = await gql(DECISIONS, user=world[actor], now=NOW)
    assert result["errors"] == []
    numbers = {world[k].document_number: k for k in ("d1", "d2")}
    seen = {
        numbers[e["node"]["documentNumber"]]: [p["department"]["code"] for p in e["node"]["pushes"]]
        for e in result["data"]["decisions"]["edges"]
    }
    assert (seen, result["data"]["decisions"]["totalCount"]) == (expected, len(expected))


@pytest.mark.parametrize(
    ("actor", "codes"),
    [("officer_a", ["JN-SCJG", "JN-SCJG"]), ("officer_b", ["JN-ZJ"]), ("officer_c", []), ("issuer", []), ("admin", [])],
)
async def test_inbox_holds_the_pushes_addressed_to_the_viewers_department(
    gql: Gql, world: dict[str, Any], actor: str, codes: list[str]
) -> None:
    result = await gql("{ inbox { totalCount edges { node { department { code } } } } }", user=world[actor], now=NOW)
    assert result["errors"] == []
    assert result["data"]["inbox"]["totalCount"] == len(codes)
    assert [e["node"]["department"]["code"] for e in result["data"]["inbox"]["edges"]] == codes


@pytest.mark.parametrize(
    ("actor", "decision_visible", "push_visible"),
    [
        ("officer_c", False, False),
        ("officer_a", True, False),
        ("officer_b", True, True),
        ("issuer", True, True),
        ("admin", True, True),
    ],
)
async def test_decisions_and_pushes_by_global_id_follow_the_same_scoping(
    gql: Gql, world: dict[str, Any], actor: str, decision_visible: bool, push_visible: bool
) -> None:
    query = "query($d: ID!, $p: ID!) { d: node(id: $d) { id } p: node(id: $p) { id } }"
    d_id, p_id = gid("ApprovalDecision", world["d2"].id), gid("DecisionPush", world["push_b"].id)
    result = await gql(query, {"d": d_id, "p": p_id}, user=world[actor], now=NOW)
    assert result == {
        "errors": [],
        "data": {"d": {"id": d_id} if decision_visible else None, "p": {"id": p_id} if push_visible else None},
    }


async def test_the_issuer_cannot_read_the_claiming_departments_account_through_claimed_by(
    gql: Gql, world: dict[str, Any]
) -> None:
    await claim_push(world["officer_b"], world["push_b"].id, now=NOW)
    query = "query($id: ID!) { node(id: $id) { ... on DecisionPush { status claimedBy { username } } } }"
    result = await gql(query, {"id": gid("DecisionPush", world["push_b"].id)}, user=world["issuer"], now=NOW)
    assert result["data"]["node"] == {"status": "CLAIMED", "claimedBy": None}


@pytest.mark.parametrize("cursor", ["garbage", "eHx5", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"])
async def test_a_malformed_cursor_is_a_readable_error(gql: Gql, world: dict[str, Any], cursor: str) -> None:
    result = await gql("query($a: String!) { users(after: $a) { totalCount } }", {"a": cursor}, user=world["admin"])
    assert (result["data"], [e["code"] for e in result["errors"]]) == (None, ["BAD_USER_INPUT"])
