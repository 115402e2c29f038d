"""Opinions and reports from the public (Art. 35) in the schema: the open intake and the staff side."""

from __future__ import annotations

import logging
from datetime import datetime

import strawberry

from api.context import Context, Info
from api.graphql.base import Connection, Node, UserError, given, global_id
from api.graphql.mutation import attempt, pk_of, run
from api.graphql.nodes import node_loader
from api.graphql.obligations import Obligation, obligations_of
from api.graphql.pagination import paginate
from api.graphql.types import ApprovalItem, Department
from models import public as pub
from models.account import Department as DepartmentRow
from models.identifiers import mask_phone

log = logging.getLogger(__name__)
for _enum in (pub.SubmissionKind, pub.SubmissionStatus):
    strawberry.enum(_enum)

INTAKE_LIMIT = 5  # submissions per address and window
INTAKE_WINDOW_SECONDS = 3600


@strawberry.type(description="An opinion or report from the public (社会监督件) as staff see it.")
class PublicSubmission(Node):
    row: strawberry.Private[pub.PublicSubmission]

    id: strawberry.ID = global_id("PublicSubmission")

    @strawberry.field
    def tracking_number(self) -> str:
        return self.row.tracking_number

    @strawberry.field
    def kind(self) -> pub.SubmissionKind:
        return self.row.kind

    @strawberry.field
    def subject(self) -> str:
        return self.row.subject

    @strawberry.field
    def content(self) -> str:
        return self.row.content

    @strawberry.field
    def anonymous(self) -> bool:
        return self.row.anonymous

    @strawberry.field(description="Masked (张*); null when anonymous.")
    def contact_name(self) -> str | None:
        name = self.row.contact_name
        return pub.mask_name(name) if name and not self.row.anonymous else None

    @strawberry.field(description="Masked (138****5678); null when anonymous.")
    def contact_phone(self) -> str | None:
        phone = self.row.contact_phone
        return mask_phone(phone) if phone and not self.row.anonymous else None

    @strawberry.field
    async def about_item(self, info: Info) -> ApprovalItem | None:
        row = await info.context.loaders.item.load(self.row.about_item_id) if self.row.about_item_id else None
        return ApprovalItem(row=row) if row else None

    @strawberry.field
    async def about_department(self, info: Info) -> Department | None:
        pk = self.row.about_department_id
        row = await info.context.loaders.department.load(pk) if pk else None
        return Department(row=row) if row else None

    @strawberry.field(description="The licence holder concerned, by name.")
    def about_holder_name(self) -> str | None:
        return self.row.about_holder_name

    @strawberry.field(description="The licence holder's unified social credit code.")
    def about_holder_credit_code(self) -> str | None:
        return self.row.about_holder_credit_code

    @strawberry.field
    def status(self) -> pub.SubmissionStatus:
        return self.row.status

    @strawberry.field(description="The department that must reply.")
    async def department(self, info: Info) -> Department | None:
        row = await info.context.loaders.department.load(self.row.department_id) if self.row.department_id else None
        return Department(row=row) if row else None

    @strawberry.field
    def submitted_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def reply(self) -> str | None:
        return self.row.reply

    @strawberry.field
    def replied_at(self) -> datetime | None:
        return self.row.replied_at

    @strawberry.field
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "PublicSubmission", self.row.id)


