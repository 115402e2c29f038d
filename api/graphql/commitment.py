"""Art. 24 in the schema: verification plans and tasks, outcomes of false commitments, credit records."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.context import Context, Info
from api.graphql.backflow import EvidenceFile, evidence_of
from api.graphql.base import Connection, Node, forbidden, given, global_id, query_errors
from api.graphql.nodes import node_loader
from api.graphql.obligations import Obligation, obligations_of
from api.graphql.pagination import paginate
from api.graphql.types import ApprovalDecision, Department
from models import commitment as cm
from models import credit as cr
from models.catalogue import ApprovalItem as ItemRow
from models.decision import Decision as DecisionRow
from models.enums import (
    CommitmentOutcomeKind,
    CounterpartyKind,
    OutcomeStatus,
    ResponsibleSide,
    Role,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
)
from models.identifiers import mask_citizen_id
from models.visibility import can_see_decision

for _enum in (
    CommitmentOutcomeKind,
    OutcomeStatus,
    ResponsibleSide,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
):
    strawberry.enum(_enum)
ACTING = (Role.OFFICER, Role.LIAISON)


async def _department(info: Info, pk: int) -> Department:
    row = await info.context.loaders.department.load(pk)
    assert row is not None
    return Department(row=row)


async def _decision(info: Info, pk: int) -> ApprovalDecision | None:
    row = await info.context.loaders.decision.load(pk)
    return ApprovalDecision(row=row) if row and await can_see_decision(info.context.require_user(), row) else None


@strawberry.type(description="Art. 24: when and how commitments are verified, or exempt.")
class VerificationPlan:
    row: strawberry.Private[ItemRow]

    @strawberry.field
    def exempt(self) -> bool:
        return self.row.verification_exempt

    @strawberry.field(description="Null until a plan is set.")
    def working_days(self) -> int | None:
        return self.row.verification_days

    @strawberry.field
    def standard(self) -> str | None:
        return self.row.verification_standard

    @strawberry.field
    def method(self) -> VerificationMethod | None:
        return self.row.verification_method

    @strawberry.field
    def responsible_side(self) -> ResponsibleSide | None:
        return self.row.verification_side


@strawberry.type(description="Checking a commitment-based decision after approval (核查), Art. 24.")
class VerificationTask(Node):
    row: strawberry.Private[cm.VerificationTask]

    id: strawberry.ID = global_id("VerificationTask")

    @strawberry.field
    async def decision(self, info: Info) -> ApprovalDecision | None:
        return await _decision(info, self.row.decision_id)

    @strawberry.field(description="The department that must verify.")
    async def department(self, info: Info) -> Department:
        return await _department(info, self.row.department_id)

    @strawberry.field
    def responsible_side(self) -> ResponsibleSide | None:
        return self.row.side

    @strawberry.field
    def method(self) -> VerificationMethod | None:
        return self.row.method

    @strawberry.field
    def standard(self) -> str | None:
        return self.row.standard

    @strawberry.field
    def status(self) -> VerificationStatus:
        return self.row.status

    @strawberry.field(description="The plan's working days after the approval date.")
    def due_on(self) -> date | None:
        return self.row.due_on

    @strawberry.field
    def result(self) -> VerificationResult | None:
        return self.row.result

    @strawberry.field
    def note(self) -> str | None:
        return self.row.note

    @strawberry.field
    def recorded_at(self) -> datetime | None:
        return self.row.recorded_at

    @strawberry.field
    async def outcomes(self, info: Info) -> list[CommitmentOutcome]:
        viewer = info.context.require_user()
        rows = await info.context.loaders.children(cr.CommitmentOutcome, "verification_id").load(self.row.id)
        return [CommitmentOutcome(row=r) for r in rows if cr.can_see_outcome(viewer, r)]

    @strawberry.field(description="Evidence files recorded with the result.")
    async def evidence(self, info: Info) -> list[EvidenceFile]:
        return await evidence_of(info, "VerificationTask", self.row.id)

    @strawberry.field(description="VERIFICATION: by the plan's due day.")
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "VerificationTask", self.row.id)


@strawberry.type(description="What follows a false commitment: terminate, rectify by a date, revoke, penalty.")
class CommitmentOutcome(Node):
    row: strawberry.Private[cr.CommitmentOutcome]

    id: strawberry.ID = global_id("CommitmentOutcome")

    @strawberry.field
    def kind(self) -> CommitmentOutcomeKind:
        return self.row.kind

    @strawberry.field(description="REQUESTED until the acting department reports it done.")
    def status(self) -> OutcomeStatus:
        return self.row.status

    @strawberry.field
    def note(self) -> str:
        return self.row.note

    @strawberry.field
    def rectify_by(self) -> date | None:
        return self.row.rectify_by

    @strawberry.field(
        description="Who acts: the verifier, the issuer (REVOKE) or the supervision department (PENALTY)."
    )
    async def department(self, info: Info) -> Department:
        return await _department(info, self.row.department_id)

    @strawberry.field
    async def decision(self, info: Info) -> ApprovalDecision | None:
        return await _decision(info, self.row.decision_id)

    @strawberry.field
    def done_at(self) -> datetime | None:
        return self.row.done_at

    @strawberry.field
    def done_note(self) -> str | None:
        return self.row.done_note

    @strawberry.field(description="RECTIFICATION: until the rectification date.")
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "CommitmentOutcome", self.row.id)


@strawberry.type(description="A false commitment on a counterparty's credit record (信用记录), Art. 24.")
class CreditRecord(Node):
    row: strawberry.Private[cr.CreditRecord]

    id: strawberry.ID = global_id("CreditRecord")

    @strawberry.field
    def counterparty_name(self) -> str:
        return self.row.counterparty_name

    @strawberry.field
    def counterparty_kind(self) -> CounterpartyKind:
        return self.row.counterparty_kind

    @strawberry.field
    def credit_code(self) -> str | None:
        return self.row.credit_code

    @strawberry.field(description="Masked (370802********1234).")
    def id_number(self) -> str | None:
        return mask_citizen_id(self.row.id_number) if self.row.id_number else None

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field(description="Suspected crime referred to the judiciary.")
    def referred_to_judiciary(self) -> bool:
        return self.row.referred_to_judiciary

    @strawberry.field
    def referral_reference(self) -> str | None:
        return self.row.referral_reference

    @strawberry.field
    def recorded_at(self) -> datetime:
        return self.row.recorded_at

    @strawberry.field
    async def recorded_by(self, info: Info) -> Department:
        return await _department(info, self.row.recorded_by_department_id)

    @strawberry.field(description="The decision whose commitment was false (if the viewer may see it).")
    async def decision(self, info: Info) -> ApprovalDecision | None:
        return await _decision(info, self.row.decision_id)


@node_loader("VerificationTask")
async def _verification(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(cm.VerificationTask).load(pk)
    return VerificationTask(row=row) if row and cm.can_see_verification(context.require_user(), row) else None


@node_loader("CommitmentOutcome")
async def _outcome(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(cr.CommitmentOutcome).load(pk)
    return CommitmentOutcome(row=row) if row and cr.can_see_outcome(context.require_user(), row) else None


@node_loader("CreditRecord")
async def _credit(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(cr.CreditRecord).load(pk)
    return CreditRecord(row=row) if row and cr.can_see_credit(context.require_user(), row) else None


async def credit_records_of_decision(info: Info, decision: DecisionRow) -> list[CreditRecord]:
    """For ApprovalDecision.creditRecords: the counterparty's records, to roles that may read credit."""
    if not cr.may_read_credit(info.context.require_user()):
        return []
    rows = await info.context.loaders.children(cr.CreditRecord, "lookup_key").load(cr.decision_key(decision))
    return [CreditRecord(row=r) for r in rows]


