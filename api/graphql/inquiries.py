"""Inquiry letters (函询, Art. 25) in the schema: types, the `inquiries` list, and the mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Context, Info
from api.graphql.backflow import EvidenceFile, evidence_ids, evidence_of
from api.graphql.base import Connection, Node, UserError, given, global_id
from api.graphql.mutation import attempt, pk_of, run
from api.graphql.nodes import node_loader
from api.graphql.obligations import Obligation, obligations_of
from api.graphql.pagination import paginate
from api.graphql.types import ApprovalDecision, ApprovalItem, Department
from models import inquiry as inq
from models.visibility import can_see_decision

for _enum in (inq.InquiryTopic, inq.InquiryStatus, inq.InquiryMessageKind):
    strawberry.enum(_enum)


async def _department(info: Info, pk: int) -> Department:
    row = await info.context.loaders.department.load(pk)
    assert row is not None
    return Department(row=row)


@strawberry.type(description="One letter of an inquiry's thread, in order.")
class InquiryMessage:
    row: strawberry.Private[inq.InquiryMessage]

    @strawberry.field
    def position(self) -> int:
        return self.row.position

    @strawberry.field
    def kind(self) -> inq.InquiryMessageKind:
        return self.row.kind

    @strawberry.field
    async def department(self, info: Info) -> Department:
        return await _department(info, self.row.department_id)

    @strawberry.field
    def body(self) -> str:
        return self.row.body

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="Evidence files sent with this letter.")
    async def evidence(self, info: Info) -> list[EvidenceFile]:
        return await evidence_of(info, inq.MESSAGE, self.row.id)


@strawberry.type(description="A receiving department of an inquiry and when it first answered.")
class InquiryReceiver:
    row: strawberry.Private[inq.InquiryReceiver]

    @strawberry.field
    async def department(self, info: Info) -> Department:
        return await _department(info, self.row.department_id)

    @strawberry.field
    def answered_at(self) -> datetime | None:
        return self.row.answered_at


@strawberry.type(description="An inquiry letter (函询) from one department to others (Art. 25).")
class Inquiry(Node):
    row: strawberry.Private[inq.Inquiry]

    id: strawberry.ID = global_id("Inquiry")

    @strawberry.field
    async def sender(self, info: Info) -> Department:
        return await _department(info, self.row.sender_department_id)

    @strawberry.field
    def topic(self) -> inq.InquiryTopic:
        return self.row.topic

    @strawberry.field
    def subject(self) -> str:
        return self.row.subject

    @strawberry.field
    async def item(self, info: Info) -> ApprovalItem | None:
        row = await info.context.loaders.item.load(self.row.item_id) if self.row.item_id else None
        return ApprovalItem(row=row) if row else None

    @strawberry.field
    async def decision(self, info: Info) -> ApprovalDecision | None:
        row = await info.context.loaders.decision.load(self.row.decision_id) if self.row.decision_id else None
        visible = row is not None and await can_see_decision(info.context.require_user(), row)
        return ApprovalDecision(row=row) if row and visible else None

    @strawberry.field(description="Working days each receiver has to answer.")
    def reply_working_days(self) -> int:
        return self.row.reply_working_days

    @strawberry.field
    def status(self) -> inq.InquiryStatus:
        return self.row.status

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def closed_at(self) -> datetime | None:
        return self.row.closed_at

    @strawberry.field
    async def receivers(self) -> list[InquiryReceiver]:
        rows = await inq.InquiryReceiver.filter(inquiry_id=self.row.id).order_by("department_id")
        return [InquiryReceiver(row=r) for r in rows]

    @strawberry.field(description="Question, answers and follow-ups, in order.")
    async def messages(self) -> list[InquiryMessage]:
        rows = await inq.InquiryMessage.filter(inquiry_id=self.row.id).order_by("position")
        return [InquiryMessage(row=r) for r in rows]

    @strawberry.field(description="Each receiver's answer deadline (INQUIRY_REPLY).")
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "Inquiry", self.row.id)


@node_loader("Inquiry")
async def _inquiry(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(inq.Inquiry).load(pk)
    return Inquiry(row=row) if row and await inq.can_see_inquiry(context.require_user(), row) else None


@strawberry.input
class SendInquiryInput:
    receiver_ids: list[strawberry.ID]
    topic: inq.InquiryTopic
    subject: str
    body: str
    item_id: strawberry.ID | None = None
    decision_id: strawberry.ID | None = None
    reply_working_days: int | None = strawberry.field(default=None, description="1..30, default 5.")
    evidence_file_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.type
class InquiryPayload:
    inquiry: Inquiry | None
    errors: list[UserError]


@strawberry.type
class InquiryQuery:
    @strawberry.field(description="Inquiries the viewer's department sent or received, newest first.")
    async def inquiries(
        self,
        info: Info,
        status: inq.InquiryStatus | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[Inquiry]:
        viewer = info.context.require_user()
        query = inq.visible_inquiries(viewer)
        if wanted := given(status):
            query = query.filter(status=wanted)
        return await paginate(
            query, keys=("id",), samples=(0,), first=given(first), after=given(after), wrap=lambda r: Inquiry(row=r)
        )


def _wrap(row: inq.Inquiry | None) -> Inquiry | None:
    return Inquiry(row=row) if row else None


@strawberry.type
class InquiryMutation:
    @strawberry.mutation(description="Art. 25: send an inquiry to one or more departments.")
    async def send_inquiry(self, info: Info, input: SendInquiryInput) -> InquiryPayload:
        actor = info.context.require_user()

        async def work() -> inq.Inquiry:
            return await inq.send_inquiry(
                actor,
                receiver_ids=[pk_of(v, "Department", f"receiverIds.{i}") for i, v in enumerate(input.receiver_ids)],
                topic=input.topic,
                subject=input.subject,
                body=input.body,
                item_id=pk_of(input.item_id, "ApprovalItem", "itemId") if input.item_id else None,
                decision_id=pk_of(input.decision_id, "ApprovalDecision", "decisionId") if input.decision_id else None,
                reply_working_days=input.reply_working_days,
                now=info.context.now(),
                evidence_file_ids=evidence_ids(input.evidence_file_ids),
            )

        row, errors = await attempt(lambda: run(info, work, audit={"subject": input.subject[:100]}))
        return InquiryPayload(inquiry=_wrap(row), errors=errors)

    @strawberry.mutation(description="Answer an inquiry (a receiver) or follow up (either side).")
    async def reply_to_inquiry(
        self,
        info: Info,
        id: strawberry.ID,
        body: str,
        evidence_file_ids: list[strawberry.ID] | None = strawberry.UNSET,
    ) -> InquiryPayload:
        actor = info.context.require_user()

        async def work() -> inq.Inquiry:
            files = evidence_ids(given(evidence_file_ids) or [])
            pk = pk_of(id, "Inquiry", "id")
            message = await inq.reply_to_inquiry(actor, pk, body, now=info.context.now(), evidence_file_ids=files)
            return await inq.Inquiry.get(id=message.inquiry_id)

        row, errors = await attempt(lambda: run(info, work))
        return InquiryPayload(inquiry=_wrap(row), errors=errors)

    @strawberry.mutation(description="The sender closes the inquiry; answers still owed are cancelled.")
    async def close_inquiry(self, info: Info, id: strawberry.ID) -> InquiryPayload:
        actor = info.context.require_user()
        row, errors = await attempt(
            lambda: run(info, lambda: inq.close_inquiry(actor, pk_of(id, "Inquiry", "id"), now=info.context.now()))
        )
        return InquiryPayload(inquiry=_wrap(row), errors=errors)
