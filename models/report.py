"""Timeliness reports (通报, Art. 19): a workbook and a CSV per period, stored and released to leaders.

The monthly report is made on the first working day of each month for the month before; one row per
(kind, period) makes the job idempotent. The files live under var/reports/ and are never deleted.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from tortoise import fields
from tortoise.models import Model

from models.account import Department, User
from models.calendar import SHANGHAI, current_calendar
from models.decision import Decision, DecisionPush
from models.enums import DepartmentKind, ReportKind, Role
from models.errors import Forbidden
from models.event import EventKind, record_event
from models.spreadsheet import csv_row, keep_as_text
from models.statistics import DepartmentTimeliness, Thresholds, period_bounds, timeliness

SUMMARY_HEADER = [
    "部门",
    "推送数",
    "按时认领",
    "逾期认领",
    "退回",
    "未认领",
    "逾期未认领",
    "按时率",
    "认领用时中位数（工作小时）",
    "认领用时90分位（工作小时）",
    "标记",
    "监管信息按时推送",
    "监管信息逾期推送",
    "监管信息线下推送",
    "监管信息逾期未推送",
]
DETAIL_HEADER = ["审批决定文号", "推送时间", "认领期限", "状态", "认领时间", "逾期认领"]
FLAG_NAMES = {"RED": "红色", "YELLOW": "黄色", "GREEN": "绿色", "NONE": "—"}
DETAIL_ROWS_PER_SHEET = 5000
TREND_MONTHS = 12


class TimelinessReport(Model):
    """A produced report: its period, files and digests."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(ReportKind, max_length=16)
    period_start = fields.DateField()
    period_end = fields.DateField()
    generated_at = fields.DatetimeField()
    generated_by_id = fields.IntField(null=True)
    xlsx_path = fields.CharField(max_length=255)
    csv_path = fields.CharField(max_length=255)
    xlsx_sha256 = fields.CharField(max_length=64)
    departments = fields.IntField(default=0)
    red_flags = fields.IntField(default=0)

    class Meta:
        table = "timeliness_report"
        unique_together = (("kind", "period_start", "period_end"),)


def month_before(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    end = first - timedelta(days=1)
    return end.replace(day=1), end


def months_back(end: date, count: int) -> list[tuple[date, date]]:
    """The `count` calendar months ending with the one containing `end`, oldest first."""
    out: list[tuple[date, date]] = []
    first = end.replace(day=1)
    for _ in range(count):
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        out.append((first, last))
        first = (first - timedelta(days=1)).replace(day=1)
    return out[::-1]


async def first_working_day_of_month(day: date) -> date:
    calendar = await current_calendar()
    first = day.replace(day=1)
    while not calendar.is_workday(first):
        first += timedelta(days=1)
    return first


async def may_read_reports(viewer: User) -> bool:
    """Leaders anywhere, the approval side, and administrators read the reports (they name every department)."""
    if viewer.is_admin or viewer.has_role(Role.LEADER):
        return True
    return await Department.filter(id=viewer.department_id, kind=DepartmentKind.APPROVAL).exists()


@dataclass
class ReportData:
    start: date
    end: date
    rows: list[DepartmentTimeliness]
    names: dict[int, str]
    trend: list[tuple[str, float | None]]
    thresholds: Thresholds


def _rate(rows: list[DepartmentTimeliness]) -> float | None:
    on_time = sum(r.claimed_on_time for r in rows)
    due = sum(r.due for r in rows)
    return round(on_time / due, 4) if due else None


async def gather(start: date, end: date, now: datetime, thresholds: Thresholds) -> ReportData:
    rows = [r for r in await timeliness(start, end, now=now) if r.pushed or r.obligations or r.actions]
    names = dict(await Department.filter(id__in=[r.department_id for r in rows]).values_list("id", "name"))
    trend = []
    for lo, hi in months_back(end, TREND_MONTHS):
        trend.append((lo.strftime("%Y-%m"), _rate(await timeliness(lo, hi, now=now))))
    return ReportData(start, end, rows, names, trend, thresholds)


def summary_rows(data: ReportData) -> list[list[object]]:
    return [
        [
            data.names.get(r.department_id, str(r.department_id)),
            r.pushed,
            r.claimed_on_time,
            r.claimed_late,
            r.returned,
            r.unclaimed,
            r.overdue,
            r.on_time_rate,
            r.median_claim_hours,
            r.p90_claim_hours,
            FLAG_NAMES[r.flag(data.thresholds)],
            *(
                (r.actions.pushed_on_time, r.actions.pushed_late, r.actions.pushed_offline, r.actions.unpushed_overdue)
                if r.actions
                else (0, 0, 0, 0)
            ),
        ]
        for r in data.rows
    ]


def _sheet_title(name: str, used: set[str]) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\, unique."""
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name)[:28] or "部门"
    title, n = clean, 2
    while title in used:
        title, n = f"{clean[:26]}-{n}", n + 1
    used.add(title)
    return title


async def build_workbook(data: ReportData) -> bytes:
    """Summary with a bar chart of on-time rates, a 12-month trend with a line chart, one sheet per department."""
    book = Workbook()
    summary = book.active
    summary.title = "汇总"
    summary.append([f"审管互动平台时效通报 {data.start.isoformat()} 至 {data.end.isoformat()}"])
    summary.append(SUMMARY_HEADER)
    for row in summary_rows(data):
        summary.append(row)
        keep_as_text(summary[summary.max_row])
    count = len(data.rows)
    if count:
        chart = BarChart()
        chart.title = "各部门按时认领率"
        chart.y_axis.title = "按时率"
        chart.add_data(Reference(summary, min_col=8, min_row=2, max_row=2 + count), titles_from_data=True)
        chart.set_categories(Reference(summary, min_col=1, min_row=3, max_row=2 + count))
        summary.add_chart(chart, "M2")

    trend = book.create_sheet("趋势")
    trend.append(["月份", "按时率"])
    for month, rate in data.trend:
        trend.append([month, rate])
    line = LineChart()
    line.title = "近12个月按时认领率"
    line.add_data(Reference(trend, min_col=2, min_row=1, max_row=1 + len(data.trend)), titles_from_data=True)
    line.set_categories(Reference(trend, min_col=1, min_row=2, max_row=1 + len(data.trend)))
    trend.add_chart(line, "D2")

    used = {"汇总", "趋势"}
    lo, hi = period_bounds(data.start, data.end)
    for r in data.rows:
        sheet = book.create_sheet(_sheet_title(data.names.get(r.department_id, str(r.department_id)), used))
        sheet.append(DETAIL_HEADER)
        pushes = (
            DecisionPush.filter(department_id=r.department_id, pushed_at__gte=lo, pushed_at__lt=hi)
            .order_by("pushed_at", "id")
            .limit(DETAIL_ROWS_PER_SHEET)
        )
        rows = await pushes.values_list(
            "decision_id", "pushed_at", "claim_due_on", "status", "claimed_at", "claimed_late"
        )
        numbers = dict(await Decision.filter(id__in=[row[0] for row in rows]).values_list("id", "document_number"))
        for decision_id, pushed_at, due_on, status, claimed_at, late in rows:
            sheet.append(
                [
                    numbers.get(decision_id, ""),
                    local_stamp(pushed_at),
                    due_on.isoformat(),
                    str(status),
                    local_stamp(claimed_at) if claimed_at else "",
                    "是" if late else "否",
                ]
            )
            keep_as_text(sheet[sheet.max_row])
        if r.obligations:
            sheet.append([])
            sheet.append(["其他期限事项", "事项数", "按时办结", "逾期办结", "逾期未办"])
            for o in r.obligations:
                sheet.append([o.title, o.opened, o.done_on_time, o.done_late, o.open_overdue])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def local_stamp(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def build_csv(data: ReportData) -> bytes:
    """The summary as CSV, UTF-8 with a BOM so that spreadsheet programs read the Chinese right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SUMMARY_HEADER)
    writer.writerows(csv_row(row) for row in summary_rows(data))
    return ("\ufeff" + out.getvalue()).encode()


