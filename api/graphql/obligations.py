"""Working-day obligations in the schema: each record's deadline, and a department's to-do list."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from tortoise.expressions import Q

from api.context import Context, Info
from api.graphql.base import Connection, Node, given, global_id
from api.graphql.enums import ObligationStatus
from api.graphql.nodes import load_node, node_loader
from api.graphql.pagination import paginate
from api.graphql.types import Department
from models import obligation as ob
from models.account import User as UserRow
from models.decision import past_cutoff

EPOCH = datetime(1970, 1, 1)


def can_see_obligation(viewer: UserRow, row: ob.Obligation) -> bool:
    """The department that must act, the departments watching it, and administrators."""
    return viewer.is_admin or viewer.department_id == row.department_id or viewer.department_id in row.watchers


@strawberry.type(description="A department must act on a record by the end of a working day (工作日期限).")
class Obligation(Node):
    row: strawberry.Private[ob.Obligation]

    id: strawberry.ID = global_id("Obligation")

    @strawberry.field(description="What must be done, e.g. NOTICE_REPLY, PENALTY_CLAIM.")
    def kind(self) -> str:
        return self.row.kind

    @strawberry.field(description="The kind in words (Chinese).")
    def title(self) -> str:
        return self.row.title

    @strawberry.field(description="The record the obligation is about.")
    async def subject(self, info: Info) -> Node | None:
        return await load_node(info.context, self.row.subject_type, self.row.subject_id)

    @strawberry.field(description="The department that must act.")
    async def department(self, info: Info) -> Department:
        row = await info.context.loaders.department.load(self.row.department_id)
        assert row is not None
        return Department(row=row)

    @strawberry.field(description="The day the term starts after (not counted).")
    def started_on(self) -> date:
        return self.row.started_on

    @strawberry.field
    def working_days(self) -> int:
        return self.row.working_days

    @strawberry.field
    def due_on(self) -> date:
        return self.row.due_on

    @strawberry.field(description="23:59:59 Asia/Shanghai of dueOn.")
    def deadline(self) -> datetime:
        return self.row.deadline

    @strawberry.field(description="True when the term crosses a year whose schedule is not yet official.")
    def provisional(self) -> bool:
        return self.row.provisional

    @strawberry.field
    def status(self) -> ObligationStatus:
        return self.row.status

    @strawberry.field(description="OPEN after the deadline.")
    def overdue(self, info: Info) -> bool:
        return self.row.is_overdue(info.context.now())

    @strawberry.field
    def done_at(self) -> datetime | None:
        return self.row.done_at

    @strawberry.field(description="Done after the deadline: stays recorded as late.")
    def done_late(self) -> bool:
        return self.row.done_late

    @strawberry.field
    def reminded_at(self) -> datetime | None:
        return self.row.reminded_at

    @strawberry.field(description="When the obligation was recorded overdue (once).")
    def overdue_at(self) -> datetime | None:
        return self.row.overdue_at


@node_loader("Obligation")
async def _obligation(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(ob.Obligation).load(pk)
    return Obligation(row=row) if row and can_see_obligation(context.require_user(), row) else None


async def obligations_of(info: Info, subject_type: str, subject_id: int) -> list[Obligation]:
    """A record's obligations the viewer may see, oldest first (for the flows' types)."""
    viewer = info.context.require_user()
    rows = await ob.Obligation.filter(subject_type=subject_type, subject_id=subject_id).order_by("id")
    return [Obligation(row=r) for r in rows if can_see_obligation(viewer, r)]


@strawberry.type
class ObligationQuery:
    @strawberry.field(description="What the viewer's department must do, earliest deadline first (待办).")
    async def obligations(
        self,
        info: Info,
        status: ObligationStatus | None = strawberry.UNSET,
        kind: str | None = strawberry.UNSET,
        overdue: bool | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[Obligation]:
        viewer = info.context.require_user()
        query = ob.Obligation.filter(department_id=viewer.department_id)
        if wanted := given(status):
            query = query.filter(status=wanted)
        if wanted_kind := given(kind):
            query = query.filter(kind=wanted_kind)
        late = given(overdue)
        if late is not None:
            cutoff = past_cutoff(info.context.now())
            # Spelled out with Q: tortoise's exclude(a=…, b=…) means NOT a AND NOT b, not NOT (a AND b).
            overdue_now = Q(status=ObligationStatus.OPEN) & Q(deadline__lte=cutoff)
            not_overdue = Q(status__not=ObligationStatus.OPEN) | Q(deadline__gt=cutoff)
            query = query.filter(overdue_now if late else not_overdue)
        return await paginate(
            query,
            keys=("deadline", "id"),
            samples=(EPOCH, 0),
            first=given(first),
            after=given(after),
            wrap=lambda r: Obligation(row=r),
        )
