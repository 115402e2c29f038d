"""Back-flow in the schema: supervision actions, formal notices, dispositions, evidence files, timelines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload
from tortoise.expressions import Q

from api.context import Context, Info
from api.graphql.base import Connection, Node, UserError, given, global_id, query_errors, to_global_id
from api.graphql.enums import Channel, CounterpartyKind, DecisionStatus, Role
from api.graphql.mutation import DecisionPayload, attempt, pk_of, run
from api.graphql.nodes import load_node, node_loader
from api.graphql.obligations import Obligation, obligations_of
from api.graphql.pagination import paginate
from api.graphql.types import ApprovalDecision, Department
from models import backflow as bf
from models import files as fl
from models import notice as nt
from models.account import User as UserRow
from models.calendar import local_date
from models.file_access import can_see_file
from models.identifiers import mask_citizen_id
from models.timeline import Entry, TimelineKind

strawberry.enum(bf.ActionKind, name="SupervisionActionKind")
strawberry.enum(bf.ActionStatus, name="SupervisionActionStatus")
strawberry.enum(TimelineKind, name="TimelineEntryKind")
for _enum in (bf.OfflineChannel, nt.NoticeDirection, nt.NoticeKind, nt.NoticeStatus, nt.NoticeOutcome):
    strawberry.enum(_enum)

READ_CHUNK = 1024 * 1024


async def _department(info: Info, pk: int) -> Department:
    row = await info.context.loaders.department.load(pk)
    assert row is not None
    return Department(row=row)


async def _actor_name(info: Info, pk: int | None) -> str | None:
    """Who acted, by display name (other departments' accounts themselves stay out of sight)."""
    if pk is None:
        return None
    row = await info.context.loaders.user.load(pk)
    return row.display_name if row else None


@strawberry.type(description="An evidence file (证据材料); download it with GET `downloadUrl` and the same token.")
class EvidenceFile(Node):
    row: strawberry.Private[fl.EvidenceFile]

    id: strawberry.ID = global_id("EvidenceFile")

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="pdf, jpg, png, ofd, docx or xlsx, as sniffed from the content.")
    def file_type(self) -> str:
        return self.row.file_type

    @strawberry.field
    def content_type(self) -> str:
        return self.row.content_type

    @strawberry.field(description="Bytes.")
    def size(self) -> int:
        return int(self.row.size)

    @strawberry.field(description="SHA-256 of the content, hex.")
    def sha256(self) -> str:
        return self.row.sha256

    @strawberry.field
    def uploaded_at(self) -> datetime:
        return self.row.uploaded_at

    @strawberry.field(description="False until the file is attached to a record.")
    def attached(self) -> bool:
        return self.row.owner_id is not None

    @strawberry.field
    def download_url(self) -> str:
        return f"/files/{to_global_id('EvidenceFile', self.row.id)}"


async def evidence_of(info: Info, owner_type: str, owner_id: int) -> list[EvidenceFile]:
    """A record's files (owner_type as attached in models/), those of every record on a page in one query."""

    async def batch(keys: Sequence[int]) -> list[list[fl.EvidenceFile]]:
        grouped = await fl.files_of(owner_type, list(keys))
        return [grouped[k] for k in keys]

    rows = await info.context.loaders.keyed(f"evidence:{owner_type}", batch).load(owner_id)
    return [EvidenceFile(row=r) for r in rows]


async def _decision_ids_by_action(keys: Sequence[int]) -> list[list[int]]:
    grouped: dict[int, list[int]] = {k: [] for k in keys}
    pairs = await bf.SupervisionAction.filter(id__in=list(keys), decisions__id__not_isnull=True).values_list(
        "id", "decisions__id"
    )
    for action_id, decision_id in pairs:
        grouped[int(action_id)].append(int(decision_id))
    return [sorted(grouped[k]) for k in keys]


@strawberry.type(description="The licence holder an action concerns; personal data masked.")
class ActionCounterparty:
    name: str
    kind: CounterpartyKind | None
    id_number: str | None = strawberry.field(description="Citizen ID number, masked (370802********1234).")
    credit_code: str | None


