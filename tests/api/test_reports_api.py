"""Statistics, reports and exports through the API, with their permissions."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import httpx
from openpyxl import load_workbook
from tortoise.transactions import in_transaction

from api.auth import issue_token
from models.audit import AuditRecord
from models.calendar import SHANGHAI
from models.claim import claim_push
from models.decision import DecisionPush
from models.enums import DepartmentKind, Role
from models.identifiers import make_citizen_id
from tests import factories as f
from tests.api.conftest import Gql
from tests.conftest import SECRET

STATS = """query($f:Date!,$t:Date!){timelinessStatistics(from:$f,to:$t){department{name} pushed claimedOnTime
  claimedLate overdue onTimeRate flag medianClaimHours supervisionActions{recorded}}}"""
GENERATE = """mutation($f:Date!,$t:Date!){generateTimelinessReport(from:$f,to:$t){
  report{id periodStart departments xlsxUrl csvUrl} errors{code field message}}}"""


async def setup() -> dict[str, Any]:
    approval = await f.department(DepartmentKind.APPROVAL)
    a, b = await f.department(), await f.department()
    issuer, leader = await f.user(approval, Role.OFFICER), await f.user(b, Role.LEADER)
    ua, ub = await f.user(a, Role.OFFICER), await f.user(b, Role.OFFICER)
    item = await f.item(a, b)
    async with in_transaction():
        decision = await f.decision(issuer, item, now=f.at(2026, 9, 28, 10))
        push = await DecisionPush.get(decision_id=decision.id, department_id=a.id)
        await claim_push(ua, push.id, now=f.at(2026, 9, 29, 10))
    return {"issuer": issuer, "leader": leader, "ua": ua, "ub": ub, "a": a, "b": b}


async def test_the_approval_side_sees_every_department_a_supervisor_only_its_own(gql: Gql, db: str) -> None:
    w = await setup()
    now = f.at(2026, 10, 20)
    variables = {"f": "2026-09-01", "t": "2026-10-31"}
    everyone = (await gql(STATS, variables, user=w["issuer"], now=now))["data"]["timelinessStatistics"]
    assert sorted((r["department"]["name"], r["flag"]) for r in everyone) == sorted(
        [(w["a"].name, "GREEN"), (w["b"].name, "RED")]
    )
    assert [r["supervisionActions"] for r in everyone] == [None, None]  # no supervision action recorded
    own = (await gql(STATS, variables, user=w["ub"], now=now))["data"]["timelinessStatistics"]
    assert [(r["department"]["name"], r["pushed"], r["overdue"]) for r in own] == [(w["b"].name, 1, 1)]
    bad = await gql(STATS, {"f": "2026-10-31", "t": "2026-10-01"}, user=w["issuer"], now=now)
    assert [(e["code"], e["message"]) for e in bad["errors"]] == [("BAD_USER_INPUT", "结束日期不能早于开始日期")]
    assert (await gql(STATS, variables, user=None))["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_generate_is_for_readers_and_reports_errors_by_field(gql: Gql, db: str) -> None:
    w = await setup()
    denied = await gql(GENERATE, {"f": "2026-09-01", "t": "2026-09-30"}, user=w["ub"])
    assert denied["errors"][0]["code"] == "FORBIDDEN"
    reversed_ = await gql(GENERATE, {"f": "2026-09-30", "t": "2026-09-01"}, user=w["leader"])
    assert reversed_["data"]["generateTimelinessReport"]["errors"][0]["field"] == "to"
    made = await gql(GENERATE, {"f": "2026-09-01", "t": "2026-09-30"}, user=w["leader"], now=f.at(2026, 10, 20))
    report = made["data"]["generateTimelinessReport"]["report"]
    assert made["data"]["generateTimelinessReport"]["errors"] == []
    assert (report["periodStart"], report["departments"]) == ("2026-09-01", 2)


def bearer(user: Any) -> dict[str, str]:
    token = issue_token(user, secret=SECRET, ttl_minutes=60, now=datetime.now(SHANGHAI))
    return {"Authorization": f"Bearer {token}"}


async def test_downloads_and_exports_check_permissions_and_mask_personal_data(
    db: str, redis: Any, server_factory: Any
) -> None:
    w = await setup()
    server = server_factory()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        made = await client.post(
            "/graphql",
            json={"query": GENERATE, "variables": {"f": "2026-09-01", "t": "2026-09-30"}},
            headers=bearer(w["leader"]),
        )
        report = made.json()["data"]["generateTimelinessReport"]["report"]
        ok = await client.get(report["xlsxUrl"], headers=bearer(w["leader"]))
        assert ok.status_code == 200 and ok.content[:2] == b"PK"  # a zip: the workbook
        assert (await client.get(report["csvUrl"], headers=bearer(w["ub"]))).status_code == 403
        assert (await client.get(report["csvUrl"])).status_code == 401
        assert (await client.get("/reports/999999/report.csv", headers=bearer(w["leader"]))).status_code == 404

        export = await client.get("/exports/inbox.csv", headers=bearer(w["ua"]))
        assert export.status_code == 200
        lines = export.content.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("推送编号") and len(lines) == 2
        full_id = make_citizen_id("370811", "19860214", 1)
        assert full_id not in export.text and "********" in lines[1]
        none_for_b = await client.get("/exports/inbox.csv?status=CLAIMED", headers=bearer(w["ub"]))
        assert len(none_for_b.content.decode("utf-8-sig").splitlines()) == 1
        book = await client.get("/exports/decisions.xlsx", headers=bearer(w["ua"]))
        assert book.status_code == 200 and book.headers["content-type"].startswith("application/vnd.openxml")
        sheet = load_workbook(io.BytesIO(book.content)).active
        cells = [[c.value for c in row] for row in sheet.iter_rows()]
        assert cells[0][0] == "审批决定文号" and len(cells) == 2
        assert full_id not in str(cells) and "********" in str(cells[1][3])
        assert (await client.get("/exports/inbox.pdf", headers=bearer(w["ua"]))).status_code == 404
        bad = await client.get("/exports/inbox.csv?overdue=maybe", headers=bearer(w["ua"]))
        assert (bad.status_code, bad.json()["errors"][0]["extensions"]["code"]) == (400, "BAD_USER_INPUT")
    assert await AuditRecord.filter(action="export_inbox").count() == 2
    assert await AuditRecord.filter(action="export_decisions").count() == 1
    assert await AuditRecord.filter(action="download_report").count() == 1


DRILL = """query($d:ID!,$o:TimelinessOutcome){timelinessRecords(departmentId:$d,from:"2026-09-01",to:"2026-10-31",
  outcome:$o){totalCount edges{node{status claimedLate department{name}}}}}"""


async def test_drill_down_lists_the_pushes_behind_a_figure(gql: Gql, db: str) -> None:
    from api.graphql.base import to_global_id

    w = await setup()
    now = f.at(2026, 10, 20)
    b = to_global_id("Department", w["b"].id)
    overdue = (await gql(DRILL, {"d": b, "o": "OVERDUE"}, user=w["issuer"], now=now))["data"]["timelinessRecords"]
    assert overdue["totalCount"] == 1 and overdue["edges"][0]["node"]["status"] == "PENDING"
    on_time = (await gql(DRILL, {"d": b, "o": "ON_TIME"}, user=w["issuer"], now=now))["data"]["timelinessRecords"]
    assert on_time["totalCount"] == 0
    # A supervisor drills into its own department only.
    assert (await gql(DRILL, {"d": b}, user=w["ub"], now=now))["data"]["timelinessRecords"]["totalCount"] == 1
    a = to_global_id("Department", w["a"].id)
    assert (await gql(DRILL, {"d": a}, user=w["ub"], now=now))["errors"][0]["code"] == "FORBIDDEN"
    bad = await gql(DRILL, {"d": "nonsense"}, user=w["issuer"], now=now)
    assert [(e["code"], e["message"]) for e in bad["errors"]] == [("BAD_USER_INPUT", "无效的ID")]
