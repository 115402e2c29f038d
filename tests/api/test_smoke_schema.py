"""A first end-to-end pass through the schema: login, me, issue, inbox, claim."""

from __future__ import annotations

from models.enums import DepartmentKind, Role
from tests import factories as f
from tests.api.conftest import Gql

LOGIN = "mutation($u:String!,$p:String!){login(username:$u,password:$p){token user{username} errors{code field}}}"


async def test_login_me_issue_inbox_claim(gql: Gql) -> None:
    approval = await f.department(DepartmentKind.APPROVAL)
    supervision = await f.department()
    issuer = await f.user(approval, Role.OFFICER, username="issuer1")
    receiver = await f.user(supervision, Role.OFFICER)
    item = await f.item(supervision)

    login = await gql(LOGIN, {"u": "issuer1", "p": f.PASSWORD})
    assert login["data"]["login"]["user"] == {"username": "issuer1"}
    assert login["data"]["login"]["token"]

    await f.decision(issuer, item, now=f.at(2026, 9, 30), number="济审批〔2026〕1号")

    box = await gql("{inbox{totalCount edges{node{id status claimDueOn}}}}", user=receiver, now=f.at(2026, 10, 1))
    assert box["errors"] == []
    edges = box["data"]["inbox"]["edges"]
    assert box["data"]["inbox"]["totalCount"] == 1
    assert edges[0]["node"]["status"] == "PENDING"
    assert edges[0]["node"]["claimDueOn"] == "2026-10-10"

    claim = await gql(
        "mutation($id:ID!){claimPush(id:$id){push{status claimedBy{displayName}} errors{code}}}",
        {"id": edges[0]["node"]["id"]},
        user=receiver,
        now=f.at(2026, 10, 9, 16),
    )
    assert claim["data"]["claimPush"] == {
        "push": {"status": "CLAIMED", "claimedBy": {"displayName": receiver.display_name}},
        "errors": [],
    }
