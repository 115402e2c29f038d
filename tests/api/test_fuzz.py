"""Generated queries and mutations (hypothesis-graphql) against the live schema, as every role.

Over HTTP into the real Starlette app on the demo data set: no response may be a 5xx or carry the
masked crash message, and none may show an unmasked citizen ID or mobile number — except the
fields of revealCounterparty for the roles allowed to reveal, and values the caller itself sent.

The suite runs a CI-sized sample (FUZZ_EXAMPLES per role, default 40); `make fuzz` runs thousands.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from graphql import print_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from api.app import create_app
from api.auth import issue_token
from api.graphql.base import to_global_id
from api.graphql.schema import MASKED_MESSAGE, schema
from api.services import Services
from models.account import Department, User
from models.calendar import SHANGHAI, CalendarDay, CalendarYear, bump_version
from models.demo import seed_demo
from models.enums import DepartmentKind, Role
from models.personal_data import REVEAL_ROLES
from models.settings import Limits, Settings
from tests import factories as f

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
ROLES = {
    "anonymous": None,
    "officer-approval": "jn_sp_officer",
    "officer-supervision": "jn_scjg_officer",
    "liaison": "jn_scjg_liaison",
    "leader": "jn_sp_leader",
    "admin": "fuzz_admin",
    "integration": "jn_sp_system",
}
CITIZEN_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
SDL = print_schema(schema._schema)
NODE_TYPES = ["Department", "User", "Liaison", "ApprovalItem", "ApprovalDecision", "DecisionPush"]
# Most ids name rows of the demo set (keys restart at 1), so operations reach real objects.
IDS = st.one_of(
    st.builds(to_global_id, st.sampled_from(NODE_TYPES), st.integers(1, 60)),
    st.text(max_size=24),
    st.integers(-(2**40), 2**40).map(str),
)
SCALARS = {
    "ID": IDS.map(nodes.String),
    "Date": st.dates(date(2000, 1, 1), date(2100, 12, 31)).map(lambda d: nodes.String(d.isoformat())),
    "DateTime": st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)).map(
        lambda d: nodes.String(d.isoformat())
    ),
}
OPERATIONS = queries(SDL, custom_scalars=SCALARS) | mutations(SDL, custom_scalars=SCALARS)


@dataclasses.dataclass
class Arena:
    client: httpx.AsyncClient
    tokens: dict[str, str | None]
    may_reveal: dict[str, bool]


@pytest.fixture
async def arena(db: str, redis: Any, settings: Settings) -> AsyncIterator[Arena]:
    """The demo data set, an admin, and the real app; the calendar is put back afterwards."""
    await seed_demo(decisions=30)
    admin_home = await f.department(DepartmentKind.APPROVAL, code="FUZZ-ADMIN", name="市大数据局")
    await f.user(admin_home, Role.ADMIN, username="fuzz_admin")
    days = await CalendarDay.all().values()
    years = await CalendarYear.all().values()
    # Thousands of operations from one account: the rate limit is tested elsewhere.
    fuzz_settings = dataclasses.replace(settings, limits=Limits(rate_limit_per_minute=0))
    services = await Services.start(fuzz_settings, poll_interval=3600)
    app = create_app(fuzz_settings)
    app.state.services = services
    now = datetime.now(SHANGHAI)
    tokens: dict[str, str | None] = {}
    may_reveal: dict[str, bool] = {}
    for role, username in ROLES.items():
        user = await User.get(username=username) if username else None
        tokens[role] = (
            issue_token(user, secret=settings.secret_key, ttl_minutes=600, now=now) if user is not None else None
        )
        may_reveal[role] = user is not None and user.has_role(*REVEAL_ROLES)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://shenguan.test", timeout=60
        ) as client:
            yield Arena(client=client, tokens=tokens, may_reveal=may_reveal)
    finally:
        await services.stop()
        await CalendarDay.all().delete()
        await CalendarDay.bulk_create([CalendarDay(**row) for row in days])
        await CalendarYear.all().delete()
        await CalendarYear.bulk_create([CalendarYear(**row) for row in years])
        await bump_version()


def leaks(body: dict[str, Any], sent: str, may_reveal: bool) -> list[str]:
    """Citizen IDs and mobile numbers in a response that the caller did not send itself."""
    data = body.get("data")
    if may_reveal and isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "revealCounterparty"}
    text = json.dumps({"data": data, "errors": body.get("errors")}, ensure_ascii=False)
    found = CITIZEN_ID.findall(text) + MOBILE.findall(text)
    return [value for value in found if value not in sent]


async def check(arena: Arena, role: str, query: str) -> None:
    token = arena.tokens[role]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await arena.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code < 500, (response.status_code, query, response.text[:2000])
    body = response.json()
    messages = [e.get("message", "") for e in body.get("errors") or []]
    assert MASKED_MESSAGE not in messages, (query, body)
    assert leaks(body, query, arena.may_reveal[role]) == [], (query, body)


@pytest.mark.slow
@pytest.mark.parametrize("role", list(ROLES))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(query=OPERATIONS)
async def test_generated_operations_never_crash_nor_leak_personal_data(arena: Arena, role: str, query: str) -> None:
    await check(arena, role, query)


async def test_the_leak_check_finds_unmasked_numbers_and_spares_reveals_and_echoes(db: str) -> None:
    citizen, mobile = "370811198602140017", "13853712345"
    body = {"data": {"decisions": {"counterparty": {"idNumber": citizen, "phone": "138****2345"}}}}
    assert leaks(body, "{ decisions { ... } }", may_reveal=True) == [citizen]
    revealed = {"data": {"revealCounterparty": {"counterparty": {"idNumber": citizen, "phone": mobile}}}}
    assert leaks(revealed, "mutation { revealCounterparty }", may_reveal=True) == []
    assert leaks(revealed, "mutation { revealCounterparty }", may_reveal=False) == [citizen, mobile]
    echoed = {"data": {"createUser": {"user": {"displayName": mobile}}}}
    assert leaks(echoed, f'mutation {{ createUser(input: {{displayName: "{mobile}"}}) }}', may_reveal=False) == []
    assert await Department.all().count() == 0  # nothing seeded: a pure check of the checker
