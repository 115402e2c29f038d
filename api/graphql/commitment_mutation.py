"""Art. 24 mutations: verification plans, results with their outcomes, completed outcomes."""

from __future__ import annotations

from datetime import date

import strawberry

from api.context import Info
from api.graphql.backflow import evidence_ids
from api.graphql.base import UserError
from api.graphql.commitment import ACTING, CommitmentOutcome, VerificationTask
from api.graphql.mutation import attempt, pk_of, run
from api.graphql.types import ApprovalItem
from models import commitment as cm
from models import credit as cr
from models.catalogue import ApprovalItem as ItemRow
from models.enums import (
    CommitmentOutcomeKind,
    ResponsibleSide,
    Role,
    VerificationMethod,
    VerificationResult,
)


@strawberry.input
class SetVerificationPlanInput:
    item_id: strawberry.ID
    exempt: bool = False
    working_days: int | None = strawberry.field(default=None, description="Within this many working days of approval.")
    standard: str | None = None
    method: VerificationMethod | None = None
    responsible_side: ResponsibleSide | None = None


@strawberry.input
class CommitmentOutcomeInput:
    kind: CommitmentOutcomeKind
    note: str
    rectify_by: date | None = strawberry.field(default=None, description="RECTIFY: the date to rectify by.")
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="PENALTY: the supervision department."
    )


@strawberry.input
class RecordVerificationResultInput:
    verification_id: strawberry.ID
    result: VerificationResult
    note: str
    outcomes: list[CommitmentOutcomeInput] = strawberry.field(default_factory=list)
    referred_to_judiciary: bool = False
    referral_reference: str | None = None
    evidence_file_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.type
class VerificationTaskPayload:
    verification_task: VerificationTask | None
    errors: list[UserError]


@strawberry.type
class CommitmentOutcomePayload:
    commitment_outcome: CommitmentOutcome | None
    errors: list[UserError]


@strawberry.type
class VerificationPlanPayload:
    approval_item: ApprovalItem | None
    errors: list[UserError]


def _outcomes(values: list[CommitmentOutcomeInput]) -> list[cr.OutcomeInput]:
    return [
        cr.OutcomeInput(
            kind=o.kind,
            note=o.note,
            rectify_by=o.rectify_by,
            department_id=pk_of(o.department_id, "Department", f"outcomes.{i}.departmentId")
            if o.department_id
            else None,
        )
        for i, o in enumerate(values)
    ]


@strawberry.type
class CommitmentMutation:
    @strawberry.mutation(description="Art. 24: an item's verification plan (admin).")
    async def set_verification_plan(self, info: Info, input: SetVerificationPlanInput) -> VerificationPlanPayload:
        info.context.require_role(Role.ADMIN)

        async def work() -> ItemRow:
            return await cm.set_verification_plan(
                pk_of(input.item_id, "ApprovalItem", "itemId"),
                exempt=input.exempt,
                working_days=input.working_days,
                standard=input.standard,
                method=input.method,
                side=input.responsible_side,
            )

        row, errors = await attempt(lambda: run(info, work))
        return VerificationPlanPayload(approval_item=ApprovalItem(row=row) if row else None, errors=errors)

    @strawberry.mutation(description="Art. 24: record TRUE or FALSE; a false commitment needs its outcomes.")
    async def record_verification_result(
        self, info: Info, input: RecordVerificationResultInput
    ) -> VerificationTaskPayload:
        actor = info.context.require_role(*ACTING)

        async def work() -> cm.VerificationTask:
            data = cr.ResultInput(
                result=input.result,
                note=input.note,
                outcomes=_outcomes(input.outcomes),
                referred_to_judiciary=input.referred_to_judiciary,
                referral_reference=input.referral_reference,
                evidence_file_ids=evidence_ids(input.evidence_file_ids),
            )
            pk = pk_of(input.verification_id, "VerificationTask", "verificationId")
            return await cr.record_verification_result(actor, pk, data, now=info.context.now())

        row, errors = await attempt(lambda: run(info, work))
        return VerificationTaskPayload(verification_task=VerificationTask(row=row) if row else None, errors=errors)

    @strawberry.mutation(description="The acting department reports an outcome carried out (e.g. rectified).")
    async def complete_commitment_outcome(self, info: Info, id: strawberry.ID, note: str) -> CommitmentOutcomePayload:
        actor = info.context.require_role(*ACTING)

        async def work() -> cr.CommitmentOutcome:
            pk = pk_of(id, "CommitmentOutcome", "id")
            return await cr.complete_outcome(actor, pk, note=note, now=info.context.now())

        row, errors = await attempt(lambda: run(info, work))
        return CommitmentOutcomePayload(commitment_outcome=CommitmentOutcome(row=row) if row else None, errors=errors)
