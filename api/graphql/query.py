"""Queries: every list and object is scoped to what the viewer's department may see."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from api.context import Context, Info
from api.graphql.audit import AuditQuery
from api.graphql.base import Connection, Node, given
from api.graphql.enums import AdminLevel, DepartmentKind, PushStatus
from api.graphql.nodes import node_loader, resolve_node
from api.graphql.pagination import paginate
from api.graphql.types import ApprovalDecision, ApprovalItem, DecisionPush, Department, Liaison, User
from models import account, catalogue
from models.calendar import current_calendar
from models.decision import DecisionPush as PushRow
from models.personal_data import find_by_id_number
from models.visibility import can_see_decision, can_see_push, can_see_user, inbox, visible_decisions, visible_users
from models.workdays import WorkCalendar

EPOCH = datetime(1970, 1, 1)


@strawberry.type(description="A working-day calendar year as deadlines use it.")
class CalendarYearView:
    year: int
    official: bool = strawberry.field(description="False: no published schedule yet, weekends-only rule.")
    holidays: list[date]
    make_up_workdays: list[date]
    working_day_count: int


def year_view(calendar: WorkCalendar, year: int) -> CalendarYearView:
    summary = calendar.year_summary(year)
    return CalendarYearView(
        year=summary.year,
        official=summary.official,
        holidays=summary.holidays,
        make_up_workdays=summary.make_up_workdays,
        working_day_count=summary.working_day_count,
    )


@node_loader("Department")
async def _department(context: Context, pk: int) -> Node | None:
    dept = await context.loaders.department.load(pk)
    return Department(row=dept) if dept else None


@node_loader("User")
async def _user(context: Context, pk: int) -> Node | None:
    user = await context.loaders.user.load(pk)
    return User(row=user) if user and can_see_user(context.require_user(), user) else None


@node_loader("Liaison")
async def _liaison(context: Context, pk: int) -> Node | None:
    term = await account.LiaisonAppointment.get_or_none(id=pk)
    return Liaison(row=term) if term else None


@node_loader("ApprovalItem")
async def _item(context: Context, pk: int) -> Node | None:
    item = await context.loaders.item.load(pk)
    return ApprovalItem(row=item) if item else None


@node_loader("ApprovalDecision")
async def _decision(context: Context, pk: int) -> Node | None:
    row = await context.loaders.decision.load(pk)
    return ApprovalDecision(row=row) if row and await can_see_decision(context.require_user(), row) else None


@node_loader("DecisionPush")
async def _push(context: Context, pk: int) -> Node | None:
    loaders = context.loaders
    push = await loaders.push.load(pk)
    issuer = await loaders.decision.load(push.decision_id) if push else None
    if push and issuer and can_see_push(context.require_user(), push, issuer.issuer_id):
        return DecisionPush(row=push)
    return None


@strawberry.type
class Query(AuditQuery):
    @strawberry.field(description="The signed-in user, or null.")
    def me(self, info: Info) -> User | None:
        user = info.context.user
        return User(row=user) if user else None

    @strawberry.field(description="Any object by its global id, if the viewer may see it.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="The department directory (every signed-in user may read it).")
    async def departments(
        self,
        info: Info,
        kind: DepartmentKind | None = strawberry.UNSET,
        level: AdminLevel | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[Department]:
        info.context.require_user()
        query = account.Department.all()
        if kind:
            query = query.filter(kind=kind)
        if level:
            query = query.filter(level=level)
        return await paginate(
            query, keys=("id",), samples=(0,), first=given(first), after=given(after), wrap=lambda r: Department(row=r)
        )

    @strawberry.field(description="Accounts the viewer may see: their own department's (all, for admins).")
    async def users(
        self, info: Info, first: int | None = strawberry.UNSET, after: str | None = strawberry.UNSET
    ) -> Connection[User]:
        viewer = info.context.require_user()
        return await paginate(
            visible_users(viewer),
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: User(row=r),
        )

    @strawberry.field(description="The item catalogue.")
    async def approval_items(
        self, info: Info, first: int | None = strawberry.UNSET, after: str | None = strawberry.UNSET
    ) -> Connection[ApprovalItem]:
        info.context.require_user()
        return await paginate(
            catalogue.ApprovalItem.all(),
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: ApprovalItem(row=r),
        )

    @strawberry.field(description="Decisions the viewer's department issued or received, oldest first.")
    async def decisions(
        self,
        info: Info,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        id_number: Annotated[
            str | None,
            strawberry.argument(description="Only the counterparty with this citizen ID number (exact match)."),
        ] = strawberry.UNSET,
    ) -> Connection[ApprovalDecision]:
        viewer = info.context.require_user()
        number = given(id_number)
        return await paginate(
            find_by_id_number(viewer, number) if number else visible_decisions(viewer),
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: ApprovalDecision(row=r),
        )

    @strawberry.field(description="Pushes addressed to the viewer's department, earliest deadline first.")
    async def inbox(
        self,
        info: Info,
        status: PushStatus | None = strawberry.UNSET,
        overdue: bool | None = strawberry.UNSET,
        due_before: date | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[DecisionPush]:
        viewer = info.context.require_user()
        query = inbox(
            viewer, now=info.context.now(), status=given(status), overdue=given(overdue), due_before=given(due_before)
        )
        loaders = info.context.loaders

        async def with_decisions(rows: list[PushRow]) -> None:
            # Each push's decision, item and issuer in one statement, whatever the page size.
            await loaders.decision.load_many([r.decision_id for r in rows])

        return await paginate(
            query,
            keys=("claim_deadline", "id"),
            samples=(EPOCH, 0),
            first=given(first),
            after=given(after),
            wrap=lambda r: DecisionPush(row=r),
            prepare=with_decisions,
        )

    @strawberry.field(description="The date `days` working days after `start` (the start day does not count).")
    async def add_working_days(self, info: Info, start: date, days: int) -> date:
        info.context.require_user()
        if not 1 <= days <= 365:
            raise GraphQLError("days 必须在 1 到 365 之间", extensions={"code": "BAD_USER_INPUT", "field": "days"})
        calendar = await current_calendar()
        try:
            return calendar.add_working_days(start, days)
        except ValueError:
            raise GraphQLError("日期超出日历范围", extensions={"code": "BAD_USER_INPUT", "field": "start"}) from None

    @strawberry.field(description="A year of the working-day calendar: holidays, make-up workdays, status.")
    async def calendar_year(self, info: Info, year: int) -> CalendarYearView:
        info.context.require_user()
        if not 2000 <= year <= 2100:
            raise GraphQLError("年份超出范围", extensions={"code": "BAD_USER_INPUT", "field": "year"})
        return year_view(await current_calendar(), year)
