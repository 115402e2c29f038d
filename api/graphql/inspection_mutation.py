"""Art. 22 inspection mutations: organise, reply, draw, record opinions, close, link."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.graphql.backflow import evidence_ids
from api.graphql.base import UserError, given
from api.graphql.inputs import CounterpartyInput
from api.graphql.inspection import ACTING, ExpertDraw, InspectionInvitation, InspectionOpinion, InspectionTask
from api.graphql.mutation import attempt, pk_of, run
from models import inspection as ins
from models import inspection_opinion as opn
from models.enums import (
    InspectionKind,
    InspectionOpinionKind,
)
from models.expert_draw import ExpertDraw as DrawRow
from models.issuance import CounterpartyInput as CounterpartyData


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
    evidence_file_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


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
                evidence_file_ids=evidence_ids(input.evidence_file_ids),
            )

        row, errors = await attempt(lambda: run(info, work))
        return InspectionOpinionPayload(inspection_opinion=InspectionOpinion(row=row) if row else None, errors=errors)

    @strawberry.mutation(description="Art. 22: close an inspection with its conclusion and its evidence files.")
    async def close_inspection_task(
        self,
        info: Info,
        id: strawberry.ID,
        conclusion: str,
        evidence_file_ids: list[strawberry.ID] | None = strawberry.UNSET,
    ) -> InspectionTaskPayload:
        actor = info.context.require_role(*ACTING)

        async def work() -> ins.InspectionTask:
            pk = pk_of(id, "InspectionTask", "id")
            files = evidence_ids(given(evidence_file_ids) or [])
            return await opn.close_inspection(
                actor, pk, conclusion=conclusion, now=info.context.now(), evidence_file_ids=files
            )

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
