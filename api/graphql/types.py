"""GraphQL object types; each wraps an ORM row and loads relations through the request's loaders."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.context import Info
from api.graphql.base import Node, derived_field, global_id, loaded_field, row_field
from api.graphql.enums import (
    AdminLevel,
    Channel,
    CounterpartyKind,
    DecisionStatus,
    DepartmentKind,
    PushStatus,
    ResponsibilityKind,
    Role,
)
from api.graphql.loaders import load_then
from models import account as acc
from models import catalogue as cat
from models import decision as dec
from models.identifiers import mask_citizen_id, mask_phone
from models.timeline import decision_timeline
from models.visibility import can_see_user, visible_pushes_of

if TYPE_CHECKING:
    from api.graphql.backflow import TimelineEntry
    from api.graphql.commitment import CreditRecord, VerificationPlan, VerificationTask
    from api.graphql.inspection import InspectionTask


@strawberry.type(description="A department (部门) at city or county level.")
class Department(Node):
    row: strawberry.Private[acc.Department]

    id: strawberry.ID = global_id("Department")

    code: str = row_field()
    name: str = row_field()
    kind: DepartmentKind = row_field()
    level: AdminLevel = row_field()
    region_code: str = row_field()

    @strawberry.field
    async def parent(self, info: Info) -> Department | None:
        if self.row.parent_id is None:
            return None
        row = await info.context.loaders.department.load(self.row.parent_id)
        return Department(row=row) if row else None

    @strawberry.field(description="Art. 27–28: every liaison term, current and past, oldest first.")
    async def liaisons(self, info: Info) -> list[Liaison]:
        return [Liaison(row=t) for t in await info.context.loaders.liaisons_of_department.load(self.row.id)]

    @strawberry.field(description="False when nobody currently serves as liaison officer (Art. 27 requires one).")
    async def has_active_liaison(self, info: Info) -> bool:
        terms = await info.context.loaders.liaisons_of_department.load(self.row.id)
        return any(t.ended_at is None for t in terms)


@strawberry.type(description="A user account; never deleted, only disabled.")
class User(Node):
    row: strawberry.Private[acc.User]

    id: strawberry.ID = global_id("User")

    username: str = row_field()
    display_name: str = row_field()
    is_active: bool = row_field()

    @strawberry.field
    def roles(self) -> list[Role]:
        return [Role(r) for r in self.row.roles]

    @strawberry.field(graphql_type=Department)
    def department(self, info: Info) -> Department | Awaitable[Department]:
        return load_then(info.context.loaders.department, self.row.department_id, _department)


@strawberry.type(description="A liaison officer's term (联络员任职), Art. 27–28.")
class Liaison(Node):
    row: strawberry.Private[acc.LiaisonAppointment]

    id: strawberry.ID = global_id("Liaison")

    title: str = row_field()
    started_at: datetime = row_field()
    ended_at: datetime | None = row_field()

    @strawberry.field(description="Masked unless revealed by an authorised role.")
    def phone(self) -> str:
        return mask_phone(self.row.phone)

    @strawberry.field
    def is_active(self) -> bool:
        return self.row.ended_at is None

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        row = await info.context.loaders.user.load(self.row.user_id)
        viewer = info.context.require_user()
        return User(row=row) if row and can_see_user(viewer, row) else None

    @strawberry.field(graphql_type=Department)
    def department(self, info: Info) -> Department | Awaitable[Department]:
        return load_then(info.context.loaders.department, self.row.department_id, _department)


@strawberry.type(description="An item of the catalogue (事项), Art. 8 and 23.")
class ApprovalItem(Node):
    row: strawberry.Private[cat.ApprovalItem]

    id: strawberry.ID = global_id("ApprovalItem")

    code: str = row_field()
    name: str = row_field()
    legal_basis: str = row_field()
    commitment_based: bool = row_field()
    joint_inspection: bool = row_field()
    responsibility: ResponsibilityKind = row_field()
    is_active: bool = row_field()

    @strawberry.field(description="Art. 24: the verification plan of commitment-based decisions of this item.")
    def verification_plan(self) -> Annotated[VerificationPlan, strawberry.lazy("api.graphql.commitment")]:
        from api.graphql.commitment import VerificationPlan

        return VerificationPlan(row=self.row)

    @strawberry.field
    async def supervising_departments(self, info: Info) -> list[Department]:
        return [Department(row=d) for d in await info.context.loaders.supervisors_of_item.load(self.row.id)]


@strawberry.type(description="The person or organisation a decision concerns (行政相对人); personal data masked.")
class Counterparty:
    row: strawberry.Private[dec.Decision]

    name: str = row_field("counterparty_name")
    kind: CounterpartyKind = row_field("counterparty_kind")
    credit_code: str | None = row_field(description="Unified social credit code (public, not masked).")
    contact_name: str | None = row_field()
    address: str | None = row_field()

    @strawberry.field(description="Citizen ID number, masked (370802********1234).")
    def id_number(self) -> str | None:
        return mask_citizen_id(self.row.id_number) if self.row.id_number else None

    @strawberry.field(description="Phone number, masked (138****5678).")
    def phone(self) -> str | None:
        return mask_phone(self.row.phone) if self.row.phone else None


@strawberry.type(name="ApprovalDecision", description="An approval decision (审批决定).")
class ApprovalDecision(Node):
    row: strawberry.Private[dec.Decision]

    id: strawberry.ID = global_id("ApprovalDecision")

    document_number: str = row_field()
    approved_on: date = row_field()
    valid_from: date | None = row_field()
    valid_until: date | None = row_field()
    content: str = row_field()
    channel: Channel = row_field()
    status: DecisionStatus = row_field()
    commitment_based: bool = row_field(description="Art. 24: granted on the counterparty's written commitment.")

    counterparty: Counterparty = derived_field(lambda decision: Counterparty(row=decision.row))
    item: ApprovalItem = loaded_field(
        lambda source, info: load_then(info.context.loaders.item, source.row.item_id, _item)
    )
    issuer: Department = loaded_field(
        lambda source, info: load_then(info.context.loaders.department, source.row.issuer_id, _department)
    )

    @strawberry.field(description="The issuer sees every push; a receiving department sees its own.")
    async def pushes(self, info: Info) -> list[DecisionPush]:
        pushes = await info.context.loaders.pushes_of_decision.load(self.row.id)
        viewer = info.context.require_user()
        return [DecisionPush(row=p) for p in visible_pushes_of(viewer, self.row, pushes)]

    @strawberry.field(description="Art. 22: the joint inspections linked to this decision that the viewer may see.")
    async def inspections(
        self, info: Info
    ) -> list[Annotated[InspectionTask, strawberry.lazy("api.graphql.inspection")]]:
        from api.graphql.inspection import inspections_of_decision

        return await inspections_of_decision(info, self.row.id)

    @strawberry.field(description="Art. 24: verifications of this decision the viewer may see.")
    async def verification_tasks(
        self, info: Info
    ) -> list[Annotated[VerificationTask, strawberry.lazy("api.graphql.commitment")]]:
        from api.graphql.commitment import verifications_of_decision

        return await verifications_of_decision(info, self.row.id)

    @strawberry.field(description="Art. 24: the counterparty's credit records (roles that may read credit).")
    async def credit_records(
        self, info: Info
    ) -> list[Annotated[CreditRecord, strawberry.lazy("api.graphql.commitment")]]:
        from api.graphql.commitment import credit_records_of_decision

        return await credit_records_of_decision(info, self.row)

    @strawberry.field(
        description="Every step of the decision's life the viewer may see, oldest first: issued, pushed, claimed, "
        "returned, supervision actions, notices and their decisions, status changes, expiry."
    )
    async def timeline(self, info: Info) -> list[Annotated[TimelineEntry, strawberry.lazy("api.graphql.backflow")]]:
        from api.graphql.backflow import TimelineEntry  # the back-flow module builds on this one

        entries = await decision_timeline(info.context.require_user(), self.row)
        return [TimelineEntry(entry=e) for e in entries]


@strawberry.type(description="A decision pushed to one supervising department (推送), to be claimed in 3 working days.")
class DecisionPush(Node):
    row: strawberry.Private[dec.DecisionPush]

    id: strawberry.ID = global_id("DecisionPush")

    status: PushStatus = row_field()
    pushed_at: datetime = row_field()
    claim_due_on: date = row_field()
    claim_deadline: datetime = row_field(description="23:59:59 Asia/Shanghai of claimDueOn.")
    deadline_provisional: bool = row_field(
        description="True when the deadline crosses a year whose schedule is not yet official."
    )
    claimed_at: datetime | None = row_field()
    claimed_late: bool = row_field(description="Claimed after the deadline: stays recorded as late.")
    return_reason: str | None = row_field()
    returned_at: datetime | None = row_field()
    reminded_at: datetime | None = row_field()
    overdue_at: datetime | None = row_field(description="When the platform recorded the push as overdue.")

    decision: ApprovalDecision = loaded_field(
        lambda source, info: load_then(info.context.loaders.decision, source.row.decision_id, _decision)
    )
    department: Department = loaded_field(
        lambda source, info: load_then(info.context.loaders.department, source.row.department_id, _department)
    )

    @strawberry.field(description="PENDING after claimDeadline.")
    def overdue(self, info: Info) -> bool:
        return self.row.is_overdue(info.context.now())

    @strawberry.field
    async def claimed_by(self, info: Info) -> User | None:
        if self.row.claimed_by_id is None:
            return None
        row = await info.context.loaders.user.load(self.row.claimed_by_id)
        return User(row=row) if row and can_see_user(info.context.require_user(), row) else None


def _department(row: acc.Department | None) -> Department:
    assert row is not None  # a foreign key under RESTRICT: the row exists
    return Department(row=row)


def _item(row: cat.ApprovalItem | None) -> ApprovalItem:
    assert row is not None
    return ApprovalItem(row=row)


def _decision(row: dec.Decision | None) -> ApprovalDecision:
    assert row is not None
    return ApprovalDecision(row=row)
