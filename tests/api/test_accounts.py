"""Departments, accounts, liaison officers and the item catalogue through the API; login and tokens.

Bad input is a typed error naming the field, with nothing written; never a server error.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from api.app import create_app
from api.auth import issue_token
from api.graphql.base import to_global_id
from api.services import Services
from models.account import Department, LiaisonAppointment, User
from models.audit import AuditRecord
from models.calendar import SHANGHAI
from models.catalogue import ApprovalItem
from models.enums import DepartmentKind, Role
from models.event import Event
from models.settings import Settings
from tests import factories as f
from tests.api.conftest import Gql

ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))
MISSING = 424242  # a well-formed id of a row that does not exist

CREATE_DEPARTMENT = """mutation($i: CreateDepartmentInput!) { createDepartment(input: $i) {
  department { code name kind level regionCode parent { code } hasActiveLiaison } errors { code field message } } }"""
CREATE_USER = """mutation($i: CreateUserInput!) { createUser(input: $i) {
  user { username displayName roles isActive department { code } } errors { code field message } } }"""
APPOINT = """mutation($i: AppointLiaisonInput!) { appointLiaison(input: $i) {
  liaison { id title phone isActive user { username } department { code } } errors { code field message } } }"""
END = "mutation($id: ID!) { endLiaison(id: $id) { liaison { isActive } errors { code field } } }"
CREATE_ITEM = """mutation($i: CreateApprovalItemInput!) { createApprovalItem(input: $i) {
  approvalItem { code name legalBasis commitmentBased jointInspection responsibility isActive
                 supervisingDepartments { code } }
  errors { code field message } } }"""
SET_ACTIVE = """mutation($id: ID!, $a: Boolean!) {
  setUserActive(id: $id, active: $a) { user { isActive } errors { code field } } }"""
LOGIN = """mutation($u: String!, $p: String!) {
  login(username: $u, password: $p) { token user { username } errors { code field } } }"""
ME = "{ me { username department { code } } }"


def gid(type_name: str, pk: int) -> str:
    return str(to_global_id(type_name, pk))


async def counts() -> dict[str, int]:
    """Rows a mutation could write: each negative test proves these did not change."""
    return {
        "department": await Department.all().count(),
        "user": await User.all().count(),
        "liaison": await LiaisonAppointment.all().count(),
        "item": await ApprovalItem.all().count(),
        "audit": await AuditRecord.all().count(),
        "event": await Event.all().count(),
    }


def payload_errors(result: dict[str, Any], field: str) -> list[tuple[str, str | None]]:
    """The mutation's typed errors as (code, field), after checking it was no GraphQL error."""
    assert result["errors"] == []
    body = result["data"][field]
    assert next(v for k, v in body.items() if k != "errors") is None
    return [(e["code"], e["field"]) for e in body["errors"]]


@pytest.fixture
async def world(db: str) -> dict[str, Any]:
    approval = await f.department(DepartmentKind.APPROVAL, code="JN-SP", name="市行政审批服务局")
    scjg = await f.department(code="JN-SCJG", name="市市场监督管理局")
    zj = await f.department(code="JN-ZJ", name="市住房和城乡建设局")
    return {
        "approval": approval,
        "scjg": scjg,
        "zj": zj,
        "admin": await f.user(approval, Role.ADMIN, username="admin"),
        "officer": await f.user(scjg, Role.OFFICER, username="scjg_officer"),
        "other": await f.user(zj, Role.OFFICER, username="zj_officer"),
    }


# --- createDepartment --------------------------------------------------------------------------

DEPT = {"code": "JN-YJ", "name": "市应急管理局", "kind": "SUPERVISION", "level": "CITY", "regionCode": "370800"}