@strawberry.type(description="A supervision action (监管信息) pushed back to the approval department, Art. 21 (1)(2).")
class SupervisionAction(Node):
    row: strawberry.Private[bf.SupervisionAction]

    id: strawberry.ID = global_id("SupervisionAction")

    @strawberry.field
    def kind(self) -> bf.ActionKind:
        return self.row.kind

    @strawberry.field
    def status(self) -> bf.ActionStatus:
        return self.row.status

    @strawberry.field(description="The supervision department that recorded it.")
    async def department(self, info: Info) -> Department:
        return await _department(info, self.row.department_id)

    @strawberry.field(description="The approval department it is (to be) pushed to.")
    async def approval_department(self, info: Info) -> Department:
        return await _department(info, self.row.target_department_id)

    @strawberry.field
    def penalty_document_number(self) -> str:
        return self.row.penalty_document_number

    @strawberry.field
    def penalty_decided_on(self) -> date:
        return self.row.penalty_decided_on

    @strawberry.field(description="7 working days after penaltyDecidedOn: the push is late after this day.")
    def push_due_on(self) -> date:
        return self.row.push_due_on

    @strawberry.field(description="The decisions it concerns (empty when none is on the platform).")
    async def decisions(self, info: Info) -> list[ApprovalDecision]:
        loaders = info.context.loaders
        ids = await loaders.keyed("decisions-of-action", _decision_ids_by_action).load(self.row.id)
        rows = await loaders.decision.load_many(ids)
        return [ApprovalDecision(row=r) for r in rows if r is not None]

    @strawberry.field
    def counterparty(self) -> ActionCounterparty:
        row = self.row
        return ActionCounterparty(
            name=row.counterparty_name,
            kind=row.counterparty_kind,
            id_number=mask_citizen_id(row.id_number) if row.id_number else None,
            credit_code=row.credit_code,
        )

    @strawberry.field
    def affects_licence(self) -> bool:
        return self.row.affects_licence

    @strawberry.field
    def content(self) -> str:
        return self.row.content

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="PLATFORM, or OFFLINE when the push was made outside the platform.")
    def channel(self) -> Channel | None:
        return self.row.channel

    @strawberry.field
    def pushed_at(self) -> datetime | None:
        return self.row.pushed_at

    @strawberry.field(description="The day the push counts as made (the offline date for an offline push).")
    def pushed_on(self) -> date | None:
        return self.row.pushed_on

    @strawberry.field(description="Not yet pushed and pushDueOn has ended (Art. 21 (1): 7 working days).")
    def push_overdue(self, info: Info) -> bool:
        today = local_date(info.context.now())
        return self.row.pushed_on is None and today > self.row.push_due_on

    @strawberry.field(description="Pushed after pushDueOn: stays recorded as late.")
    def pushed_late(self) -> bool:
        return self.row.pushed_late

    @strawberry.field
    def offline_channel(self) -> bf.OfflineChannel | None:
        return self.row.offline_channel

    @strawberry.field
    def offline_reference(self) -> str | None:
        return self.row.offline_reference

    @strawberry.field
    def claimed_at(self) -> datetime | None:
        return self.row.claimed_at

    @strawberry.field
    def claimed_late(self) -> bool:
        return self.row.claimed_late

    @strawberry.field
    def returned_at(self) -> datetime | None:
        return self.row.returned_at

    @strawberry.field
    def return_reason(self) -> str | None:
        return self.row.return_reason

    @strawberry.field
    async def evidence(self, info: Info) -> list[EvidenceFile]:
        return await evidence_of(info, "SupervisionAction", self.row.id)

    @strawberry.field(description="The claim deadline (PENALTY_CLAIM) of each push.")
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "SupervisionAction", self.row.id)


