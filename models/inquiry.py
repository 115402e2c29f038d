"""Inquiry letters between departments (函询, Art. 25).

A department asks one or more departments about plans, policies or item standards. Each receiver
owes an answer within a term of working days (an INQUIRY_REPLY obligation per receiver). The
thread keeps the question, the answers and follow-ups from either side in order. The sender
closes the inquiry, and whatever answers are still owed fall away.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from tortoise import fields
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.account import Department, User, check_length
from models.catalogue import ApprovalItem
from models.decision import Decision
from models.enums import Role
from models.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound, raise_all
from models.event import EventKind, record_event
from models.files import attach_evidence
from models.obligation import close_obligations, obligation_kind, open_obligation
from models.visibility import can_see_decision

INQUIRY_REPLY = obligation_kind("INQUIRY_REPLY", "函询答复", 5)
MAX_REPLY_DAYS = 30
MAX_RECEIVERS = 50
SUBJECT_MAX = 200
BODY_MAX = 5000
WRITER_ROLES = (Role.OFFICER, Role.LIAISON, Role.LEADER)
MESSAGE = "InquiryMessage"  # evidence files belong to the letter they came with


class InquiryTopic(StrEnum):
    PLAN = "PLAN"
    POLICY = "POLICY"
    ITEM_STANDARD = "ITEM_STANDARD"


class InquiryStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class InquiryMessageKind(StrEnum):
    QUESTION = "QUESTION"
    ANSWER = "ANSWER"
    FOLLOW_UP = "FOLLOW_UP"


class Inquiry(Model):
    """An inquiry letter from one department to others. Never deleted, only closed."""

    id = fields.BigIntField(primary_key=True)
    sender_department_id = fields.IntField()
    created_by_id = fields.IntField()
    topic = fields.CharEnumField(InquiryTopic, max_length=16)
    subject = fields.CharField(max_length=SUBJECT_MAX)
    item_id = fields.IntField(null=True)
    decision_id = fields.BigIntField(null=True)
    reply_working_days = fields.IntField()
    status = fields.CharEnumField(InquiryStatus, max_length=16, default=InquiryStatus.OPEN)
    created_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)
    closed_by_id = fields.IntField(null=True)

    class Meta:
        table = "inquiry"
        indexes = (("sender_department_id", "id"),)


class InquiryReceiver(Model):
    """One department an inquiry is addressed to, and when it first answered."""

    id = fields.BigIntField(primary_key=True)
    inquiry: fields.ForeignKeyRelation[Inquiry] = fields.ForeignKeyField(
        "shenguan.Inquiry", related_name="receivers", on_delete=fields.RESTRICT
    )
    inquiry_id: int
    department_id = fields.IntField()
    answered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "inquiry_receiver"
        unique_together = (("inquiry_id", "department_id"),)
        indexes = (("department_id", "inquiry_id"),)


class InquiryMessage(Model):
    """One letter of the thread, numbered in order within its inquiry."""

    id = fields.BigIntField(primary_key=True)
    inquiry: fields.ForeignKeyRelation[Inquiry] = fields.ForeignKeyField(
        "shenguan.Inquiry", related_name="messages", on_delete=fields.RESTRICT
    )
    inquiry_id: int
    position = fields.IntField()
    kind = fields.CharEnumField(InquiryMessageKind, max_length=16)
    department_id = fields.IntField()
    author_id = fields.IntField()
    body = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "inquiry_message"
        unique_together = (("inquiry_id", "position"),)


def visible_inquiries(viewer: User) -> QuerySet[Inquiry]:
    """The sender and every receiver see the whole thread; administrators see all."""
    if viewer.is_admin:
        return Inquiry.all()
    received = InquiryReceiver.filter(department_id=viewer.department_id).values_list("inquiry_id", flat=True)
    return Inquiry.filter(Q(sender_department_id=viewer.department_id) | Q(id__in=Subquery(received)))


async def receiver_ids(inquiry_id: int) -> list[int]:
    rows = await InquiryReceiver.filter(inquiry_id=inquiry_id).order_by("department_id")
    return [r.department_id for r in rows]


async def can_see_inquiry(viewer: User, inquiry: Inquiry) -> bool:
    if viewer.is_admin or viewer.department_id == inquiry.sender_department_id:
        return True
    return viewer.department_id in await receiver_ids(inquiry.id)


async def _check_receivers(actor: User, ids: list[int], errors: list[DomainError]) -> list[int]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        errors.append(InvalidInput("至少选择一个收函部门", field="receiverIds", code="REQUIRED"))
    elif len(unique) > MAX_RECEIVERS:
        errors.append(InvalidInput(f"收函部门不能超过{MAX_RECEIVERS}个", field="receiverIds", code="TOO_MANY"))
    elif actor.department_id in unique:
        errors.append(InvalidInput("不能向本部门发函", field="receiverIds", code="SELF_ADDRESSED"))
    elif await Department.filter(id__in=unique).count() != len(unique):
        errors.append(NotFound("收函部门不存在", field="receiverIds", code="DEPARTMENT_NOT_FOUND"))
    return unique


def _text(value: str, field: str, limit: int, errors: list[DomainError], *, required: bool = True) -> str:
    try:
        return check_length(value, field, limit, required=required)
    except DomainError as error:
        errors.append(error)
        return value


async def _check_refs(actor: User, item_id: int | None, decision_id: int | None, errors: list[DomainError]) -> None:
    if item_id is not None and not await ApprovalItem.filter(id=item_id).exists():
        errors.append(NotFound("审批事项不存在", field="itemId", code="ITEM_NOT_FOUND"))
    if decision_id is not None:
        decision = await Decision.get_or_none(id=decision_id)
        if decision is None or not await can_see_decision(actor, decision):
            errors.append(NotFound("审批决定不存在", field="decisionId", code="DECISION_NOT_FOUND"))


async def send_inquiry(
    actor: User,
    *,
    receiver_ids: list[int],
    topic: InquiryTopic,
    subject: str,
    body: str,
    now: datetime,
    item_id: int | None = None,
    decision_id: int | None = None,
    reply_working_days: int | None = None,
    evidence_file_ids: Sequence[int] = (),
) -> Inquiry:
    """Art. 25: send an inquiry; each receiver owes an answer within the term (default 5 working days)."""
    if not actor.has_role(*WRITER_ROLES):
        raise Forbidden("只有经办人、联络员或领导可以发函", field=None)
    errors: list[DomainError] = []
    receivers = await _check_receivers(actor, receiver_ids, errors)
    subject = _text(subject, "subject", SUBJECT_MAX, errors)
    body = _text(body, "body", BODY_MAX, errors)
    days = INQUIRY_REPLY.working_days if reply_working_days is None else reply_working_days
    if not 1 <= days <= MAX_REPLY_DAYS:
        errors.append(
            InvalidInput(f"答复期限须为1至{MAX_REPLY_DAYS}个工作日", field="replyWorkingDays", code="INVALID_TERM")
        )
    await _check_refs(actor, item_id, decision_id, errors)
    raise_all(errors)
    inquiry = await Inquiry.create(
        sender_department_id=actor.department_id,
        created_by_id=actor.id,
        topic=topic,
        subject=subject,
        item_id=item_id,
        decision_id=decision_id,
        reply_working_days=days,
        created_at=now,
    )
    question = await InquiryMessage.create(
        inquiry_id=inquiry.id,
        position=1,
        kind=InquiryMessageKind.QUESTION,
        department_id=actor.department_id,
        author_id=actor.id,
        body=body,
        created_at=now,
    )
    await attach_evidence(actor, list(evidence_file_ids), MESSAGE, question.id, field="evidenceFileIds")
    for department_id in receivers:
        await InquiryReceiver.create(inquiry_id=inquiry.id, department_id=department_id)
        obligation = await open_obligation(
            INQUIRY_REPLY.kind,
            subject_type="Inquiry",
            subject_id=inquiry.id,
            department_id=department_id,
            watchers=[actor.department_id],
            start=now,
            working_days=days,
        )
        await record_event(
            EventKind.INQUIRY_SENT,
            subject_type="Inquiry",
            subject_id=inquiry.id,
            departments=[actor.department_id, department_id],
            payload={"inquiryId": inquiry.id, **obligation.payload()},
        )
    return inquiry


async def _participating(actor: User, inquiry_id: int) -> tuple[Inquiry, list[int]]:
    inquiry = await Inquiry.filter(id=inquiry_id).select_for_update().first()
    receivers = await receiver_ids(inquiry_id) if inquiry else []
    if inquiry is None or not (actor.department_id == inquiry.sender_department_id or actor.department_id in receivers):
        raise NotFound("函询不存在", field="id", code="INQUIRY_NOT_FOUND")
    if not actor.has_role(*WRITER_ROLES):
        raise Forbidden("只有经办人、联络员或领导可以答复函询", field="id")
    return inquiry, receivers


async def reply_to_inquiry(
    actor: User, inquiry_id: int, body: str, *, now: datetime, evidence_file_ids: Sequence[int] = ()
) -> InquiryMessage:
    """A receiver's answer (its first one fulfils its obligation), or a follow-up from either side."""
    inquiry, receivers = await _participating(actor, inquiry_id)
    body = check_length(body, "body", BODY_MAX)
    if inquiry.status is not InquiryStatus.OPEN:
        raise InvalidTransition("函询已办结，不能再答复", field="id", code="INQUIRY_CLOSED")
    kind = InquiryMessageKind.FOLLOW_UP
    detail: dict[str, object] = {"inquiryId": inquiry.id}
    if actor.department_id in receivers:
        first = await InquiryReceiver.filter(
            inquiry_id=inquiry.id, department_id=actor.department_id, answered_at=None
        ).update(answered_at=now)
        if first:
            kind = InquiryMessageKind.ANSWER
            closed = await close_obligations(
                "Inquiry", inquiry.id, now=now, kind=INQUIRY_REPLY.kind, department_id=actor.department_id
            )
            if closed:
                detail.update({**closed[0].payload(), "late": closed[0].done_late})
    last = await InquiryMessage.filter(inquiry_id=inquiry.id).order_by("-position").first()
    message = await InquiryMessage.create(
        inquiry_id=inquiry.id,
        position=(last.position if last else 0) + 1,
        kind=kind,
        department_id=actor.department_id,
        author_id=actor.id,
        body=body,
        created_at=now,
    )
    await attach_evidence(actor, list(evidence_file_ids), MESSAGE, message.id, field="evidenceFileIds")
    await record_event(
        EventKind.INQUIRY_ANSWERED if kind is InquiryMessageKind.ANSWER else EventKind.INQUIRY_FOLLOWED_UP,
        subject_type="Inquiry",
        subject_id=inquiry.id,
        departments=[inquiry.sender_department_id, *receivers],
        payload={**detail, "position": message.position},
    )
    return message


async def close_inquiry(actor: User, inquiry_id: int, *, now: datetime) -> Inquiry:
    """The sender closes the inquiry; answers still owed are cancelled, not recorded as missed."""
    inquiry, receivers = await _participating(actor, inquiry_id)
    if actor.department_id != inquiry.sender_department_id:
        raise Forbidden("只有发函部门可以办结函询", field="id")
    if not await Inquiry.filter(id=inquiry.id, status=InquiryStatus.OPEN).update(
        status=InquiryStatus.CLOSED, closed_at=now, closed_by_id=actor.id
    ):
        raise InvalidTransition("函询已办结", field="id", code="INQUIRY_CLOSED")
    inquiry.status, inquiry.closed_at, inquiry.closed_by_id = InquiryStatus.CLOSED, now, actor.id
    cancelled = await close_obligations("Inquiry", inquiry.id, now=now, kind=INQUIRY_REPLY.kind, cancel=True)
    await record_event(
        EventKind.INQUIRY_CLOSED,
        subject_type="Inquiry",
        subject_id=inquiry.id,
        departments=[inquiry.sender_department_id, *receivers],
        payload={"inquiryId": inquiry.id, "cancelledReplies": len(cancelled)},
    )
    return inquiry
