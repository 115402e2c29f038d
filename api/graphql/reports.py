"""Timeliness statistics and reports in the schema (Art. 19)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from api.context import Context, Info
from api.graphql.base import Connection, Node, UserError, forbidden, given, global_id, query_errors
from api.graphql.enums import ReportKind
from api.graphql.mutation import attempt, pk_of, run
from api.graphql.nodes import node_loader
from api.graphql.pagination import paginate
from api.graphql.types import DecisionPush, Department
from models import report as rep
from models import statistics as stats
from models.account import Department as DepartmentRow
from models.account import User as UserRow
from models.enums import DepartmentKind


@strawberry.enum(description="Which figure of a department's timeliness row to drill into.")
class TimelinessOutcome(Enum):
    ON_TIME = "ON_TIME"
    LATE = "LATE"
    RETURNED = "RETURNED"
    UNCLAIMED = "UNCLAIMED"
    OVERDUE = "OVERDUE"


FLAG_DESCRIPTION = "RED / YELLOW / GREEN by the on-time rate against the thresholds; NONE with nothing due yet."


@strawberry.type(description="Another deadline kind (notice replies, inquiries, penalty claims...) of a department.")
class ObligationTimeliness:
    kind: str
    title: str
    opened: int
    done_on_time: int
    done_late: int
    open_overdue: int


@strawberry.type(description="Art. 21: supervision actions a department recorded (by penalty date) and pushed back.")
class ActionTimeliness:
    recorded: int
    pushed_on_time: int = strawberry.field(description="Pushed within 7 working days of the penalty decision.")
    pushed_late: int
    pushed_offline: int = strawberry.field(description="Recorded as pushed offline (official letter, case file...).")
    unpushed_overdue: int = strawberry.field(description="Not pushed, and the push is past due.")
    claimed_on_time: int = strawberry.field(description="Claimed by the approval department in time.")
    claimed_late: int


@strawberry.type(description="How one department claimed the pushes it received in a period (Art. 19).")
class DepartmentTimeliness:
    row: strawberry.Private[stats.DepartmentTimeliness]
    thresholds: strawberry.Private[stats.Thresholds]

    @strawberry.field
    async def department(self, info: Info) -> Department:
        found = await info.context.loaders.department.load(self.row.department_id)
        assert found is not None
        return Department(row=found)

    @strawberry.field(description="Pushes made to the department in the period.")
    def pushed(self) -> int:
        return self.row.pushed

    @strawberry.field
    def claimed_on_time(self) -> int:
        return self.row.claimed_on_time

    @strawberry.field
    def claimed_late(self) -> int:
        return self.row.claimed_late

    @strawberry.field
    def returned(self) -> int:
        return self.row.returned

    @strawberry.field(description="Still pending, whether or not the claim day has passed.")
    def unclaimed(self) -> int:
        return self.row.unclaimed

    @strawberry.field(description="Still pending after the claim day.")
    def overdue(self) -> int:
        return self.row.overdue

    @strawberry.field(description="Claimed on time over everything due (claimed either way, or overdue).")
    def on_time_rate(self) -> float | None:
        return self.row.on_time_rate

    @strawberry.field(description="Median working hours from push to claim.")
    def median_claim_hours(self) -> float | None:
        return self.row.median_claim_hours

    @strawberry.field(description="90th percentile of working hours from push to claim.")
    def p90_claim_hours(self) -> float | None:
        return self.row.p90_claim_hours

    @strawberry.field(description=FLAG_DESCRIPTION)
    def flag(self) -> str:
        return self.row.flag(self.thresholds)

    @strawberry.field(description="Supervision actions the department recorded and pushed back (null: none).")
    def supervision_actions(self) -> ActionTimeliness | None:
        a = self.row.actions
        if a is None:
            return None
        return ActionTimeliness(
            recorded=a.recorded,
            pushed_on_time=a.pushed_on_time,
            pushed_late=a.pushed_late,
            pushed_offline=a.pushed_offline,
            unpushed_overdue=a.unpushed_overdue,
            claimed_on_time=a.claimed_on_time,
            claimed_late=a.claimed_late,
        )

    @strawberry.field(description="The department's other deadlines in the period, by kind.")
    def obligations(self) -> list[ObligationTimeliness]:
        return [
            ObligationTimeliness(
                kind=o.kind,
                title=o.title,
                opened=o.opened,
                done_on_time=o.done_on_time,
                done_late=o.done_late,
                open_overdue=o.open_overdue,
            )
            for o in self.row.obligations
        ]


@strawberry.type(description="A produced timeliness report (通报): XLSX workbook with charts, and CSV.")
class TimelinessReport(Node):
    row: strawberry.Private[rep.TimelinessReport]

    id: strawberry.ID = global_id("TimelinessReport")

    @strawberry.field
    def kind(self) -> ReportKind:
        return self.row.kind

    @strawberry.field
    def period_start(self) -> date:
        return self.row.period_start

    @strawberry.field
    def period_end(self) -> date:
        return self.row.period_end

    @strawberry.field
    def generated_at(self) -> datetime:
        return self.row.generated_at

    @strawberry.field(description="Departments named in the report.")
    def departments(self) -> int:
        return self.row.departments

    @strawberry.field(description="Departments flagged red.")
    def red_flags(self) -> int:
        return self.row.red_flags

    @strawberry.field(description="SHA-256 of the workbook as stored.")
    def xlsx_sha256(self) -> str:
        return self.row.xlsx_sha256

    @strawberry.field(description="Download path (GET with the same bearer token).")
    def xlsx_url(self) -> str:
        return f"/reports/{self.row.id}/report.xlsx"

    @strawberry.field(description="Download path (GET with the same bearer token).")
    def csv_url(self) -> str:
        return f"/reports/{self.row.id}/report.csv"


@strawberry.type
class ReportPayload:
    report: TimelinessReport | None
    errors: list[UserError]


async def _require_reader(context: Context) -> UserRow:
    viewer = context.require_user()
    if not await rep.may_read_reports(viewer):
        raise forbidden("只有审批部门、领导或管理员可以查看通报")
    return viewer


@node_loader("TimelinessReport")
async def _report(context: Context, pk: int) -> Node | None:
    viewer = context.require_user()
    if not await rep.may_read_reports(viewer):
        return None
    row = await context.loaders.of(rep.TimelinessReport).load(pk)
    return TimelinessReport(row=row) if row else None


def thresholds_of(context: Context) -> stats.Thresholds:
    return stats.Thresholds(red=context.settings.flag_red, yellow=context.settings.flag_yellow)


@strawberry.type
class ReportQuery:
    @strawberry.field(
        description="Art. 19: per receiving department, pushes of the period and what became of them. "
        "The approval side, leaders and administrators see every department; others their own."
    )
    async def timeliness_statistics(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        item_id: strawberry.ID | None = strawberry.UNSET,
        department_id: strawberry.ID | None = strawberry.UNSET,
    ) -> list[DepartmentTimeliness]:
        viewer = info.context.require_user()
        departments: list[int] | None = None
        with query_errors():
            if wanted := given(department_id):
                departments = [pk_of(wanted, "Department", "departmentId")]
        if not await rep.may_read_reports(viewer):
            departments = [viewer.department_id]
        item = given(item_id)
        with query_errors():
            rows = await stats.timeliness(
                from_,
                to,
                now=info.context.now(),
                department_ids=departments,
                item_id=pk_of(item, "ApprovalItem", "itemId") if item else None,
            )
        limits = thresholds_of(info.context)
        return [DepartmentTimeliness(row=r, thresholds=limits) for r in rows]

    @strawberry.field(
        description="Drill-down: the pushes behind one figure of a department's row, in push order. "
        "Same permissions as timelinessStatistics."
    )
    async def timeliness_records(
        self,
        info: Info,
        department_id: strawberry.ID,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        outcome: TimelinessOutcome | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[DecisionPush]:
        viewer = info.context.require_user()
        with query_errors():
            department = pk_of(department_id, "Department", "departmentId")
        if department != viewer.department_id and not await rep.may_read_reports(viewer):
            raise forbidden("只能查看本部门的明细")
        wanted = given(outcome)
        with query_errors():
            query = stats.records_behind(
                department, from_, to, wanted.value if wanted else None, now=info.context.now()
            )
        return await paginate(
            query,
            keys=("pushed_at", "id"),
            samples=(datetime(1970, 1, 1), 0),
            first=given(first),
            after=given(after),
            wrap=lambda r: DecisionPush(row=r),
        )

    @strawberry.field(description="Art. 27: departments where nobody currently serves as liaison officer.")
    async def departments_without_liaison(self, info: Info, kind: DepartmentKind | None = None) -> list[Department]:
        await _require_reader(info.context)
        rows: list[DepartmentRow] = await stats.departments_without_liaison()
        return [Department(row=r) for r in rows if kind is None or r.kind is kind]

    @strawberry.field(description="Produced timeliness reports, newest first.")
    async def timeliness_reports(
        self, info: Info, first: int | None = strawberry.UNSET, after: str | None = strawberry.UNSET
    ) -> Connection[TimelinessReport]:
        await _require_reader(info.context)
        return await paginate(
            rep.TimelinessReport.all(),
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: TimelinessReport(row=r),
        )


@strawberry.type
class ReportMutation:
    @strawberry.mutation(description="Art. 19: produce a report of any period now (released to leaders).")
    async def generate_timeliness_report(
        self, info: Info, from_: Annotated[date, strawberry.argument(name="from")], to: date
    ) -> ReportPayload:
        viewer = await _require_reader(info.context)
        context = info.context

        async def work() -> rep.TimelinessReport:
            report, _ = await rep.produce_report(
                ReportKind.ON_DEMAND,
                from_,
                to,
                now=context.now(),
                reports_dir=context.settings.var_dir / "reports",
                actor=viewer,
                thresholds=thresholds_of(context),
            )
            return report

        row, errors = await attempt(lambda: run(info, work, audit={"from": from_.isoformat(), "to": to.isoformat()}))
        return ReportPayload(report=TimelinessReport(row=row) if row else None, errors=errors)