async def test_admin_creates_a_department_under_a_parent(gql: Gql, world: dict[str, Any]) -> None:
    result = await gql(
        CREATE_DEPARTMENT,
        {
            "i": {
                **DEPT,
                "code": " JN-YJ-RC ",
                "name": " 任城区应急管理局 ",
                "level": "COUNTY",
                "regionCode": "370811",
                "parentId": gid("Department", world["zj"].id),
            }
        },
        user=world["admin"],
    )
    assert result == {
        "errors": [],
        "data": {
            "createDepartment": {
                "errors": [],
                "department": {
                    "code": "JN-YJ-RC",
                    "name": "任城区应急管理局",
                    "kind": "SUPERVISION",
                    "level": "COUNTY",
                    "regionCode": "370811",
                    "parent": {"code": "JN-ZJ"},
                    "hasActiveLiaison": False,
                },
            }
        },
    }
    assert (await AuditRecord.get(action="createDepartment")).detail == {"code": " JN-YJ-RC "}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"code": "JN-SCJG"}, [("DUPLICATE_CODE", "code")]),
        ({"code": "JN SCJG!"}, [("INVALID_CODE", "code")]),
        ({"code": "X" * 10_000}, [("INVALID_CODE", "code")]),
        ({"name": "x" * 10_000}, [("TOO_LONG", "name")]),
        ({"name": "   "}, [("REQUIRED", "name")]),
        ({"name": "应急\x00管理局"}, [("INVALID_CHARACTERS", "name")]),
        ({"name": "应急\ud800"}, [("INVALID_CHARACTERS", "name")]),
        ({"regionCode": "370800\n"}, [("INVALID_REGION_CODE", "regionCode")]),
        ({"regionCode": "\uff13\uff17\uff10\uff18\uff10\uff10"}, [("INVALID_REGION_CODE", "regionCode")]),
        ({"regionCode": "x" * 10_000}, [("INVALID_REGION_CODE", "regionCode")]),
        ({"parentId": gid("Department", MISSING)}, [("DEPARTMENT_NOT_FOUND", "parentId")]),
        ({"parentId": "garbage"}, [("INVALID_ID", "parentId")]),
        ({"parentId": gid("User", 1)}, [("INVALID_ID", "parentId")]),
        (
            {"code": "JN-SCJG", "name": "x" * 129, "regionCode": "1"},
            [("DUPLICATE_CODE", "code"), ("TOO_LONG", "name"), ("INVALID_REGION_CODE", "regionCode")],
        ),
    ],
)
async def test_bad_department_input_is_a_typed_error_and_writes_nothing(
    gql: Gql, world: dict[str, Any], change: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    before = await counts()
    result = await gql(CREATE_DEPARTMENT, {"i": {**DEPT, **change}}, user=world["admin"])
    assert payload_errors(result, "createDepartment") == expected
    assert await counts() == before


# --- createUser --------------------------------------------------------------------------------


def user_input(world: dict[str, Any], **change: Any) -> dict[str, Any]:
    return {
        "username": "scjg_new",
        "password": "Strong-Pass-1",
        "displayName": "新同事",
        "departmentId": gid("Department", world["scjg"].id),
        "roles": ["OFFICER"],
        **change,
    }


async def test_admin_creates_an_account_that_can_sign_in(gql: Gql, world: dict[str, Any]) -> None:
    result = await gql(
        CREATE_USER, {"i": user_input(world, roles=["OFFICER", "LEADER", "OFFICER"])}, user=world["admin"]
    )
    assert result == {
        "errors": [],
        "data": {
            "createUser": {
                "errors": [],
                "user": {
                    "username": "scjg_new",
                    "displayName": "新同事",
                    "roles": ["LEADER", "OFFICER"],
                    "isActive": True,
                    "department": {"code": "JN-SCJG"},
                },
            }
        },
    }
    login = await gql(LOGIN, {"u": "scjg_new", "p": "Strong-Pass-1"})
    assert login["data"]["login"]["user"] == {"username": "scjg_new"}
    assert (await User.get(username="scjg_new")).password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"username": "scjg_officer"}, [("DUPLICATE_USERNAME", "username")]),
        ({"username": " scjg_officer "}, [("DUPLICATE_USERNAME", "username")]),
        ({"username": "Scjg New"}, [("INVALID_USERNAME", "username")]),
        ({"username": "x" * 10_000}, [("INVALID_USERNAME", "username")]),
        ({"username": "scjg\x00new"}, [("INVALID_USERNAME", "username")]),
        ({"password": "password"}, [("WEAK_PASSWORD", "password")]),
        ({"password": "alllowercaseletters"}, [("WEAK_PASSWORD", "password")]),
        ({"password": "Aa1!" * 2_500}, [("WEAK_PASSWORD", "password")]),
        ({"password": "Strong-Pass-1\ud800"}, [("INVALID_CHARACTERS", "password")]),
        ({"displayName": "x" * 10_000}, [("TOO_LONG", "displayName")]),
        ({"displayName": ""}, [("REQUIRED", "displayName")]),
        ({"displayName": "新\x00同事"}, [("INVALID_CHARACTERS", "displayName")]),
        ({"roles": []}, [("REQUIRED", "roles")]),
        ({"departmentId": gid("Department", MISSING)}, [("DEPARTMENT_NOT_FOUND", "departmentId")]),
        ({"departmentId": "garbage"}, [("INVALID_ID", "departmentId")]),
        ({"departmentId": "!!!"}, [("INVALID_ID", "departmentId")]),
        ({"departmentId": gid("ApprovalItem", 1)}, [("INVALID_ID", "departmentId")]),
        (
            {"username": "scjg_officer", "password": "short", "displayName": "x" * 65},
            [("DUPLICATE_USERNAME", "username"), ("WEAK_PASSWORD", "password"), ("TOO_LONG", "displayName")],
        ),
    ],
)
async def test_bad_user_input_is_a_typed_error_and_writes_nothing(
    gql: Gql, world: dict[str, Any], change: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    before = await counts()
    result = await gql(CREATE_USER, {"i": user_input(world, **change)}, user=world["admin"])
    assert payload_errors(result, "createUser") == expected
    assert await counts() == before


async def test_error_messages_are_readable_chinese(gql: Gql, world: dict[str, Any]) -> None:
    result = await gql(CREATE_USER, {"i": user_input(world, password="password")}, user=world["admin"])
    assert result["data"]["createUser"]["errors"] == [
        {
            "code": "WEAK_PASSWORD",
            "field": "password",
            "message": "密码至少10位，且须包含大写字母、小写字母、数字、符号中的至少三类",
        }
    ]


async def test_global_id_with_an_enormous_number_is_a_malformed_id(gql: Gql, world: dict[str, Any]) -> None:
    before = await counts()
    result = await gql(
        CREATE_USER, {"i": user_input(world, departmentId=gid("Department", 10**20))}, user=world["admin"]
    )
    assert payload_errors(result, "createUser") == [("INVALID_ID", "departmentId")]
    assert await counts() == before


# --- appointLiaison and the liaison history (Art. 27–28) ------------------------------------------


def liaison_input(dept: Department, user: User, **change: str) -> dict[str, str]:
    return {
        "departmentId": gid("Department", dept.id),
        "userId": gid("User", user.id),
        "title": "综合科科长",
        "phone": "13853712345",
        **change,
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"userId": "other"}, [("USER_NOT_IN_DEPARTMENT", "userId")]),
        ({"userId": "missing"}, [("USER_NOT_FOUND", "userId")]),
        ({"userId": "garbage"}, [("INVALID_ID", "userId")]),
        ({"departmentId": "missing"}, [("DEPARTMENT_NOT_FOUND", "departmentId")]),
        ({"departmentId": "garbage"}, [("INVALID_ID", "departmentId")]),
        ({"title": "x" * 10_000}, [("TOO_LONG", "title")]),
        ({"title": ""}, [("REQUIRED", "title")]),
        ({"phone": "12345"}, [("INVALID_PHONE", "phone")]),
        ({"phone": "1" * 10_000}, [("INVALID_PHONE", "phone")]),
        ({"phone": "1\uff13853712345"}, [("INVALID_PHONE", "phone")]),
        ({"title": "x" * 65, "phone": "x"}, [("TOO_LONG", "title"), ("INVALID_PHONE", "phone")]),
    ],
)
async def test_bad_liaison_input_is_a_typed_error_and_writes_nothing(
    gql: Gql, world: dict[str, Any], change: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    ids = {"other": gid("User", world["other"].id), "missing": gid("User", MISSING), "garbage": "garbage"}
    if "userId" in change:
        change = {**change, "userId": ids[change["userId"]]}
    if change.get("departmentId") == "missing":
        change = {**change, "departmentId": gid("Department", MISSING)}
    before = await counts()
    result = await gql(APPOINT, {"i": liaison_input(world["scjg"], world["officer"], **change)}, user=world["admin"])
    assert payload_errors(result, "appointLiaison") == expected
    assert await counts() == before
    assert (await User.get(id=world["officer"].id)).roles == ["OFFICER"]


async def test_a_disabled_account_or_a_serving_liaison_cannot_be_appointed(gql: Gql, world: dict[str, Any]) -> None:
    serving = await f.user(world["scjg"], Role.OFFICER)
    first = await gql(APPOINT, {"i": liaison_input(world["scjg"], serving)}, user=world["admin"])
    assert first["data"]["appointLiaison"]["errors"] == []
    disabled = await f.user(world["scjg"], Role.OFFICER)
    disabled.is_active = False
    await disabled.save()
    before = await counts()
    again = await gql(APPOINT, {"i": liaison_input(world["scjg"], serving)}, user=world["admin"])
    assert payload_errors(again, "appointLiaison") == [("ALREADY_LIAISON", "userId")]
    refused = await gql(APPOINT, {"i": liaison_input(world["scjg"], disabled)}, user=world["admin"])
    assert payload_errors(refused, "appointLiaison") == [("USER_DISABLED", "userId")]
    assert await counts() == before


LIAISONS = """query($id: ID!) { node(id: $id) { ... on Department {
  hasActiveLiaison liaisons { title phone startedAt endedAt isActive user { username } } } } }"""


async def test_liaison_history_keeps_every_term_with_its_dates(gql: Gql, world: dict[str, Any]) -> None:
    dept, admin = world["scjg"], world["admin"]
    second = await f.user(dept, Role.OFFICER, username="scjg_second")
    dept_id = gid("Department", dept.id)
    empty = await gql(LIAISONS, {"id": dept_id}, user=admin)
    assert empty["data"]["node"] == {"hasActiveLiaison": False, "liaisons": []}

    first = await gql(APPOINT, {"i": liaison_input(dept, world["officer"])}, user=admin, now=f.at(2026, 3, 2, 9))
    term_id = first["data"]["appointLiaison"]["liaison"]["id"]
    assert first["data"]["appointLiaison"] == {
        "errors": [],
        "liaison": {
            "id": term_id,
            "title": "综合科科长",
            "phone": "138****2345",
            "isActive": True,
            "user": {"username": "scjg_officer"},
            "department": {"code": "JN-SCJG"},
        },
    }
    ended = await gql(END, {"id": term_id}, user=admin, now=f.at(2026, 6, 30, 17))
    assert ended["data"]["endLiaison"] == {"liaison": {"isActive": False}, "errors": []}
    none_now = await gql(LIAISONS, {"id": dept_id}, user=admin)
    assert none_now["data"]["node"]["hasActiveLiaison"] is False
    again = await gql(END, {"id": term_id}, user=admin)
    assert again["data"]["endLiaison"] == {
        "liaison": None,
        "errors": [{"code": "LIAISON_ALREADY_ENDED", "field": "id"}],
    }

    await gql(
        APPOINT,
        {"i": liaison_input(dept, second, title="办公室主任", phone="0537-2345678")},
        user=admin,
        now=f.at(2026, 7, 1, 9),
    )
    history = await gql(LIAISONS, {"id": dept_id}, user=admin)
    assert history == {
        "errors": [],
        "data": {
            "node": {
                "hasActiveLiaison": True,
                "liaisons": [
                    {
                        "title": "综合科科长",
                        "phone": "138****2345",
                        "startedAt": "2026-03-02T09:00:00+08:00",
                        "endedAt": "2026-06-30T17:00:00+08:00",
                        "isActive": False,
                        "user": {"username": "scjg_officer"},
                    },
                    {
                        "title": "办公室主任",
                        "phone": "053*****5678",
                        "startedAt": "2026-07-01T09:00:00+08:00",
                        "endedAt": None,
                        "isActive": True,
                        "user": {"username": "scjg_second"},
                    },
                ],
            }
        },
    }
    assert (await User.get(id=world["officer"].id)).roles == ["OFFICER"]  # no longer a liaison officer
    assert (await User.get(id=second.id)).roles == ["LIAISON", "OFFICER"]


async def test_the_department_directory_shows_who_has_no_liaison(gql: Gql, world: dict[str, Any]) -> None:
    await gql(APPOINT, {"i": liaison_input(world["scjg"], world["officer"])}, user=world["admin"])
    result = await gql(
        "{ departments(kind: SUPERVISION) { totalCount edges { node { code hasActiveLiaison } } } }",
        user=world["other"],
    )
    assert result["data"]["departments"] == {
        "totalCount": 2,
        "edges": [
            {"node": {"code": "JN-SCJG", "hasActiveLiaison": True}},
            {"node": {"code": "JN-ZJ", "hasActiveLiaison": False}},
        ],
    }


# --- createApprovalItem --------------------------------------------------------------------------


def item_input(world: dict[str, Any], **change: Any) -> dict[str, Any]:
    return {
        "code": "11370800MB28",
        "name": "食品经营许可",
        "legalBasis": "《中华人民共和国食品安全法》第三十五条",
        "commitmentBased": True,
        "supervisingDepartmentIds": [gid("Department", world["scjg"].id)],
        **change,
    }


async def test_admin_adds_an_item_with_its_supervising_departments(gql: Gql, world: dict[str, Any]) -> None:
    ids = [gid("Department", world["zj"].id), gid("Department", world["scjg"].id), gid("Department", world["zj"].id)]
    result = await gql(
        CREATE_ITEM,
        {"i": item_input(world, supervisingDepartmentIds=ids, responsibility="DELEGATED")},
        user=world["admin"],
    )
    assert result == {
        "errors": [],
        "data": {
            "createApprovalItem": {
                "errors": [],
                "approvalItem": {
                    "code": "11370800MB28",
                    "name": "食品经营许可",
                    "legalBasis": "《中华人民共和国食品安全法》第三十五条",
                    "commitmentBased": True,
                    "jointInspection": False,
                    "responsibility": "DELEGATED",
                    "isActive": True,
                    "supervisingDepartments": [{"code": "JN-SCJG"}, {"code": "JN-ZJ"}],
                },
            }
        },
    }
    listed = await gql("{ approvalItems { totalCount edges { node { code } } } }", user=world["other"])
    assert listed["data"]["approvalItems"] == {"totalCount": 1, "edges": [{"node": {"code": "11370800MB28"}}]}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"code": "DUP-1"}, [("DUPLICATE_CODE", "code")]),
        ({"code": "bad code"}, [("INVALID_CODE", "code")]),
        ({"name": "x" * 10_000}, [("TOO_LONG", "name")]),
        ({"name": "食品\x00经营"}, [("INVALID_CHARACTERS", "name")]),
        ({"legalBasis": "x" * 10_000}, [("TOO_LONG", "legalBasis")]),
        ({"legalBasis": ""}, [("REQUIRED", "legalBasis")]),
        ({"supervisingDepartmentIds": []}, [("REQUIRED", "supervisingDepartmentIds")]),
        ({"supervisingDepartmentIds": ["missing"]}, [("DEPARTMENT_NOT_FOUND", "supervisingDepartmentIds")]),
        ({"supervisingDepartmentIds": ["scjg", "garbage"]}, [("INVALID_ID", "supervisingDepartmentIds.1")]),
        ({"supervisingDepartmentIds": ["approval"]}, [("NOT_A_SUPERVISION_DEPARTMENT", "supervisingDepartmentIds")]),
        ({"name": "x" * 129, "legalBasis": "x" * 513}, [("TOO_LONG", "name"), ("TOO_LONG", "legalBasis")]),
    ],
)
async def test_bad_item_input_is_a_typed_error_and_writes_nothing(
    gql: Gql, world: dict[str, Any], change: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    await f.item(world["scjg"], code="DUP-1")
    names = {
        "missing": gid("Department", MISSING),
        "garbage": "garbage",
        "scjg": gid("Department", world["scjg"].id),
        "approval": gid("Department", world["approval"].id),
    }
    if "supervisingDepartmentIds" in change:
        change = {**change, "supervisingDepartmentIds": [names[n] for n in change["supervisingDepartmentIds"]]}
    before = await counts()
    result = await gql(CREATE_ITEM, {"i": item_input(world, **change)}, user=world["admin"])
    assert payload_errors(result, "createApprovalItem") == expected
    assert await counts() == before
    assert await ApprovalItem.filter(code="DUP-1").values_list("supervisors__id", flat=True) == [world["scjg"].id]


# --- login and tokens, through the real HTTP handler (get_context reads the Authorization header) ---


@pytest.fixture
async def http(services: Services, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real Starlette app in this process, with the test's services (the lifespan is the fixtures')."""
    app = create_app(settings)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shenguan.test") as client:
        yield client


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    # json.dumps escapes non-ASCII, so a lone surrogate travels as "\ud800", as a browser would send it.
    body = json.dumps({"query": query, "variables": variables or {}})
    response = await http.post("/graphql", content=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def sign_in(http: httpx.AsyncClient, username: str, password: str = f.PASSWORD) -> str:
    body = await post(http, LOGIN, {"u": username, "p": password})
    token: str = body["data"]["login"]["token"]
    assert token
    return token


async def test_login_returns_a_token_that_signs_the_user_in(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    body = await post(http, LOGIN, {"u": " scjg_officer ", "p": f.PASSWORD})
    assert body["data"]["login"]["user"] == {"username": "scjg_officer"}
    assert body["data"]["login"]["errors"] == []
    me = await post(http, ME, token=body["data"]["login"]["token"])
    assert me == {"data": {"me": {"username": "scjg_officer", "department": {"code": "JN-SCJG"}}}}
    assert await AuditRecord.filter(action="login", actor_id=world["officer"].id).count() == 1


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("scjg_officer", "Wrong-Pass-2026"),
        ("nobody_here", f.PASSWORD),
        ("SCJG_OFFICER", f.PASSWORD),
        ("scjg_officer", ""),
        ("x" * 10_000, "x" * 10_000),
        ("scjg_officer", "x\ud800"),
    ],
)
async def test_wrong_credentials_get_no_token_and_one_answer_for_every_cause(
    http: httpx.AsyncClient, world: dict[str, Any], username: str, password: str
) -> None:
    body = await post(http, LOGIN, {"u": username, "p": password})
    assert body == {
        "data": {
            "login": {"token": None, "user": None, "errors": [{"code": "INVALID_CREDENTIALS", "field": "password"}]}
        }
    }
    assert await AuditRecord.filter(action="login_failed").values_list("detail", flat=True) == [
        {"username": username[:64]}
    ]


@pytest.mark.parametrize("username", ["bo\ud800ss", "bo\x00ss"], ids=["surrogate", "nul"])
async def test_login_with_unstorable_characters_is_invalid_credentials(
    http: httpx.AsyncClient, world: dict[str, Any], username: str
) -> None:
    body = await post(http, LOGIN, {"u": username, "p": f.PASSWORD})
    assert body["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS", "field": "password"}]


async def test_a_disabled_account_cannot_sign_in(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    user = world["officer"]
    user.is_active = False
    await user.save()
    body = await post(http, LOGIN, {"u": "scjg_officer", "p": f.PASSWORD})
    assert body["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS", "field": "password"}]


async def test_an_expired_token_signs_nobody_in(
    http: httpx.AsyncClient, world: dict[str, Any], settings: Settings
) -> None:
    issued = datetime.now(SHANGHAI) - timedelta(hours=2)
    token = issue_token(world["officer"], secret=settings.secret_key, ttl_minutes=60, now=issued)
    assert await post(http, ME, token=token) == {"data": {"me": None}}
    protected = await post(http, "{ users { totalCount } }", token=token)
    assert (protected["data"], codes(protected)) == (None, ["UNAUTHENTICATED"])
    fresh = issue_token(world["officer"], secret=settings.secret_key, ttl_minutes=60, now=datetime.now(SHANGHAI))
    assert (await post(http, ME, token=fresh))["data"]["me"]["username"] == "scjg_officer"


@pytest.mark.parametrize("header", ["Bearer not.a.jwt", "Bearer ", "Basic c2NqZzpwYXNz", "Bearer " + "x" * 5000])
async def test_a_malformed_or_foreign_token_is_anonymous_not_an_error(
    http: httpx.AsyncClient, world: dict[str, Any], header: str
) -> None:
    response = await http.post("/graphql", json={"query": ME}, headers={"Authorization": header})
    assert (response.status_code, response.json()) == (200, {"data": {"me": None}})


async def test_a_token_signed_with_another_key_is_refused(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    forged = issue_token(
        world["admin"], secret="another-secret-key-of-sufficient-length!!", ttl_minutes=60, now=datetime.now(SHANGHAI)
    )
    assert await post(http, ME, token=forged) == {"data": {"me": None}}


async def test_disabling_an_account_refuses_its_token_at_once(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    admin_token = await sign_in(http, "admin")
    token = await sign_in(http, "scjg_officer")
    assert (await post(http, ME, token=token))["data"]["me"]["username"] == "scjg_officer"
    off = await post(http, SET_ACTIVE, {"id": gid("User", world["officer"].id), "a": False}, token=admin_token)
    assert off == {"data": {"setUserActive": {"user": {"isActive": False}, "errors": []}}}
    assert await post(http, ME, token=token) == {"data": {"me": None}}
    refused = await post(http, "{ inbox { totalCount } }", token=token)
    assert codes(refused) == ["UNAUTHENTICATED"]
    # Re-enabling does not revive the old token: the user signs in again.
    await post(http, SET_ACTIVE, {"id": gid("User", world["officer"].id), "a": True}, token=admin_token)
    assert await post(http, ME, token=token) == {"data": {"me": None}}
    again = await sign_in(http, "scjg_officer")
    assert (await post(http, ME, token=again))["data"]["me"]["username"] == "scjg_officer"


async def test_a_token_of_an_older_token_version_stops_working(http: httpx.AsyncClient, world: dict[str, Any]) -> None:
    token = await sign_in(http, "scjg_officer")
    await User.filter(id=world["officer"].id).update(token_version=2)
    assert await post(http, ME, token=token) == {"data": {"me": None}}
    assert (await post(http, ME, token=await sign_in(http, "scjg_officer")))["data"]["me"] is not None


async def test_a_former_liaison_loses_account_management_and_their_token(
    http: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    admin_token = await sign_in(http, "admin")
    appointed = await post(http, APPOINT, {"i": liaison_input(world["scjg"], world["officer"])}, token=admin_token)
    term_id = appointed["data"]["appointLiaison"]["liaison"]["id"]
    token = await sign_in(http, "scjg_officer")
    made = await post(http, CREATE_USER, {"i": user_input(world)}, token=token)
    assert made["data"]["createUser"]["errors"] == []
    await post(http, END, {"id": term_id}, token=admin_token)
    assert await post(http, ME, token=token) == {"data": {"me": None}}
    token = await sign_in(http, "scjg_officer")
    refused = await post(http, CREATE_USER, {"i": user_input(world, username="scjg_newer")}, token=token)
    assert (refused["data"], codes(refused)) == (None, ["FORBIDDEN"])
    assert not await User.filter(username="scjg_newer").exists()


@pytest.mark.parametrize(
    "claims",
    [{"sub": str(10**20), "tv": 1}, {"sub": "abc", "tv": 1}, {"sub": "1"}, {"tv": 1}],
    ids=["key-beyond-int", "non-numeric-sub", "no-token-version", "no-subject"],
)
async def test_a_signed_token_with_odd_claims_signs_nobody_in(
    http: httpx.AsyncClient, world: dict[str, Any], settings: Settings, claims: dict[str, Any]
) -> None:
    expires = int((datetime.now(SHANGHAI) + timedelta(minutes=5)).timestamp())
    token = jwt.encode({**claims, "exp": expires}, settings.secret_key, algorithm="HS256")
    assert await post(http, ME, token=token) == {"data": {"me": None}}
