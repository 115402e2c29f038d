"""Art. 22 joint site inspections in the schema: tasks, invitations, expert draws, opinions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from api.context import Context, Info
from api.graphql.base import Connection, Node, UserError, given, to_global_id
from api.graphql.grouped import children
from api.graphql.inputs import CounterpartyInput
from api.graphql.mutation import attempt, pk_of, run
from api.graphql.nodes import node_loader
from api.graphql.obligations import Obligation, obligations_of
from api.graphql.pagination import paginate
from api.graphql.pool import Expert
from api.graphql.types import ApprovalDecision, ApprovalItem, Department, User
from models import inspection as ins
from models import inspection_opinion as opn
from models.enums import (
    CounterpartyKind,
    InspectionKind,
    InspectionOpinionKind,
    InspectionStatus,
    InvitationStatus,
    Role,
)
from models.expert_draw import ExpertDraw as DrawRow
from models.identifiers import mask_citizen_id
from models.issuance import CounterpartyInput as CounterpartyData
from models.pool import Expert as ExpertRow
from models.visibility import can_see_decision, can_see_user

for _enum in (InspectionKind, InspectionStatus, InvitationStatus, InspectionOpinionKind):
    strawberry.enum(_enum)
ACTING = (Role.OFFICER, Role.LIAISON)
EPOCH = datetime(1970, 1, 1)


@strawberry.type(description="A supervision department invited to an inspection; it accepts or declines with a reason.")
class InspectionInvitation(Node):
    row: strawberry.Private[ins.InspectionInvitation]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("InspectionInvitation", self.row.id)

    @strawberry.field
    async def task(self, info: Info) -> InspectionTask | None:
        row = await info.context.loaders.of(ins.InspectionTask).load(self.row.task_id)
        return InspectionTask(row=row) if row else None

    @strawberry.field
    async def department(self, info: Info) -> Department:
        row = await info.context.loaders.department.load(self.row.department_id)
        assert row is not None
        return Department(row=row)

    @strawberry.field
    def status(self) -> InvitationStatus:
        return self.row.status

    @strawberry.field(description="Why the department declined.")
    def reason(self) -> str | None:
        return self.row.reason

    @strawberry.field
    def replied_at(self) -> datetime | None:
        return self.row.replied_at

    @strawberry.field(description="INSPECTION_REPLY: 2 working days to accept or decline.")
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "InspectionInvitation", self.row.id)


@strawberry.type(description="One random draw of experts, recorded so it can be audited and reproduced.")
class ExpertDraw:
    row: strawberry.Private[DrawRow]

    @strawberry.field
    def field(self) -> str:
        return self.row.field

    @strawberry.field
    def count(self) -> int:
        return self.row.count

    @strawberry.field(description="Experts drawn in the last this many days were excluded.")
    def lookback_days(self) -> int:
        return self.row.lookback_days

    @strawberry.field(description="random.Random(seed).sample over the sorted eligible expert ids replays the draw.")
    def seed(self) -> str:
        return str(self.row.seed)

    @strawberry.field(description="Global ids of every approved, available expert of the field, sorted.")
    def candidate_ids(self) -> list[strawberry.ID]:
        return [to_global_id("Expert", pk) for pk in self.row.candidates]

    @strawberry.field(description="Excluded candidates with the reason (CONFLICT_OF_INTEREST, DRAWN_RECENTLY...).")
    def exclusions(self) -> list[DrawExclusion]:
        return [
            DrawExclusion(expert_id=to_global_id("Expert", e["expertId"]), reason=e["reason"])
            for e in self.row.exclusions
        ]

    @strawberry.field
    async def experts(self, info: Info) -> list[Expert]:
        rows = await info.context.loaders.of(ExpertRow).load_many(self.row.result)
        return [Expert(row=r) for r in rows if r is not None]

    @strawberry.field
    def drawn_at(self) -> datetime:
        return self.row.drawn_at


@strawberry.type
class DrawExclusion:
    expert_id: strawberry.ID
    reason: str


@strawberry.type(description="A participant's opinion: a department's own, or a drawn expert's.")
class InspectionOpinion:
    row: strawberry.Private[ins.InspectionOpinion]

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        if self.row.department_id is None:
            return None
        row = await info.context.loaders.department.load(self.row.department_id)
        return Department(row=row) if row else None

    @strawberry.field
    async def expert(self, info: Info) -> Expert | None:
        if self.row.expert_id is None:
            return None
        row = await info.context.loaders.of(ExpertRow).load(self.row.expert_id)
        return Expert(row=row) if row else None

    @strawberry.field
    def opinion(self) -> InspectionOpinionKind:
        return self.row.opinion

    @strawberry.field
    def text(self) -> str:
        return self.row.text

    @strawberry.field
    async def recorded_by(self, info: Info) -> User | None:
        row = await info.context.loaders.user.load(self.row.recorded_by_id)
        return User(row=row) if row and can_see_user(info.context.require_user(), row) else None

    @strawberry.field
    def recorded_at(self) -> datetime:
        return self.row.recorded_at


@strawberry.type(description="A joint site inspection or review (联合踏勘评审), Art. 22.")
class InspectionTask(Node):
    row: strawberry.Private[ins.InspectionTask]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("InspectionTask", self.row.id)

    @strawberry.field
    def kind(self) -> InspectionKind:
        return self.row.kind

    @strawberry.field
    def status(self) -> InspectionStatus:
        return self.row.status

    @strawberry.field
    def site(self) -> str:
        return self.row.site

    @strawberry.field
    def planned_at(self) -> datetime:
        return self.row.planned_at

    @strawberry.field(description="The application's reference, for an inspection before the decision.")
    def application_reference(self) -> str | None:
        return self.row.application_reference

    @strawberry.field
    def counterparty_name(self) -> str:
        return self.row.counterparty_name

    @strawberry.field
    def counterparty_kind(self) -> CounterpartyKind:
        return self.row.counterparty_kind

    @strawberry.field(description="USCC, or the citizen ID masked.")
    def counterparty_identifier(self) -> str | None:
        return self.row.credit_code or (mask_citizen_id(self.row.id_number) if self.row.id_number else None)

    @strawberry.field
    async def item(self, info: Info) -> ApprovalItem | None:
        row = await info.context.loaders.item.load(self.row.item_id)
        return ApprovalItem(row=row) if row else None

    @strawberry.field
    async def organiser(self, info: Info) -> Department:
        row = await info.context.loaders.department.load(self.row.organiser_id)
        assert row is not None
        return Department(row=row)

    @strawberry.field(description="The decision the inspection belongs to, once issued and linked.")
    async def decision(self, info: Info) -> ApprovalDecision | None:
        if self.row.decision_id is None:
            return None
        row = await info.context.loaders.decision.load(self.row.decision_id)
        viewer = info.context.require_user()
        return ApprovalDecision(row=row) if row and await can_see_decision(viewer, row) else None

    @strawberry.field
    async def invitations(self, info: Info) -> list[InspectionInvitation]:
        rows = await children(info.context, ins.InspectionInvitation, "task_id").load(self.row.id)
        return [InspectionInvitation(row=r) for r in rows]

    @strawberry.field
    async def draws(self, info: Info) -> list[ExpertDraw]:
        return [ExpertDraw(row=r) for r in await children(info.context, DrawRow, "task_id").load(self.row.id)]

    @strawberry.field
    async def opinions(self, info: Info) -> list[InspectionOpinion]:
        rows = await children(info.context, ins.InspectionOpinion, "task_id").load(self.row.id)
        return [InspectionOpinion(row=r) for r in rows]

    @strawberry.field
    def conclusion(self) -> str | None:
        return self.row.conclusion

    @strawberry.field
    def closed_at(self) -> datetime | None:
        return self.row.closed_at

    @strawberry.field(description="INSPECTION_OPINION deadlines: 3 working days after the planned day.")
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "InspectionTask", self.row.id)


async def _visible_task(context: Context, row: ins.InspectionTask | None) -> InspectionTask | None:
    if row is None:
        return None
    invitations = await children(context, ins.InspectionInvitation, "task_id").load(row.id)
    invited = [i.department_id for i in invitations]
    return InspectionTask(row=row) if ins.can_see_task(context.require_user(), row, invited) else None


@node_loader("InspectionTask")
async def _task(context: Context, pk: int) -> Node | None:
    return await _visible_task(context, await context.loaders.of(ins.InspectionTask).load(pk))


@node_loader("InspectionInvitation")
async def _invitation(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(ins.InspectionInvitation).load(pk)
    if row is None:
        return None
    task = await _visible_task(context, await context.loaders.of(ins.InspectionTask).load(row.task_id))
    return InspectionInvitation(row=row) if task else None


async def inspections_of_decision(info: Info, decision_id: int) -> list[InspectionTask]:
    """For ApprovalDecision.inspections: the linked tasks the viewer may see."""
    rows = await children(info.context, ins.InspectionTask, "decision_id").load(decision_id)
    found = [await _visible_task(info.context, r) for r in rows]
    return [t for t in found if t is not None]


@strawberry.input
class CreateInspectionTaskInput:
    kind: InspectionKind
    site: str
    planned_at: datetime
    invited_department_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    decision_id: strawberry.ID | None = strawberry.field(default=None, description="For an issued decision; or:")
    application_reference: str | None = None
    item_id: strawberry.ID | None = None
    counterparty: CounterpartyInput | None = None


@strawberry.input
class DrawExpertsInput:
    task_id: strawberry.ID
    field: str
    count: int
    lookback_days: int = strawberry.field(default=ins.DEFAULT_LOOKBACK_DAYS, description="Skip experts drawn lately.")


@strawberry.input
class RecordInspectionOpinionInput:
    task_id: strawberry.ID
    opinion: InspectionOpinionKind
    text: str
    expert_id: strawberry.ID | None = strawberry.field(default=None, description="The organiser records an expert's.")


@strawberry.type
class InspectionTaskPayload:
    inspection_task: InspectionTask | None
    errors: list[UserError]


@strawberry.type
class InspectionInvitationPayload:
    inspection_invitation: InspectionInvitation | None
    errors: list[UserError]


@strawberry.type
class ExpertDrawPayload:
    expert_draw: ExpertDraw | None
    errors: list[UserError]


@strawberry.type
class InspectionOpinionPayload:
    inspection_opinion: InspectionOpinion | None
    errors: list[UserError]


def _counterparty(value: CounterpartyInput | None) -> CounterpartyData | None:
    if value is None:
        return None
    return CounterpartyData(
        name=value.name,
        kind=value.kind,
        id_number=value.id_number,
        credit_code=value.credit_code,
        contact_name=value.contact_name,
        phone=value.phone,
        address=value.address,
    )


@strawberry.type
class InspectionQuery:
    @strawberry.field(description="Inspections the viewer's department organises or is invited to.")
    async def inspection_tasks(
        self,
        info: Info,
        status: InspectionStatus | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[InspectionTask]:
        query = ins.visible_tasks(info.context.require_user())
        if wanted := given(status):
            query = query.filter(status=wanted)
        return await paginate(
            query,
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: InspectionTask(row=r),
        )


def _task_payload(row: ins.InspectionTask | None, errors: list[UserError]) -> InspectionTaskPayload:
    return InspectionTaskPayload(inspection_task=InspectionTask(row=row) if row else None, errors=errors)


@strawberry.type
class InspectionMutation:
    @strawberry.mutation(description="Art. 22: organise a joint inspection of an application or a decision.")
    async def create_inspection_task(self, info: Info, input: CreateInspectionTaskInput) -> InspectionTaskPayload:
        actor = info.context.require_role(*ACTING)

        async def work() -> ins.InspectionTask:
            invited = [
                pk_of(v, "Department", f"invitedDepartmentIds.{i}") for i, v in enumerate(input.invited_department_ids)
            ]
            return await ins.create_inspection_task(
                actor,
                kind=input.kind,
                site=input.site,
                planned_at=input.planned_at,
                invited_department_ids=invited,
                now=info.context.now(),
                decision_id=pk_of(input.decision_id, "ApprovalDecision", "decisionId") if input.decision_id else None,
                application_reference=input.application_reference,
                item_id=pk_of(input.item_id, "ApprovalItem", "itemId") if input.item_id else None,
                counterparty=_counterparty(input.counterparty),
            )

        row, errors = await attempt(lambda: run(info, work))
        return _task_payload(row, errors)

    @strawberry.mutation(description="Art. 22: accept an inspection invitation, or decline it with a reason.")
    async def reply_inspection_invitation(
        self, info: Info, id: strawberry.ID, accept: bool, reason: str | None = None
    ) -> InspectionInvitationPayload:
        actor = info.context.require_role(*ACTING)

        async def work() -> ins.InspectionInvitation:
            pk = pk_of(id, "InspectionInvitation", "id")
            return await ins.reply_invitation(actor, pk, accept=accept, reason=reason, now=info.context.now())

        row, errors = await attempt(lambda: run(info, work))
        wrapped = InspectionInvitation(row=row) if row else None
        return InspectionInvitationPayload(inspection_invitation=wrapped, errors=errors)

    @strawberry.mutation(
        description="Art. 22: draw experts of a field at random (conflicts and recent draws excluded)."
    )
    async def draw_experts(self, info: Info, input: DrawExpertsInput) -> ExpertDrawPayload:
        actor = info.context.require_role(*ACTING)

        async def work() -> DrawRow:
            pk = pk_of(input.task_id, "InspectionTask", "taskId")
            return await ins.draw_experts(
                actor,
                pk,
                field=input.field,
                count=input.count,
                lookback_days=input.lookback_days,
                now=info.context.now(),
            )

        row, errors = await attempt(lambda: run(info, work))
        return ExpertDrawPayload(expert_draw=ExpertDraw(row=row) if row else None, errors=errors)

    @strawberry.mutation(
        description="Art. 22: record a participant's opinion (AGREE, AGREE_WITH_CONDITIONS, DISAGREE)."
    )
    async def record_inspection_opinion(
        self, info: Info, input: RecordInspectionOpinionInput
    ) -> InspectionOpinionPayload:
        actor = info.context.require_role(*ACTING)

        async def work() -> ins.InspectionOpinion:
            return await opn.record_opinion(
                actor,
                pk_of(input.task_id, "InspectionTask", "taskId"),
                opinion=input.opinion,
                text=input.text,
                expert_id=pk_of(input.expert_id, "Expert", "expertId") if input.expert_id else None,
                now=info.context.now(),
            )

        row, errors = await attempt(lambda: run(info, work))
        return InspectionOpinionPayload(inspection_opinion=InspectionOpinion(row=row) if row else None, errors=errors)

    @strawberry.mutation(description="Art. 22: close an inspection with its conclusion.")
    async def close_inspection_task(self, info: Info, id: strawberry.ID, conclusion: str) -> InspectionTaskPayload:
        actor = info.context.require_role(*ACTING)

        async def work() -> ins.InspectionTask:
            pk = pk_of(id, "InspectionTask", "id")
            return await opn.close_inspection(actor, pk, conclusion=conclusion, now=info.context.now())

        row, errors = await attempt(lambda: run(info, work))
        return _task_payload(row, errors)

    @strawberry.mutation(description="Link an application's inspection to the decision that followed it.")
    async def link_inspection_task(
        self, info: Info, id: strawberry.ID, decision_id: strawberry.ID
    ) -> InspectionTaskPayload:
        actor = info.context.require_role(*ACTING)

        async def work() -> Any:
            pk = pk_of(id, "InspectionTask", "id")
            decision = pk_of(decision_id, "ApprovalDecision", "decisionId")
            return await opn.link_inspection(actor, pk, decision, now=info.context.now())

        row, errors = await attempt(lambda: run(info, work))
        return _task_payload(row, errors)
