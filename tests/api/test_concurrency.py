"""Concurrent claims and integrator retries: exactly one winner, one decision (Art. 18, 20).

The API-level tests run on SQLite (writers serialised) and on PostgreSQL (TEST_DATABASE_URL), where
tortoise's pool runs up to five transactions at once; the domain-level test proves that overlap.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from tortoise.transactions import in_transaction

from api.graphql.base import to_global_id
from models.account import User
from models.claim import claim_push
from models.decision import Decision, DecisionPush
from models.enums import DepartmentKind, PushStatus, Role
from models.errors import PushAlreadyClaimed
from models.event import Event, EventKind
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_decisions import ISSUE, issue_input, world

CLAIM = "mutation($id: ID!) { claimPush(id: $id) { push { claimedBy { username } } errors { code field } } }"


@pytest.mark.postgres
async def test_fifty_concurrent_claims_in_the_domain_have_one_winner(db: str) -> None:
    market = await f.department()
    issuer = await f.user(await f.department(DepartmentKind.APPROVAL), Role.OFFICER)
    decision = await f.decision(issuer, await f.item(market), now=f.at(2026, 9, 30))
    push = await DecisionPush.get(decision_id=decision.id)
    officers = [await f.user(market, Role.OFFICER) for _ in range(50)]
    in_flight = peak = 0

    async def attempt(officer: User) -> str:
        nonlocal in_flight, peak
        try:
            async with in_transaction():
                in_flight += 1
                peak = max(peak, in_flight)
                try:
                    await asyncio.sleep(0)  # let the other tasks open their transactions as well
                    await claim_push(officer, push.id, now=f.at(2026, 10, 8))
                    await asyncio.sleep(0.01)  # hold the row lock a moment, so the others queue behind it
                    return "CLAIMED"
                finally:
                    in_flight -= 1
        except PushAlreadyClaimed as error:
            return error.code

    outcomes = Counter(await asyncio.gather(*(attempt(o) for o in officers)))
    assert outcomes == {"CLAIMED": 1, "ALREADY_CLAIMED": 49}
    assert peak > 1, "the transactions did not overlap: the test proved nothing about concurrency"
    row = await DecisionPush.get(id=push.id)
    assert row.status is PushStatus.CLAIMED
    assert row.claimed_by_id in {o.id for o in officers}
    assert await Event.filter(kind=EventKind.PUSH_CLAIMED).count() == 1


async def test_fifty_concurrent_claims_through_the_api_have_one_winner(gql: Gql) -> None:
    w = await world()
    item = await f.item(w.market, code="MARKET-ONLY")
    decision = await f.decision(w.issuer, item, now=f.at(2026, 9, 30))
    push = await DecisionPush.get(decision_id=decision.id)
    officers = [await f.user(w.market, Role.OFFICER, username=f"claimer{i:02d}") for i in range(50)]
    results = await asyncio.gather(
        *(gql(CLAIM, {"id": to_global_id("DecisionPush", push.id)}, user=o, now=f.at(2026, 10, 8)) for o in officers)
    )
    assert [r["errors"] for r in results] == [[]] * 50
    payloads = [r["data"]["claimPush"] for r in results]
    outcomes = Counter(p["errors"][0]["code"] if p["errors"] else "CLAIMED" for p in payloads)
    assert outcomes == {"CLAIMED": 1, "ALREADY_CLAIMED": 49}
    winner = next(p["push"]["claimedBy"]["username"] for p in payloads if not p["errors"])
    row = await DecisionPush.get(id=push.id)
    assert (row.status, row.claimed_by_id) == (PushStatus.CLAIMED, next(o.id for o in officers if o.username == winner))
    assert await Event.filter(kind=EventKind.PUSH_CLAIMED).count() == 1


async def test_twenty_identical_concurrent_issues_make_one_decision(gql: Gql) -> None:
    w = await world()
    system = await f.user(w.city, Role.INTEGRATION, username="legacy_system")
    results = await asyncio.gather(
        *(gql(ISSUE, {"input": issue_input(w.item)}, user=system, now=f.at(2026, 9, 30)) for _ in range(20))
    )
    assert [r["errors"] for r in results] == [[]] * 20
    payloads = [r["data"]["issueDecision"] for r in results]
    assert [p["errors"] for p in payloads] == [[]] * 20
    assert len({p["decision"]["id"] for p in payloads}) == 1
    assert await Decision.all().count() == 1
    assert [p.department_id for p in await DecisionPush.all().order_by("id")] == [w.market.id, w.health.id]
    assert await Event.filter(kind=EventKind.PUSH_CREATED).count() == 2
    assert await Event.all().count() == 2