async def verifications_of_decision(info: Info, decision_id: int) -> list[VerificationTask]:
    viewer = info.context.require_user()
    rows = await info.context.loaders.children(cm.VerificationTask, "decision_id").load(decision_id)
    return [VerificationTask(row=r) for r in rows if cm.can_see_verification(viewer, r)]


@strawberry.type
class CommitmentQuery:
    @strawberry.field(description="Verifications the viewer's department must do or whose decision it issued.")
    async def verification_tasks(
        self,
        info: Info,
        status: VerificationStatus | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[VerificationTask]:
        query = cm.visible_verifications(info.context.require_user())
        if wanted := given(status):
            query = query.filter(status=wanted)
        return await paginate(
            query,
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: VerificationTask(row=r),
        )

    @strawberry.field(
        description="Credit records of a counterparty (USCC or citizen ID); without one, those the "
        "viewer's department recorded or issued. Officers, liaison officers, leaders, admins."
    )
    async def credit_records(
        self,
        info: Info,
        counterparty: str | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[CreditRecord]:
        viewer = info.context.require_user()
        if not cr.may_read_credit(viewer):
            raise forbidden()
        with query_errors():
            query = cr.credit_records(viewer, given(counterparty))
        return await paginate(
            query,
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: CreditRecord(row=r),
        )
