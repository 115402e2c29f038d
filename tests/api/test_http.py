"""HTTP protocol behaviour through a real `shenguan serve` process, and per-request DataLoaders (no N+1)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import issue_token
from api.graphql.base import to_global_id
from api.services import Services
from models.account import Department
from models.claim import claim_push
from models.decision import DecisionPush
from models.enums import DepartmentKind, Role
from models.settings import Settings
from tests import factories as f
from tests.conftest import ServerProcess

LOGIN = """mutation($u: String!, $p: String!) {
  login(username: $u, password: $p) { token user { username } errors { code } } }"""
ME = "{ me { username displayName roles department { code } } }"


@pytest.fixture
async def people(db: str) -> dict[str, Any]:
    dept = await f.department(code="JN-SCJG", name="市市场监督管理局")
    officer = await f.user(dept, Role.OFFICER, username="scjg_officer")
    officer.display_name = "李明"
    await officer.save()
    return {"dept": dept, "officer": officer}


@pytest.fixture(scope="module")
def shared_server(settings: Settings) -> Iterator[ServerProcess]:
    """One real server for the module (as server_factory starts them): it keeps no state of its own."""
    process = ServerProcess(settings)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def server(shared_server: ServerProcess, people: dict[str, Any]) -> ServerProcess:
    return shared_server


def post(server: Any, body: Any, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + "/graphql", json=body, headers=headers, timeout=10, **kwargs)


def login(server: Any, username: str = "scjg_officer", password: str = f.PASSWORD) -> str:
    response = post(server, {"query": LOGIN, "variables": {"u": username, "p": password}})
    assert response.status_code == 200
    token: str = response.json()["data"]["login"]["token"]
    return token


def test_login_then_me_with_the_bearer_token(server: Any) -> None:
    response = post(server, {"query": LOGIN, "variables": {"u": "scjg_officer", "p": f.PASSWORD}})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()["data"]["login"]
    assert (body["user"], body["errors"]) == ({"username": "scjg_officer"}, [])
    me = post(server, {"query": ME}, token=body["token"])
    assert me.json() == {
        "data": {
            "me": {
                "username": "scjg_officer",
                "displayName": "李明",
                "roles": ["OFFICER"],
                "department": {"code": "JN-SCJG"},
            }
        }
    }


def test_without_a_token_me_is_null_and_protected_fields_say_unauthenticated(server: Any) -> None:
    assert post(server, {"query": ME}).json() == {"data": {"me": None}}
    body = post(server, {"query": "{ users { totalCount } }"}, token="not-a-token").json()
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [("请先登录", "UNAUTHENTICATED")]


def test_an_expired_token_is_refused_by_the_server(server: Any, settings: Settings, people: dict[str, Any]) -> None:
    token = issue_token(people["officer"], secret=settings.secret_key, ttl_minutes=-1, now=f.at(2026, 1, 5))
    assert post(server, {"query": ME}, token=token).json() == {"data": {"me": None}}


def test_a_browser_gets_graphiql(server: Any) -> None:
    response = httpx.get(server.url + "/graphql", headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_a_query_can_travel_in_the_query_string(server: Any) -> None:
    token = login(server)
    response = httpx.get(
        server.url + "/graphql",
        params={
            "query": "query($n: Int!) { me { username } users(first: $n) { totalCount } }",
            "variables": '{"n": 1}',
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert (response.status_code, response.json()) == (
        200,
        {"data": {"me": {"username": "scjg_officer"}, "users": {"totalCount": 1}}},
    )


def test_a_mutation_over_get_is_refused(server: Any) -> None:
    query = f'mutation {{ login(username: "scjg_officer", password: "{f.PASSWORD}") {{ token }} }}'
    response = httpx.get(server.url + "/graphql", params={"query": query}, timeout=10)
    assert (response.status_code, response.text) == (400, "mutations are not allowed when using GET")


def test_healthz_answers(server: Any) -> None:
    response = httpx.get(server.url + "/healthz", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{bad json", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b'{"query": 5}', "application/json"),
        (b'{"query": "{ me { username } }", "variables": "nope"}', "application/json"),
        (b"[1, 2]", "application/json"),
        (b"", "application/json"),
        (b"[" * 100_000, "application/json"),
        (b'{"query": "{ me { username } }", "variables": [1]}', "application/json"),
        (b'{"query": "{ me { username } }", "operationName": 7}', "application/json"),
        (b"query=%7Bme%7D", "text/plain"),
    ],
)
def test_a_malformed_request_is_a_400_not_a_500(server: Any, body: bytes, content_type: str) -> None:
    response = httpx.post(server.url + "/graphql", content=body, headers={"Content-Type": content_type}, timeout=10)
    assert response.status_code == 400, response.text


def test_syntax_and_validation_errors_are_readable(server: Any) -> None:
    token = login(server)
    syntax = post(server, {"query": "{ me { username "}, token=token).json()
    assert syntax["data"] is None
    assert syntax["errors"][0]["message"].startswith("Syntax Error")
    unknown = post(server, {"query": "{ me { password } }"}, token=token).json()
    assert unknown["errors"][0]["message"] == "Cannot query field 'password' on type 'User'."


def test_a_query_too_deep_gets_a_readable_error_not_a_masked_one(server: Any) -> None:
    token = login(server)
    deep = "{ me { department { parent { " * 1 + "parent { " * 10 + "name" + " }" * 10 + " } } } }"
    body = post(server, {"query": deep}, token=token).json()
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["'anonymous' exceeds maximum operation depth of 12"]


def test_too_many_aliases_or_tokens_get_readable_errors(server: Any) -> None:
    token = login(server)
    aliases = "{ " + " ".join(f"a{i}: me {{ username }}" for i in range(31)) + " }"
    body = post(server, {"query": aliases}, token=token).json()
    assert (body["data"], [e["message"] for e in body["errors"]]) == (None, ["31 aliases found. Allowed: 30"])
    tokens = "{ " + " ".join("me { username }" for _ in range(600)) + " }"
    body = post(server, {"query": tokens}, token=token).json()
    assert (body["data"], [e["message"] for e in body["errors"]]) == (
        None,
        ["Syntax Error: Document contains more than 2000 tokens. Parsing aborted."],
    )


# --- per-request DataLoaders: the number of SQL statements does not grow with the page --------------


class StatementCounter(logging.Handler):
    """Counts the statements tortoise's database clients log (each execute_* logs its SQL at DEBUG).

    Only statements run in the context of `counting()` count: the hub polls the database from its own
    tasks meanwhile, and tasks the request starts (DataLoader batches, gathered fields) inherit the context.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []
        self.active: ContextVar[bool] = ContextVar("counting", default=False)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.active.get() and not message.startswith(("Created connection", "Closed connection")):
            self.statements.append(message)

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.statements = []
        token = self.active.set(True)
        try:
            yield self.statements
        finally:
            self.active.reset(token)