@strawberry.type(description="A formal notice (函告) about a decision, Art. 21 (3) and 34.")
class Notice(Node):
    row: strawberry.Private[nt.Notice]

    id: strawberry.ID = global_id("Notice")

    @strawberry.field(description="TO_APPROVAL (Art. 21 (3)) or TO_SUPERVISION (Art. 34).")
    def direction(self) -> nt.NoticeDirection:
        return self.row.direction

    @strawberry.field
    def kind(self) -> nt.NoticeKind:
        return self.row.kind

    @strawberry.field
    def status(self) -> nt.NoticeStatus:
        return self.row.status

    @strawberry.field(description="The decision it concerns (seeing the notice, its parties see the decision).")
    async def decision(self, info: Info) -> ApprovalDecision:
        row = await info.context.loaders.decision.load(self.row.decision_id)
        assert row is not None
        return ApprovalDecision(row=row)

    @strawberry.field
    async def sender(self, info: Info) -> Department:
        return await _department(info, self.row.sender_department_id)

    @strawberry.field
    async def recipient(self, info: Info) -> Department:
        return await _department(info, self.row.recipient_department_id)

    @strawberry.field
    def document_number(self) -> str | None:
        return self.row.document_number

    @strawberry.field
    def reasons(self) -> str:
        return self.row.reasons

    @strawberry.field(description="The reply term, in working days (by kind; see README).")
    def reply_working_days(self) -> int:
        return self.row.reply_working_days

    @strawberry.field
    def sent_at(self) -> datetime:
        return self.row.sent_at

    @strawberry.field
    def meeting_at(self) -> datetime | None:
        return self.row.meeting_at

    @strawberry.field
    def meeting_place(self) -> str | None:
        return self.row.meeting_place

    @strawberry.field
    def outcome(self) -> nt.NoticeOutcome | None:
        return self.row.outcome

    @strawberry.field
    def outcome_reasons(self) -> str | None:
        return self.row.outcome_reasons

    @strawberry.field
    def decided_at(self) -> datetime | None:
        return self.row.decided_at

    @strawberry.field(description="Decided after the reply deadline: stays recorded as late.")
    def replied_late(self) -> bool:
        return self.row.replied_late

    @strawberry.field
    async def evidence(self, info: Info) -> list[EvidenceFile]:
        return await evidence_of(info, "Notice", self.row.id)

    @strawberry.field(description="The reply deadline (NOTICE_REPLY).")
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "Notice", self.row.id)


@strawberry.type(description="One step in a decision's life: what, when, who, which department, which record.")
class TimelineEntry:
    entry: strawberry.Private[Entry]

    @strawberry.field
    def at(self) -> datetime:
        return self.entry.at

    @strawberry.field
    def kind(self) -> TimelineKind:
        return self.entry.kind

    @strawberry.field(description="Display name of the person who acted; null when the platform did (push, expiry).")
    async def actor(self, info: Info) -> str | None:
        return await _actor_name(info, self.entry.actor_id)

    @strawberry.field(description="The department on whose behalf the step was taken.")
    async def department(self, info: Info) -> Department:
        return await _department(info, self.entry.department_id)

    @strawberry.field(description="A short fact: the action or notice kind, the outcome, the new status, the reason.")
    def note(self) -> str | None:
        return self.entry.note

    @strawberry.field(
        description="The step's document: the decision's, the penalty decision's, the offline letter's reference, "
        "the notice's, or the disposition's."
    )
    def document_number(self) -> str | None:
        return self.entry.document

    @strawberry.field(description="The record of the step (push, action, notice, or the decision).")
    async def subject(self, info: Info) -> Node | None:
        return await load_node(info.context, self.entry.subject_type, self.entry.subject_id)


# --- node loaders --------------------------------------------------------------------------------


