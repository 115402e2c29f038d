"""Timeliness figures against hand-computed expectations, and the report workbook read back."""

from __future__ import annotations

import asyncio
import csv
import itertools
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from tortoise.transactions import in_transaction

from models.calendar import current_calendar
from models.claim import claim_push, return_push
from models.decision import DecisionPush
from models.enums import DepartmentKind, ReportKind, Role
from models.errors import Forbidden, InvalidInput
from models.event import Event, EventKind
from models.report import TimelinessReport, first_working_day_of_month, months_back, produce_report
from models.statistics import Thresholds, percentile, timeliness, working_hours
from tests import factories as f

NOW = f.at(2026, 10, 20, 12, 0)
NUMBERS = itertools.count(1)


async def test_working_hours_skip_the_national_day_holiday(db: str) -> None:
    calendar = await current_calendar()
    # Mon 09-28 10:00 → Tue 09-29 10:00: 14 + 10 hours.
    assert working_hours(calendar, f.at(2026, 9, 28, 10), f.at(2026, 9, 29, 10)) == 24.0
    # Wed 09-30 22:00 → Thu 10-08 02:00: 2 hours on 09-30, 1–7 October are holidays, 2 hours on 10-08.
    assert working_hours(calendar, f.at(2026, 9, 30, 22), f.at(2026, 10, 8, 2)) == 4.0
    # Sat 10-10 is a make-up workday and counts; Sun 10-11 does not.
    assert working_hours(calendar, f.at(2026, 10, 10, 0), f.at(2026, 10, 12, 0)) == 24.0
    assert working_hours(calendar, f.at(2026, 10, 12), f.at(2026, 10, 11)) == 0.0


def test_percentiles_interpolate() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(v) for v in range(1, 11)], 0.9) == 9.1


class Data:
    """Two supervision departments A and B, one approval department, four decisions.

    d1 (Mon 09-28 10:00, item supervised by A and B): A claims next day (on time, 24 working hours);
       B claims on 10-12 10:00, after its 10-08 deadline (late; 144 working hours across the holiday).
    d2 (Tue 09-29 10:00, same item): A returns it; B never claims (overdue on 10-20).
    d3 (Thu 10-15 10:00, item supervised by A only): A has not claimed, due 10-20 — pending, not overdue.
    d4 (11-02, outside the October period): ignored.
    """


@pytest.fixture
async def data(db: str) -> dict[str, int]:
    approval = await f.department(DepartmentKind.APPROVAL)
    a, b = await f.department(), await f.department()
    issuer = await f.user(approval, Role.OFFICER)
    ua, ub = await f.user(a, Role.OFFICER), await f.user(b, Role.OFFICER)
    both, only_a = await f.item(a, b), await f.item(a)
    async with in_transaction():
        d1 = await f.decision(issuer, both, now=f.at(2026, 9, 28, 10))
        d2 = await f.decision(issuer, both, now=f.at(2026, 9, 29, 10), seq=2)
        await f.decision(issuer, only_a, now=f.at(2026, 10, 15, 10), seq=3)
        await f.decision(issuer, only_a, now=f.at(2026, 11, 2, 10), seq=4)
    push = {
        (d, dept): (await DecisionPush.get(decision_id=d.id, department_id=dept.id)).id
        for d in (d1, d2)
        for dept in (a, b)
    }
    async with in_transaction():
        await claim_push(ua, push[(d1, a)], now=f.at(2026, 9, 29, 10))
        await claim_push(ub, push[(d1, b)], now=f.at(2026, 10, 12, 10))
        await return_push(ua, push[(d2, a)], "不属于本部门监管", now=f.at(2026, 9, 30, 9))
    return {"a": a.id, "b": b.id, "approval": approval.id, "issuer": issuer.id, "item": both.id}


async def test_october_figures_match_the_hand_count(data: dict[str, int]) -> None:
    rows = {r.department_id: r for r in await timeliness(date(2026, 9, 1), date(2026, 10, 31), now=NOW)}
    a, b = rows[data["a"]], rows[data["b"]]
    assert (a.pushed, a.claimed_on_time, a.claimed_late, a.returned, a.unclaimed, a.overdue) == (3, 1, 0, 1, 1, 0)
    assert (b.pushed, b.claimed_on_time, b.claimed_late, b.returned, b.unclaimed, b.overdue) == (2, 0, 1, 0, 1, 1)
    assert (a.median_claim_hours, a.on_time_rate, a.flag(Thresholds())) == (24.0, 1.0, "GREEN")
    # 09-28 14h + 09-29 24h + 09-30 24h + 10-08/09/10 72h + 10-12 10h.
    assert (b.median_claim_hours, b.p90_claim_hours, b.on_time_rate, b.flag(Thresholds())) == (144.0, 144.0, 0.0, "RED")
    assert set(rows) == {data["a"], data["b"]}


async def test_filters_by_item_department_and_period(data: dict[str, int]) -> None:
    by_item = await timeliness(date(2026, 9, 1), date(2026, 10, 31), now=NOW, item_id=data["item"])
    assert {r.department_id: r.pushed for r in by_item} == {data["a"]: 2, data["b"]: 2}
    only_b = await timeliness(date(2026, 9, 1), date(2026, 10, 31), now=NOW, department_ids=[data["b"]])
    assert [r.department_id for r in only_b] == [data["b"]]
    # Before the claim day has come, nothing is due: no rate, no flag.
    early = await timeliness(date(2026, 10, 15), date(2026, 10, 15), now=f.at(2026, 10, 15, 12))
    assert [(r.pushed, r.on_time_rate, r.flag(Thresholds())) for r in early] == [(1, None, "NONE")]
    with pytest.raises(InvalidInput) as error:
        await timeliness(date(2026, 10, 31), date(2026, 10, 1), now=NOW)
    assert error.value.field == "to"