@pytest.fixture
def statements() -> Iterator[StatementCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter, level = StatementCounter(), logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    yield counter
    logger.removeHandler(counter)
    logger.setLevel(level)


@pytest.fixture
async def http(services: Services, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real Starlette app in this process (so its SQL can be counted), with the test's services."""
    app = create_app(settings)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shenguan.test") as client:
        yield client


DECISIONS = """query($n: Int!) { decisions(first: $n) { edges { node {
  documentNumber item { name } issuer { name } pushes { status department { name } claimedBy { username } } } } } }"""


async def test_relations_are_loaded_per_kind_not_per_row(
    http: httpx.AsyncClient, statements: StatementCounter, settings: Settings
) -> None:
    issuer_dept = await f.department(DepartmentKind.APPROVAL, code="JN-SP", name="市行政审批服务局")
    supervisors = [await f.department(code=f"JN-S{i}", name=f"监管部门{i}") for i in range(3)]
    issuer = await f.user(issuer_dept, Role.OFFICER)
    claimant = await f.user(supervisors[0], Role.OFFICER)
    items = [await f.item(*supervisors) for _ in range(3)]
    for n in range(15):
        row = await f.decision(issuer, items[n % 3], now=f.at(2026, 9, 30), seq=n + 1)
        push = await DecisionPush.get(decision_id=row.id, department_id=supervisors[0].id)
        await claim_push(claimant, push.id, now=f.at(2026, 10, 9))
    token = issue_token(issuer, secret=settings.secret_key, ttl_minutes=5, now=datetime.now(UTC))

    async def run(n: int) -> int:
        with statements.counting():
            response = await http.post(
                "/graphql",
                json={"query": DECISIONS, "variables": {"n": n}},
                headers={"Authorization": f"Bearer {token}"},
            )
        body = response.json()
        assert "errors" not in body, body
        edges = body["data"]["decisions"]["edges"]
        assert len(edges) == n
        assert [[p["status"] for p in e["node"]["pushes"]] for e in edges] == [["CLAIMED", "PENDING", "PENDING"]] * n
        return len(statements.statements)

    five, fifteen = await run(5), await run(15)
    assert five == fifteen, statements.statements
    # The token's user, the page, its items, its issuers, its pushes, their departments, their claimants.
    assert fifteen == 7, statements.statements


async def test_loaders_live_for_one_request_only(http: httpx.AsyncClient, settings: Settings) -> None:
    dept = await f.department(code="JN-SCJG", name="市市场监督管理局")
    officer = await f.user(dept, Role.OFFICER)
    token = issue_token(officer, secret=settings.secret_key, ttl_minutes=5, now=datetime.now(UTC))
    query = {
        "query": "query($id: ID!) { node(id: $id) { ... on Department { name } } }",
        "variables": {"id": str(to_global_id("Department", dept.id))},
    }
    headers = {"Authorization": f"Bearer {token}"}
    first = await http.post("/graphql", json=query, headers=headers)
    await Department.filter(id=dept.id).update(name="济宁市市场监督管理局")
    second = await http.post("/graphql", json=query, headers=headers)
    assert [r.json()["data"]["node"]["name"] for r in (first, second)] == ["市市场监督管理局", "济宁市市场监督管理局"]


INBOX = """query($n: Int!) {
  page: inbox(first: $n) { edges { node { status decision { documentNumber item { name } issuer { name }
    counterparty { name idNumber } } } } }
  again: inbox(first: $n) { edges { node { decision { documentNumber issuer { name } } } } } }"""


async def test_an_inbox_page_reads_its_decisions_items_and_issuers_in_one_statement(
    http: httpx.AsyncClient, statements: StatementCounter, settings: Settings
) -> None:
    issuer_dept = await f.department(DepartmentKind.APPROVAL, code="JN-SP", name="市行政审批服务局")
    supervisor = await f.department(code="JN-SCJG", name="市市场监督管理局")
    issuer = await f.user(issuer_dept, Role.OFFICER)
    viewer = await f.user(supervisor, Role.OFFICER)
    items = [await f.item(supervisor) for _ in range(2)]
    issued = [await f.decision(issuer, items[n % 2], now=f.at(2026, 9, 30), seq=n + 1) for n in range(12)]
    token = issue_token(viewer, secret=settings.secret_key, ttl_minutes=5, now=datetime.now(UTC))

    async def run(n: int) -> tuple[int, dict[str, Any]]:
        with statements.counting():
            response = await http.post(
                "/graphql", json={"query": INBOX, "variables": {"n": n}}, headers={"Authorization": f"Bearer {token}"}
            )
        body = response.json()
        assert "errors" not in body, body
        return len(statements.statements), body["data"]

    (three, _), (twelve, data) = await run(3), await run(12)
    # The token's user, the page, its decisions with their items and issuers; the second page of the
    # same pushes finds its decisions loaded already.
    assert three == twelve == 4, statements.statements
    nodes = [e["node"] for e in data["page"]["edges"]]
    assert {n["decision"]["documentNumber"] for n in nodes} == {d.document_number for d in issued}
    assert {n["decision"]["item"]["name"] for n in nodes} == {i.name for i in items}
    assert {n["decision"]["issuer"]["name"] for n in nodes} == {"市行政审批服务局"}
    assert all(n["decision"]["counterparty"]["idNumber"].count("*") == 8 for n in nodes)  # still masked
    assert [e["node"]["decision"] for e in data["again"]["edges"]] == [
        {"documentNumber": n["decision"]["documentNumber"], "issuer": n["decision"]["issuer"]} for n in nodes
    ]