@node_loader("PublicSubmission")
async def _submission(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(pub.PublicSubmission).load(pk)
    visible = row is not None and await pub.can_see_submission(context.require_user(), row)
    return PublicSubmission(row=row) if row and visible else None


@strawberry.type(description="What the submitter sees with the tracking number and secret.")
class PublicSubmissionStatus:
    tracking_number: str
    kind: pub.SubmissionKind
    subject: str
    status: pub.SubmissionStatus
    submitted_at: datetime
    department_name: str | None
    reply: str | None
    replied_at: datetime | None


@strawberry.input
class SubmitPublicOpinionInput:
    kind: pub.SubmissionKind
    subject: str
    content: str
    anonymous: bool = False
    contact_name: str | None = None
    contact_phone: str | None = None
    about_item_id: strawberry.ID | None = None
    about_department_id: strawberry.ID | None = None
    about_holder_name: str | None = None
    about_holder_credit_code: str | None = None


@strawberry.type(description="The tracking number and the secret: the secret is shown only this once.")
class PublicSubmissionReceipt:
    tracking_number: str
    secret: str


@strawberry.type
class PublicSubmissionReceiptPayload:
    receipt: PublicSubmissionReceipt | None
    errors: list[UserError]


@strawberry.type
class PublicSubmissionPayload:
    public_submission: PublicSubmission | None
    errors: list[UserError]


def _rate_limited() -> list[UserError]:
    return [UserError(code="RATE_LIMITED", field=None, message="提交过于频繁，请一小时后再试")]


async def within_rate_limit(info: Info) -> bool:
    """A fixed window per address, counted in Redis; when Redis cannot be asked, refuse (fail closed)."""
    key = f"public-intake:{info.context.address or 'unknown'}"
    redis = info.context.services.redis
    try:
        count = int(await redis.incr(key))
        if count == 1 or await redis.ttl(key) < 0:
            await redis.expire(key, INTAKE_WINDOW_SECONDS)
    except Exception:
        log.exception("社会监督提交限流检查失败，拒绝提交")
        return False
    return count <= INTAKE_LIMIT


async def _status_view(row: pub.PublicSubmission) -> PublicSubmissionStatus:
    department = await DepartmentRow.get_or_none(id=row.department_id) if row.department_id else None
    return PublicSubmissionStatus(
        tracking_number=row.tracking_number,
        kind=row.kind,
        subject=row.subject,
        status=row.status,
        submitted_at=row.created_at,
        department_name=department.name if department else None,
        reply=row.reply,
        replied_at=row.replied_at,
    )


@strawberry.type
class PublicQuery:
    @strawberry.field(
        description="Open to anyone: a submission's status and reply, with its tracking number and secret."
    )
    async def public_submission_status(
        self, info: Info, tracking_number: str, secret: str
    ) -> PublicSubmissionStatus | None:
        row = await pub.status_of(tracking_number, secret)
        return await _status_view(row) if row else None

    @strawberry.field(description="Submissions routed to the viewer's department (the approval bureau: also unrouted).")
    async def public_submissions(
        self,
        info: Info,
        status: pub.SubmissionStatus | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[PublicSubmission]:
        query = await pub.visible_submissions(info.context.require_user())
        if wanted := given(status):
            query = query.filter(status=wanted)
        return await paginate(
            query,
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: PublicSubmission(row=r),
        )


@strawberry.type
class PublicMutation:
    @strawberry.mutation(description="Open to anyone (no sign-in): submit an opinion or report a violation.")
    async def submit_public_opinion(
        self, info: Info, input: SubmitPublicOpinionInput
    ) -> PublicSubmissionReceiptPayload:
        if not await within_rate_limit(info):
            return PublicSubmissionReceiptPayload(receipt=None, errors=_rate_limited())

        async def work() -> PublicSubmissionReceipt:
            data = pub.SubmissionInput(
                kind=input.kind,
                subject=input.subject,
                content=input.content,
                anonymous=input.anonymous,
                contact_name=input.contact_name,
                contact_phone=input.contact_phone,
                about_item_id=pk_of(input.about_item_id, "ApprovalItem", "aboutItemId")
                if input.about_item_id
                else None,
                about_department_id=(
                    pk_of(input.about_department_id, "Department", "aboutDepartmentId")
                    if input.about_department_id
                    else None
                ),
                about_holder_name=input.about_holder_name,
                about_holder_credit_code=input.about_holder_credit_code,
            )
            row, secret = await pub.submit(data, now=info.context.now())
            return PublicSubmissionReceipt(tracking_number=row.tracking_number, secret=secret)

        receipt, errors = await attempt(lambda: run(info, work, audit={"kind": input.kind.value}))
        return PublicSubmissionReceiptPayload(receipt=receipt, errors=errors)

    @strawberry.mutation(description="The approval bureau routes a submission to the department that must reply.")
    async def route_public_submission(
        self, info: Info, id: strawberry.ID, department_id: strawberry.ID
    ) -> PublicSubmissionPayload:
        actor = info.context.require_user()

        async def work() -> pub.PublicSubmission:
            return await pub.route_submission(
                actor,
                pk_of(id, "PublicSubmission", "id"),
                pk_of(department_id, "Department", "departmentId"),
                now=info.context.now(),
            )

        row, errors = await attempt(lambda: run(info, work))
        return PublicSubmissionPayload(public_submission=PublicSubmission(row=row) if row else None, errors=errors)

    @strawberry.mutation(description="The department replies; the submitter reads it with the tracking number.")
    async def reply_to_public_submission(self, info: Info, id: strawberry.ID, reply: str) -> PublicSubmissionPayload:
        actor = info.context.require_user()

        async def work() -> pub.PublicSubmission:
            pk = pk_of(id, "PublicSubmission", "id")
            return await pub.reply_to_submission(actor, pk, reply, now=info.context.now())

        row, errors = await attempt(lambda: run(info, work))
        return PublicSubmissionPayload(public_submission=PublicSubmission(row=row) if row else None, errors=errors)