@node_loader("SupervisionAction")
async def _action(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(bf.SupervisionAction).load(pk)
    return SupervisionAction(row=row) if row and bf.can_see_action(context.require_user(), row) else None


@node_loader("Notice")
async def _notice(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(nt.Notice).load(pk)
    return Notice(row=row) if row and nt.can_see_notice(context.require_user(), row) else None


@node_loader("EvidenceFile")
async def _file(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(fl.EvidenceFile).load(pk)
    return EvidenceFile(row=row) if row and await can_see_file(context.require_user(), row) else None


# --- queries ---------------------------------------------------------------------------------------


def _actions_of(viewer: UserRow) -> Any:
    """Own actions, and those pushed to the viewer's (approval) department."""
    if viewer.is_admin:
        return bf.SupervisionAction.all()
    pushed = Q(target_department_id=viewer.department_id) & ~Q(status=bf.ActionStatus.RECORDED)
    return bf.SupervisionAction.filter(Q(department_id=viewer.department_id) | pushed)


def _notices_of(viewer: UserRow) -> Any:
    if viewer.is_admin:
        return nt.Notice.all()
    mine = viewer.department_id
    return nt.Notice.filter(Q(sender_department_id=mine) | Q(recipient_department_id=mine))


@strawberry.type
class BackflowQuery:
    @strawberry.field(description="Supervision actions the viewer's department recorded or received, oldest first.")
    async def supervision_actions(
        self,
        info: Info,
        kind: bf.ActionKind | None = strawberry.UNSET,
        status: bf.ActionStatus | None = strawberry.UNSET,
        decision_id: strawberry.ID | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[SupervisionAction]:
        viewer = info.context.require_user()
        query = _actions_of(viewer)
        if wanted := given(kind):
            query = query.filter(kind=wanted)
        if wanted_status := given(status):
            query = query.filter(status=wanted_status)
        if about := given(decision_id):
            query = query.filter(decisions__id=_filter_pk(about, "ApprovalDecision", "decisionId"))
        return await paginate(
            query,
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: SupervisionAction(row=r),
        )

    @strawberry.field(description="Formal notices the viewer's department sent or received, oldest first.")
    async def notices(
        self,
        info: Info,
        direction: nt.NoticeDirection | None = strawberry.UNSET,
        kind: nt.NoticeKind | None = strawberry.UNSET,
        status: nt.NoticeStatus | None = strawberry.UNSET,
        decision_id: strawberry.ID | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[Notice]:
        viewer = info.context.require_user()
        query = _notices_of(viewer)
        if wanted_direction := given(direction):
            query = query.filter(direction=wanted_direction)
        if wanted_kind := given(kind):
            query = query.filter(kind=wanted_kind)
        if wanted_status := given(status):
            query = query.filter(status=wanted_status)
        if about := given(decision_id):
            query = query.filter(decision_id=_filter_pk(about, "ApprovalDecision", "decisionId"))
        return await paginate(
            query, keys=("id",), samples=(0,), first=given(first), after=given(after), wrap=lambda r: Notice(row=r)
        )


def _filter_pk(value: str, type_name: str, field: str) -> int:
    """A filter argument's key; a bad id is a readable input error."""
    with query_errors():
        return pk_of(value, type_name, field)


# --- inputs and payloads ---------------------------------------------------------------------------


@strawberry.input(description="When no decision is on the platform: who the action concerns.")
class ActionCounterpartyInput:
    name: str
    kind: CounterpartyKind
    id_number: str | None = None
    credit_code: str | None = None


@strawberry.input
class RecordSupervisionActionInput:
    kind: bf.ActionKind
    penalty_document_number: str
    penalty_decided_on: date
    content: str
    decision_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    approval_department_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required when decisionIds is empty; else the issuer of the decisions."
    )
    counterparty: ActionCounterpartyInput | None = strawberry.field(
        default=None, description="Required when decisionIds is empty; else taken from the decisions."
    )
    affects_licence: bool = True
    evidence_file_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class RecordOfflinePushInput:
    id: strawberry.ID
    channel: bf.OfflineChannel
    reference: str = strawberry.field(description="The letter's number, the transfer's file number, the meeting.")
    pushed_on: date
    approval_department_id: strawberry.ID | None = None


@strawberry.input
class SendNoticeInput:
    decision_id: strawberry.ID
    kind: nt.NoticeKind
    reasons: str
    recipient_department_id: strawberry.ID | None = strawberry.field(
        default=None, description="Art. 34 (approval → supervision): required. Art. 21 (3): the issuer."
    )
    document_number: str | None = None
    evidence_file_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input(description="The disposition document (处置文书).")
class DispositionInput:
    document_number: str
    decided_on: date
    reason: str | None = None


@strawberry.input
class DecideNoticeInput:
    id: strawberry.ID
    outcome: nt.NoticeOutcome
    reasons: str
    disposition: DispositionInput | None = strawberry.field(
        default=None, description="Required when accepting an AMEND, WITHDRAW, REVOKE or CANCEL notice."
    )


@strawberry.input
class ChangeDecisionStatusInput:
    decision_id: strawberry.ID
    status: DecisionStatus
    disposition: DispositionInput


@strawberry.type
class EvidenceFilePayload:
    evidence_file: EvidenceFile | None
    errors: list[UserError]


@strawberry.type
class SupervisionActionPayload:
    supervision_action: SupervisionAction | None
    errors: list[UserError]


@strawberry.type
class NoticePayload:
    notice: Notice | None
    errors: list[UserError]


def _ids(values: list[strawberry.ID], type_name: str, field: str) -> list[int]:
    return [pk_of(v, type_name, f"{field}.{i}") for i, v in enumerate(values)]


def evidence_ids(values: list[strawberry.ID]) -> list[int]:
    """The `evidenceFileIds` argument of any mutation that attaches uploads; errors name `evidenceFileIds.N`."""
    return _ids(values, "EvidenceFile", "evidenceFileIds")


def _disposition(value: DispositionInput | None) -> nt.Disposition | None:
    if value is None:
        return None
    return nt.Disposition(document_number=value.document_number, decided_on=value.decided_on, reason=value.reason)


async def read_upload(upload: UploadFile, limit: int) -> bytes:
    """At most limit + 1 bytes: enough to tell a file over the limit without reading all of it."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit and (chunk := await upload.read(min(READ_CHUNK, limit + 1 - size))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def _action_payload(
    info: Info, work: Callable[[], Awaitable[bf.SupervisionAction]], audit: dict[str, Any] | None = None
) -> SupervisionActionPayload:
    row, errors = await attempt(lambda: run(info, work, audit=audit))
    return SupervisionActionPayload(supervision_action=SupervisionAction(row=row) if row else None, errors=errors)


async def _notice_payload(info: Info, work: Callable[[], Awaitable[nt.Notice]]) -> NoticePayload:
    row, errors = await attempt(lambda: run(info, work))
    return NoticePayload(notice=Notice(row=row) if row else None, errors=errors)


@strawberry.type
class BackflowMutation:
    @strawberry.mutation(
        description="Upload an evidence file (GraphQL multipart request); attach it by id in evidenceFileIds."
    )
    async def upload_evidence_file(self, info: Info, file: Upload) -> EvidenceFilePayload:
        actor = info.context.require_role(Role.OFFICER, Role.LIAISON)
        settings = info.context.settings
        upload: Any = file

        async def work() -> fl.EvidenceFile:
            data = await read_upload(upload, settings.max_file_bytes)
            return await fl.store_evidence(
                actor,
                upload.filename or "",
                data,
                root=settings.files_dir,
                limit=settings.max_file_bytes,
                now=info.context.now(),
            )

        row, errors = await attempt(lambda: run(info, work, audit={"name": str(upload.filename or "")[:200]}))
        return EvidenceFilePayload(evidence_file=EvidenceFile(row=row) if row else None, errors=errors)

    @strawberry.mutation(description="Art. 21 (1): record a supervision action that may affect a licence.")
    async def record_supervision_action(
        self, info: Info, input: RecordSupervisionActionInput
    ) -> SupervisionActionPayload:
        actor = info.context.require_user()

        async def work() -> bf.SupervisionAction:
            cp = input.counterparty
            data = bf.ActionInput(
                kind=input.kind,
                penalty_document_number=input.penalty_document_number,
                penalty_decided_on=input.penalty_decided_on,
                content=input.content,
                decision_ids=_ids(input.decision_ids, "ApprovalDecision", "decisionIds"),
                approval_department_id=(
                    pk_of(input.approval_department_id, "Department", "approvalDepartmentId")
                    if input.approval_department_id
                    else None
                ),
                counterparty_name=cp.name if cp else None,
                counterparty_kind=cp.kind if cp else None,
                id_number=cp.id_number if cp else None,
                credit_code=cp.credit_code if cp else None,
                affects_licence=input.affects_licence,
                evidence_file_ids=evidence_ids(input.evidence_file_ids),
            )
            return await bf.record_action(actor, data, now=info.context.now())

        return await _action_payload(info, work, {"penaltyDocumentNumber": input.penalty_document_number})

    @strawberry.mutation(description="Art. 21 (1): push an action to the approval department (late after pushDueOn).")
    async def push_supervision_action(
        self, info: Info, id: strawberry.ID, approval_department_id: strawberry.ID | None = strawberry.UNSET
    ) -> SupervisionActionPayload:
        actor = info.context.require_user()
        named = given(approval_department_id)

        async def work() -> bf.SupervisionAction:
            target = pk_of(named, "Department", "approvalDepartmentId") if named else None
            return await bf.push_action(
                actor, pk_of(id, "SupervisionAction", "id"), now=info.context.now(), approval_department_id=target
            )

        return await _action_payload(info, work)

    @strawberry.mutation(description="Art. 21: record that the push was made offline (letter, file transfer, meeting).")
    async def record_offline_push(self, info: Info, input: RecordOfflinePushInput) -> SupervisionActionPayload:
        actor = info.context.require_user()

        async def work() -> bf.SupervisionAction:
            target = (
                pk_of(input.approval_department_id, "Department", "approvalDepartmentId")
                if input.approval_department_id
                else None
            )
            return await bf.record_offline_push(
                actor,
                pk_of(input.id, "SupervisionAction", "id"),
                channel=input.channel,
                reference=input.reference,
                pushed_on=input.pushed_on,
                now=info.context.now(),
                approval_department_id=target,
            )

        return await _action_payload(info, work)

    @strawberry.mutation(description="Art. 21 (2): the approval department claims a pushed action.")
    async def claim_supervision_action(self, info: Info, id: strawberry.ID) -> SupervisionActionPayload:
        actor = info.context.require_user()
        return await _action_payload(
            info, lambda: bf.claim_action(actor, pk_of(id, "SupervisionAction", "id"), now=info.context.now())
        )

    @strawberry.mutation(description="Art. 21 (2): return a pushed action that is not the department's, with a reason.")
    async def return_supervision_action(self, info: Info, id: strawberry.ID, reason: str) -> SupervisionActionPayload:
        actor = info.context.require_user()
        return await _action_payload(
            info,
            lambda: bf.return_action(actor, pk_of(id, "SupervisionAction", "id"), reason, now=info.context.now()),
        )

    @strawberry.mutation(description="Art. 21 (3), 34: send a formal notice about a decision to the other side.")
    async def send_notice(self, info: Info, input: SendNoticeInput) -> NoticePayload:
        actor = info.context.require_user()

        async def work() -> nt.Notice:
            data = nt.NoticeInput(
                decision_id=pk_of(input.decision_id, "ApprovalDecision", "decisionId"),
                kind=input.kind,
                reasons=input.reasons,
                recipient_department_id=(
                    pk_of(input.recipient_department_id, "Department", "recipientDepartmentId")
                    if input.recipient_department_id
                    else None
                ),
                document_number=input.document_number,
                evidence_file_ids=evidence_ids(input.evidence_file_ids),
            )
            return await nt.send_notice(actor, data, now=info.context.now())

        return await _notice_payload(info, work)

    @strawberry.mutation(description="The recipient starts reviewing a notice (RECEIVED → UNDER_REVIEW).")
    async def start_notice_review(self, info: Info, id: strawberry.ID) -> NoticePayload:
        actor = info.context.require_user()
        return await _notice_payload(
            info, lambda: nt.start_review(actor, pk_of(id, "Notice", "id"), now=info.context.now())
        )

    @strawberry.mutation(
        description="The recipient holds a special meeting on a notice (UNDER_REVIEW → MEETING_SCHEDULED)."
    )
    async def schedule_notice_meeting(
        self, info: Info, id: strawberry.ID, meeting_at: datetime, place: str
    ) -> NoticePayload:
        actor = info.context.require_user()
        return await _notice_payload(
            info,
            lambda: nt.schedule_meeting(
                actor, pk_of(id, "Notice", "id"), meeting_at=meeting_at, place=place, now=info.context.now()
            ),
        )

    @strawberry.mutation(description="Decide on a notice; an accepted disposition changes the decision's status.")
    async def decide_notice(self, info: Info, input: DecideNoticeInput) -> NoticePayload:
        actor = info.context.require_user()
        return await _notice_payload(
            info,
            lambda: nt.decide_notice(
                actor,
                pk_of(input.id, "Notice", "id"),
                outcome=input.outcome,
                reasons=input.reasons,
                disposition=_disposition(input.disposition),
                now=info.context.now(),
            ),
        )

    @strawberry.mutation(
        description="Art. 21 (3): the issuing department amends, withdraws, revokes or cancels a decision."
    )
    async def change_decision_status(self, info: Info, input: ChangeDecisionStatusInput) -> DecisionPayload:
        actor = info.context.require_user()

        async def work() -> Any:
            disposition = _disposition(input.disposition)
            assert disposition is not None
            return await nt.dispose_decision(
                actor,
                pk_of(input.decision_id, "ApprovalDecision", "decisionId"),
                input.status,
                disposition,
                now=info.context.now(),
            )

        row, errors = await attempt(lambda: run(info, work, audit={"status": input.status.value}))
        return DecisionPayload(decision=ApprovalDecision(row=row) if row else None, errors=errors)
