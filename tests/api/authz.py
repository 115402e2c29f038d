"""The authorisation matrix's building blocks and the core rows (tests/api/test_authz_matrix.py runs them).

The matrix covers every Query and Mutation field, for every role, in its own and a foreign department.

The matrix names every root field of the live schema; a field missing from it fails the first test,
so nothing ships without a declared, executed permission. Each cell runs for real against fresh
rows: "own" targets an object of the actor's department, "foreign" one of another department of
the same kind (the admin's foreign department is a supervision department; anonymous callers
use the supervision department as "own").

Outcomes: `allow` — the operation did what it asked (a mutation without payload errors; a list
that contains the target; an object that is there); `empty` — no error, but nothing of the
target (null, or a list without it); `deny` — UNAUTHENTICATED / FORBIDDEN, or a *_NOT_FOUND
that hides a foreign object's existence.

Adding a field is one line: the operation, the target it acts on, and the expectations as
`role[/own|/foreign]:outcome` words, read left to right (later words override; `*` is every role).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from api.graphql.base import to_global_id
from models import account
from models.account import Department, User
from models.claim import return_push
from models.decision import DecisionPush
from models.enums import DepartmentKind, Role
from models.identifiers import make_credit_code
from tests import factories as f

ROLES = ("anon", "appr", "sup", "liaison", "leader", "admin", "integ", "auditor")
SCOPES = ("own", "foreign")
OUTCOMES = ("allow", "empty", "deny")
ISSUED, NOW = f.at(2026, 9, 30), f.at(2026, 10, 8)
_n = itertools.count(1)


@dataclass
class World:
    """Departments and one actor per role (anonymous is None)."""

    approval: Department
    other_approval: Department
    supervision: Department
    other_supervision: Department
    admin_home: Department
    third_approval: Department  # issues what supervision departments receive
    spare_supervision: Department  # receives what approval departments issue
    actors: dict[str, User | None]
    redis: aioredis.Redis | None = None  # the test's Redis (rate-limit counters between cells)

    def home(self, role: str, scope: str) -> Department:
        own = {
            "appr": self.approval,
            "integ": self.approval,
            "admin": self.admin_home,
        }.get(role, self.supervision)
        foreign = self.other_approval if role in ("appr", "integ") else self.other_supervision
        return own if scope == "own" else foreign


@dataclass(frozen=True)
class Target:
    variables: dict[str, Any]
    id: str | None = None  # what a list must (allow) or must not (empty) contain


Build = Callable[[World, Department], Awaitable[Target]]


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


# --- targets: fresh rows of a department --------------------------------------------------


async def officer_of(dept: Department) -> User:
    return await f.user(dept, Role.OFFICER)


async def push_of(w: World, dept: Department) -> DecisionPush:
    """A pending push the department deals with: addressed to it, or issued by it (approval side)."""
    if dept.kind is DepartmentKind.SUPERVISION:
        issuer, supervisor = await officer_of(w.third_approval), dept
    else:
        issuer, supervisor = await officer_of(dept), w.spare_supervision
    decision = await f.decision(issuer, await f.item(supervisor), now=ISSUED)
    return await DecisionPush.get(decision_id=decision.id)


async def returned_push_of(w: World, dept: Department) -> DecisionPush:
    push = await push_of(w, dept)
    receiver = await officer_of(await Department.get(id=push.department_id))
    return await return_push(receiver, push.id, "不属于本部门监管范围", now=NOW)


async def no_target(w: World, dept: Department) -> Target:
    return Target({})


async def a_department(w: World, dept: Department) -> Target:
    return Target({}, gid("Department", dept.id))


async def a_user(w: World, dept: Department) -> Target:
    user = await officer_of(dept)
    return Target({"id": gid("User", user.id)}, gid("User", user.id))


async def an_item(w: World, dept: Department) -> Target:
    item = await f.item(dept if dept.kind is DepartmentKind.SUPERVISION else w.spare_supervision)
    return Target({}, gid("ApprovalItem", item.id))


async def a_decision(w: World, dept: Department) -> Target:
    push = await push_of(w, dept)
    return Target({"id": gid("ApprovalDecision", push.decision_id)}, gid("ApprovalDecision", push.decision_id))


async def a_push(w: World, dept: Department) -> Target:
    push = await push_of(w, dept)
    return Target({"id": gid("DecisionPush", push.id)}, gid("DecisionPush", push.id))


async def a_returned_push(w: World, dept: Department) -> Target:
    push = await returned_push_of(w, dept)
    fresh = await f.department()
    return Target({"id": gid("DecisionPush", push.id), "to": gid("Department", fresh.id)})


async def credentials(w: World, dept: Department) -> Target:
    user = await officer_of(dept)
    return Target({"u": user.username, "p": f.PASSWORD})


async def new_department(w: World, dept: Department) -> Target:
    n = next(_n)
    return Target({"i": {"code": f"NEW{n}", "name": f"新部门{n}", "kind": "SUPERVISION", "level": "CITY"}})


async def new_user(w: World, dept: Department) -> Target:
    n = next(_n)
    return Target(
        {
            "i": {
                "username": f"matrix{n}",
                "password": "Matrix-Pass-2026!",
                "displayName": f"矩阵{n}",
                "departmentId": gid("Department", dept.id),
                "roles": ["OFFICER"],
            }
        }
    )


async def new_liaison(w: World, dept: Department) -> Target:
    user = await officer_of(dept)
    return Target(
        {
            "i": {
                "departmentId": gid("Department", dept.id),
                "userId": gid("User", user.id),
                "title": "科长",
                "phone": "13953700000",
            }
        }
    )


async def a_liaison_term(w: World, dept: Department) -> Target:
    admin = w.actors["admin"]
    assert admin is not None
    term = await account.appoint_liaison(
        admin, department_id=dept.id, user_id=(await officer_of(dept)).id, title="科长", phone="13953700001", now=NOW
    )
    return Target({"id": gid("Liaison", term.id)})


async def new_item(w: World, dept: Department) -> Target:
    n = next(_n)
    return Target(
        {
            "i": {
                "code": f"MX{n}",
                "name": "矩阵事项",
                "legalBasis": "《中华人民共和国行政许可法》",
                "supervisingDepartmentIds": [gid("Department", w.supervision.id)],
            }
        }
    )


async def new_decision(w: World, dept: Department) -> Target:
    item = await f.item(w.supervision)
    return Target(
        {
            "i": {
                "itemId": gid("ApprovalItem", item.id),
                "documentNumber": f"济审批〔2026〕矩阵{next(_n)}号",
                "content": "准予许可",
                "approvedOn": "2026-10-08",
                "counterparty": {
                    "name": "济宁鲁兴餐饮管理有限公司",
                    "kind": "ORGANIZATION",
                    "creditCode": make_credit_code("91370800MA3C4D5E6"),
                },
            }
        }
    )


async def new_year(w: World, dept: Department) -> Target:
    return Target({"i": {"year": 2027, "holidays": [{"day": "2027-01-01", "name": "元旦"}], "makeUpWorkdays": []}})


# --- the matrix ---------------------------------------------------------------------------

PAGE = "edges { node { id } }"


@dataclass(frozen=True)
class Case:
    document: str
    target: Build
    expect: str


CORE_ROWS: dict[str, Case] = {
    # Query
    "me": Case("{ me { id } }", no_target, "*:allow anon:empty"),
    "node": Case("query($id: ID!) { node(id: $id) { id } }", a_decision, "*/own:allow */foreign:empty admin:allow anon:deny"),
    "departments": Case(f"{{ departments(first: 100) {{ {PAGE} }} }}", a_department, "*:allow anon:deny"),
    "users": Case(f"{{ users(first: 100) {{ {PAGE} }} }}", a_user, "*/own:allow */foreign:empty admin:allow anon:deny"),
    "approvalItems": Case(f"{{ approvalItems(first: 100) {{ {PAGE} }} }}", an_item, "*:allow anon:deny"),
    "decisions": Case(f"{{ decisions(first: 100) {{ {PAGE} }} }}", a_decision, "*/own:allow */foreign:empty admin:allow anon:deny"),
    "inbox": Case(f"{{ inbox(first: 100) {{ {PAGE} }} }}", a_push, "*:empty sup/own:allow liaison/own:allow leader/own:allow auditor/own:allow anon:deny"),
    "addWorkingDays": Case('{ addWorkingDays(start: "2026-09-30", days: 3) }', no_target, "*:allow anon:deny"),
    "calendarYear": Case("{ calendarYear(year: 2026) { year } }", no_target, "*:allow anon:deny"),
    # Mutation
    "login": Case("mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token errors { code } } }", credentials, "*:allow"),
    "createDepartment": Case("mutation($i: CreateDepartmentInput!) { createDepartment(input: $i) { errors { code } } }", new_department, "*:deny admin:allow"),
    "createUser": Case("mutation($i: CreateUserInput!) { createUser(input: $i) { errors { code } } }", new_user, "*:deny admin:allow liaison/own:allow"),
    "setUserActive": Case("mutation($id: ID!) { setUserActive(id: $id, active: false) { errors { code } } }", a_user, "*:deny admin:allow liaison/own:allow"),
    "appointLiaison": Case("mutation($i: AppointLiaisonInput!) { appointLiaison(input: $i) { errors { code } } }", new_liaison, "*:deny admin:allow liaison/own:allow"),
    "endLiaison": Case("mutation($id: ID!) { endLiaison(id: $id) { errors { code } } }", a_liaison_term, "*:deny admin:allow liaison/own:allow"),
    "createApprovalItem": Case("mutation($i: CreateApprovalItemInput!) { createApprovalItem(input: $i) { errors { code } } }", new_item, "*:deny admin:allow"),
    "issueDecision": Case("mutation($i: IssueDecisionInput!) { issueDecision(input: $i) { errors { code } } }", new_decision, "*:deny appr:allow integ:allow"),
    "claimPush": Case("mutation($id: ID!) { claimPush(id: $id) { errors { code } } }", a_push, "*:deny sup/own:allow liaison/own:allow"),
    "returnPush": Case('mutation($id: ID!) { returnPush(id: $id, reason: "不属于本部门") { errors { code } } }', a_push, "*:deny sup/own:allow liaison/own:allow"),
    "reroutePush": Case("mutation($id: ID!, $to: ID!) { reroutePush(id: $id, departmentId: $to) { errors { code } } }", a_returned_push, "*:deny appr/own:allow"),
    "publishCalendarYear": Case("mutation($i: PublishCalendarYearInput!) { publishCalendarYear(input: $i) { errors { code } } }", new_year, "*:deny admin:allow"),
    "revealCounterparty": Case("mutation($id: ID!) { revealCounterparty(decisionId: $id) { errors { code } } }", a_decision, "*:deny appr/own:allow sup/own:allow liaison/own:allow admin:allow"),
}  # fmt: skip


def expectations(spec: str) -> dict[tuple[str, str], str]:
    """`role[/scope]:outcome` words, left to right, into one outcome per (role, scope)."""
    table: dict[tuple[str, str], str] = {}
    for word in spec.split():
        who, _, outcome = word.partition(":")
        role, _, scope = who.partition("/")
        assert outcome in OUTCOMES and (role == "*" or role in ROLES) and scope in ("", *SCOPES), word
        for r, s in itertools.product(ROLES if role == "*" else (role,), (scope,) if scope else SCOPES):
            table[r, s] = outcome
    missing = [cell for cell in itertools.product(ROLES, SCOPES) if cell not in table]
    assert not missing, f"{spec!r} leaves {missing} undeclared"
    return table


def outcome(field: str, result: dict[str, Any], target: Target) -> str:
    """What a response amounts to; anything unexpected is spelled out so the mismatch says why."""
    codes = [e["code"] for e in result["errors"]]
    if codes:
        return "deny" if set(codes) <= {"UNAUTHENTICATED", "FORBIDDEN"} else f"error {codes}"
    value = (result["data"] or {}).get(field)
    if isinstance(value, dict) and "errors" in value:
        payload_codes = [e["code"] for e in value["errors"]]
        if not payload_codes:
            return "allow"
        if all(c == "FORBIDDEN" or c.endswith("NOT_FOUND") for c in payload_codes):
            return "deny"
        return f"error {payload_codes}"
    if value is None:
        return "empty"
    if isinstance(value, dict) and "edges" in value:
        ids = {edge["node"]["id"] for edge in value["edges"]}
        return "allow" if target.id in ids else "empty"
    return "allow"