def _store(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


async def produce_report(
    kind: ReportKind,
    start: date,
    end: date,
    *,
    now: datetime,
    reports_dir: Path,
    actor: User | None = None,
    thresholds: Thresholds | None = None,
) -> tuple[TimelinessReport, bool]:
    """Make (or find) the report of a period; returns (report, made_now). Call in a write transaction."""
    if actor is not None and not await may_read_reports(actor):
        raise Forbidden("只有审批部门、领导或管理员可以生成通报", field=None)
    period_bounds(start, end)  # a typed error for a bad period before any work
    existing = await TimelinessReport.get_or_none(kind=kind, period_start=start, period_end=end)
    if existing is not None and kind is ReportKind.MONTHLY:
        return existing, False
    data = await gather(start, end, now, thresholds or Thresholds())
    xlsx, csv_bytes = await build_workbook(data), build_csv(data)
    stamp = now.strftime("%Y%m%dT%H%M%S")
    folder = reports_dir / f"{start.isoformat()}_{end.isoformat()}_{kind.value.lower()}_{stamp}"
    await asyncio.to_thread(_store, folder, {"report.xlsx": xlsx, "report.csv": csv_bytes})
    values: dict[str, Any] = {
        "generated_at": now,
        "generated_by_id": actor.id if actor else None,
        "xlsx_path": str(folder / "report.xlsx"),
        "csv_path": str(folder / "report.csv"),
        "xlsx_sha256": hashlib.sha256(xlsx).hexdigest(),
        "departments": len(data.rows),
        "red_flags": sum(1 for r in data.rows if r.flag(data.thresholds) == "RED"),
    }
    if existing is not None:
        await TimelinessReport.filter(id=existing.id).update(**values)
        report = await TimelinessReport.get(id=existing.id)
    else:
        report = await TimelinessReport.create(kind=kind, period_start=start, period_end=end, **values)
    audience = await Department.all().values_list("id", flat=True)
    await record_event(
        EventKind.REPORT_RELEASED,
        subject_type="TimelinessReport",
        subject_id=report.id,
        departments=[int(d) for d in audience],  # type: ignore[call-overload]
        roles=[Role.LEADER.value, Role.ADMIN.value],
        payload={"reportId": report.id, "from": start.isoformat(), "to": end.isoformat(), "kind": kind.value},
    )
    return report, True