async def test_the_workbook_has_a_summary_with_a_chart_over_its_rates_and_a_trend(
    data: dict[str, int], tmp_path: Path
) -> None:
    async with in_transaction():
        report, made = await produce_report(
            ReportKind.ON_DEMAND, date(2026, 9, 1), date(2026, 10, 31), now=NOW, reports_dir=tmp_path
        )
    assert made and (report.departments, report.red_flags) == (2, 1)
    book = load_workbook(report.xlsx_path)
    summary = book["汇总"]
    header = [c.value for c in summary[2]]
    assert header[0] == "部门" and header[7] == "按时率" and header[10] == "标记"
    values = [[c.value for c in row] for row in summary.iter_rows(min_row=3, max_row=4)]
    assert sorted((v[1], v[7], v[10]) for v in values) == [(2, 0, "红色"), (3, 1, "绿色")]
    (chart,) = summary._charts
    (series,) = chart.series
    assert series.val.numRef.f == "'汇总'!$H$3:$H$4"
    assert (series.cat.strRef or series.cat.numRef).f == "'汇总'!$A$3:$A$4"
    trend = book["趋势"]
    (line,) = trend._charts
    assert line.series[0].val.numRef.f == "'趋势'!$B$2:$B$13"
    months = [trend.cell(row=r, column=1).value for r in range(2, 14)]
    assert months[0] == "2025-11" and months[-1] == "2026-10"
    assert len(book.sheetnames) == 4  # summary, trend, one per department
    text = await asyncio.to_thread(Path(report.csv_path).read_text, encoding="utf-8-sig")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0][0] == "部门" and len(rows) == 3
    released = await Event.filter(kind=EventKind.REPORT_RELEASED).all()
    assert [(e.subject_id, e.roles) for e in released] == [(report.id, ["LEADER", "ADMIN"])]


async def test_the_monthly_report_is_made_once_per_period(data: dict[str, int], tmp_path: Path) -> None:
    async with in_transaction():
        first, made = await produce_report(
            ReportKind.MONTHLY, date(2026, 10, 1), date(2026, 10, 31), now=NOW, reports_dir=tmp_path
        )
        again, made_again = await produce_report(
            ReportKind.MONTHLY, date(2026, 10, 1), date(2026, 10, 31), now=NOW, reports_dir=tmp_path
        )
    assert made and not made_again and first.id == again.id
    assert await TimelinessReport.all().count() == 1


async def test_only_readers_may_produce_a_report(data: dict[str, int], tmp_path: Path) -> None:
    from models.account import User

    supervisor = await User.filter(department_id=data["a"]).first()
    assert supervisor is not None
    with pytest.raises(Forbidden):
        await produce_report(
            ReportKind.ON_DEMAND, date(2026, 10, 1), date(2026, 10, 31), now=NOW, reports_dir=tmp_path, actor=supervisor
        )


async def test_first_working_day_skips_the_national_day_holiday(db: str) -> None:
    assert await first_working_day_of_month(date(2026, 10, 20)) == date(2026, 10, 8)
    assert await first_working_day_of_month(date(2026, 11, 20)) == date(2026, 11, 2)
    assert months_back(date(2026, 3, 31), 3) == [
        (date(2026, 1, 1), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 31)),
    ]


async def test_supervision_actions_count_pushes_on_time_late_offline_and_unpushed(data: dict[str, int]) -> None:
    from models.account import User
    from models.backflow import (
        ActionInput,
        ActionKind,
        OfflineChannel,
        claim_action,
        push_action,
        record_action,
        record_offline_push,
    )
    from models.decision import Decision

    officer = await User.filter(department_id=data["a"]).first()
    issuer = await User.get(id=data["issuer"])
    assert officer is not None
    pushed_to_a = await DecisionPush.filter(department_id=data["a"]).order_by("id").first()
    assert pushed_to_a is not None
    decision = await Decision.get(id=pushed_to_a.decision_id)

    async def action(penalty_day: date) -> int:
        data_ = ActionInput(
            kind=ActionKind.FINE,
            penalty_document_number=f"济市监罚〔2026〕{next(NUMBERS)}号",
            penalty_decided_on=penalty_day,
            content="罚款",
            decision_ids=[decision.id],
        )
        async with in_transaction():
            return (await record_action(officer, data_, now=f.at(2026, 9, 28, 12))).id

    # Penalties of 09-28 are due for pushing on 10-13 (7 working days across National Day).
    on_time, late, offline, never = [await action(date(2026, 9, 28)) for _ in range(4)]
    async with in_transaction():
        await push_action(officer, on_time, now=f.at(2026, 9, 29, 10))
        await claim_action(issuer, on_time, now=f.at(2026, 9, 30, 10))
        await push_action(officer, late, now=f.at(2026, 10, 14, 10))
        await record_offline_push(
            officer,
            offline,
            channel=OfflineChannel.OFFICIAL_LETTER,
            reference="济市监函〔2026〕3号",
            pushed_on=date(2026, 9, 30),
            now=f.at(2026, 10, 8, 9),
        )
    rows = {r.department_id: r for r in await timeliness(date(2026, 9, 1), date(2026, 10, 31), now=NOW)}
    counts = rows[data["a"]].actions
    assert counts is not None
    assert (counts.recorded, counts.pushed_on_time, counts.pushed_late, counts.pushed_offline) == (4, 2, 1, 1)
    assert (counts.unpushed_overdue, counts.claimed_on_time, counts.claimed_late) == (1, 1, 0)
    assert rows[data["b"]].actions is None
    assert never  # recorded, never pushed: counted as overdue above
