"""Art. 22 joint site inspections in the schema: tasks, invitations, expert draws, opinions."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Context, Info
from api.graphql.backflow import EvidenceFile, evidence_of
from api.graphql.base import Connection, Node, given, global_id, to_global_id
from api.graphql.nodes import node_loader
from api.graphql.obligations import Obligation, obligations_of
from api.graphql.pagination import paginate
from api.graphql.pool import Expert
from api.graphql.types import ApprovalDecision, ApprovalItem, Department, User
from models import inspection as ins
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
from models.pool import Expert as ExpertRow
from models.visibility import can_see_decision, can_see_user

for _enum in (InspectionKind, InspectionStatus, InvitationStatus, InspectionOpinionKind):
    strawberry.enum(_enum)
ACTING = (Role.OFFICER, Role.LIAISON)
EPOCH = datetime(1970, 1, 1)


@strawberry.type(description="A supervision department invited to an inspection; it accepts or declines with a reason.")
class InspectionInvitation(Node):
    row: strawberry.Private[ins.InspectionInvitation]

    id: strawberry.ID = global_id("InspectionInvitation")

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

    @strawberry.field(description="Evidence files recorded with the opinion.")
    async def evidence(self, info: Info) -> list[EvidenceFile]:
        return await evidence_of(info, "InspectionOpinion", self.row.id)


@strawberry.type(description="A joint site inspection or review (联合踏勘评审), Art. 22.")
class InspectionTask(Node):
    row: strawberry.Private[ins.InspectionTask]

    id: strawberry.ID = global_id("InspectionTask")

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
        rows = await info.context.loaders.children(ins.InspectionInvitation, "task_id").load(self.row.id)
        return [InspectionInvitation(row=r) for r in rows]

    @strawberry.field
    async def draws(self, info: Info) -> list[ExpertDraw]:
        return [ExpertDraw(row=r) for r in await info.context.loaders.children(DrawRow, "task_id").load(self.row.id)]

    @strawberry.field
    async def opinions(self, info: Info) -> list[InspectionOpinion]:
        rows = await info.context.loaders.children(ins.InspectionOpinion, "task_id").load(self.row.id)
        return [InspectionOpinion(row=r) for r in rows]

    @strawberry.field
    def conclusion(self) -> str | None:
        return self.row.conclusion

    @strawberry.field
    def closed_at(self) -> datetime | None:
        return self.row.closed_at

    @strawberry.field(description="Evidence files recorded with the conclusion.")
    async def evidence(self, info: Info) -> list[EvidenceFile]:
        return await evidence_of(info, "InspectionTask", self.row.id)

    @strawberry.field(description="INSPECTION_OPINION deadlines: 3 working days after the planned day.")
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "InspectionTask", self.row.id)


async def _visible_task(context: Context, row: ins.InspectionTask | None) -> InspectionTask | None:
    if row is None:
        return None
    invitations = await context.loaders.children(ins.InspectionInvitation, "task_id").load(row.id)
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
    rows = await info.context.loaders.children(ins.InspectionTask, "decision_id").load(decision_id)
    found = [await _visible_task(info.context, r) for r in rows]
    return [t for t in found if t is not None]


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
