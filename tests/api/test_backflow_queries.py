"""The back-flow's lists and timelines load relations per kind, not per row (statement counts stay flat)."""

from __future__ import annotations

from models.backflow import ActionInput, ActionKind, push_action, record_action
from models.claim import claim_push
from models.decision import DecisionPush
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_backflow_actions import gid
from tests.api.test_decisions import world
from tests.api.test_http import StatementCounter, statements  # noqa: F401  (the fixture)

ACTIONS = """query($n: Int!) { supervisionActions(first: $n) { edges { node {
  penaltyDocumentNumber department { name } approvalDepartment { name } decisions { documentNumber }
  evidence { name } } } } }"""
TIMELINE = """query($id: ID!) { node(id: $id) { ... on ApprovalDecision {
  timeline { kind actor department { code } documentNumber } } } }"""


async def test_the_action_list_costs_the_same_for_two_rows_as_for_six(
    gql: Gql,
    statements: StatementCounter,  # noqa: F811
) -> None:
    w = await world()
    decisions = [await f.decision(w.issuer, w.item, now=f.at(2026, 9, 1), seq=n + 1) for n in range(3)]
    for n in range(6):
        data = ActionInput(
            kind=ActionKind.FINE,
            penalty_document_number=f"济市监罚〔2026〕{n}号",
            penalty_decided_on=f.at(2026, 9, 28).date(),
            content="罚款",
            decision_ids=[decisions[n % 3].id],
        )
        await record_action(w.market_officer, data, now=f.at(2026, 9, 29))

    async def cost(n: int) -> int:
        with statements.counting() as seen:
            result = await gql(ACTIONS, {"n": n}, user=w.market_officer, now=f.at(2026, 10, 9))
        assert result["errors"] == []
        edges = result["data"]["supervisionActions"]["edges"]
        assert len(edges) == n and all(len(e["node"]["decisions"]) == 1 for e in edges)
        return len(seen)

    assert await cost(2) == await cost(6)


async def test_a_timeline_costs_the_same_however_many_steps(gql: Gql, statements: StatementCounter) -> None:  # noqa: F811
    w = await world()
    short = await f.decision(w.issuer, w.item, now=f.at(2026, 9, 1), seq=1)
    long = await f.decision(w.issuer, w.item, now=f.at(2026, 9, 1), seq=2)
    for push in await DecisionPush.filter(decision_id=long.id):
        officer = w.market_officer if push.department_id == w.market.id else w.health_officer
        await claim_push(officer, push.id, now=f.at(2026, 9, 2))
    for n in range(3):
        data = ActionInput(
            kind=ActionKind.RECTIFICATION_ORDER,
            penalty_document_number=f"济市监改〔2026〕{n}号",
            penalty_decided_on=f.at(2026, 9, 28).date(),
            content="责令整改",
            decision_ids=[long.id],
        )
        action = await record_action(w.market_officer, data, now=f.at(2026, 9, 29))
        await push_action(w.market_officer, action.id, now=f.at(2026, 9, 30))

    async def cost(decision_id: int) -> tuple[int, int]:
        with statements.counting() as seen:
            result = await gql(
                TIMELINE, {"id": gid("ApprovalDecision", decision_id)}, user=w.issuer, now=f.at(2026, 10, 9)
            )
        assert result["errors"] == []
        return len(result["data"]["node"]["timeline"]), len(seen)

    (few, short_cost), (many, long_cost) = await cost(short.id), await cost(long.id)
    assert (few, many) == (3, 11)  # issued + 2 pushes; + 2 claims + 3 times (recorded, pushed)
    assert short_cost == long_cost
