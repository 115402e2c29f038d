"""Opinions and reports from the public (社会监督, Art. 35).

Anyone may submit, without an account, optionally anonymously and optionally about an item, a
department or a licence holder. Each submission gets a tracking number and a random secret shown
once (only its hash is stored): with both the submitter reads the status and the reply. The
submission goes to a department (the item's first supervisor, or one the approval bureau
chooses), which replies within a term of working days (a PUBLIC_REPLY obligation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.account import PHONE_RE, Department, User, check_length
from models.calendar import local_date
from models.catalogue import ApprovalItem
from models.crypto import SealedField
from models.enums import DepartmentKind, Role
from models.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound, raise_all
from models.event import EventKind, record_event
from models.identifiers import credit_code_is_valid, normalize_credit_code
from models.obligation import close_obligations, obligation_kind, open_obligation

PUBLIC_REPLY = obligation_kind("PUBLIC_REPLY", "社会监督答复", 10)
HANDLER_ROLES = (Role.OFFICER, Role.LIAISON)
# Every field is bounded: the intake is open to anyone.
SUBJECT_MAX = 100
CONTENT_MAX = 5000
NAME_MAX = 50
HOLDER_MAX = 128
REPLY_MAX = 5000
TRACKING_MAX = 32
SECRET_MAX = 64
_DUMMY_HASH = hashlib.sha256(b"no-such-submission").hexdigest()


class SubmissionKind(StrEnum):
    OPINION = "OPINION"
    REPORT = "REPORT"


class SubmissionStatus(StrEnum):
    RECEIVED = "RECEIVED"
    ROUTED = "ROUTED"
    REPLIED = "REPLIED"


class PublicSubmission(Model):
    """An opinion or a report from the public. Never deleted."""

    id = fields.BigIntField(primary_key=True)
    tracking_number = fields.CharField(max_length=TRACKING_MAX, unique=True)
    secret_hash = fields.CharField(max_length=64)
    kind = fields.CharEnumField(SubmissionKind, max_length=16)
    subject = fields.CharField(max_length=SUBJECT_MAX)
    content = fields.TextField()
    anonymous = fields.BooleanField()
    contact_name = fields.CharField(max_length=NAME_MAX, null=True)
    contact_phone = SealedField("public_submission.contact_phone", null=True)  # PIPL: stored sealed
    about_item_id = fields.IntField(null=True)
    about_department_id = fields.IntField(null=True)
    about_holder_name = fields.CharField(max_length=HOLDER_MAX, null=True)
    about_holder_credit_code = fields.CharField(max_length=18, null=True)
    status = fields.CharEnumField(SubmissionStatus, max_length=16)
    department_id = fields.IntField(null=True)
    routed_by_department_id = fields.IntField(null=True)
    routed_at = fields.DatetimeField(null=True)
    reply = fields.TextField(null=True)
    replied_at = fields.DatetimeField(null=True)
    replied_by_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "public_submission"
        indexes = (("department_id", "id"), ("status", "id"))


@dataclass(frozen=True)
class SubmissionInput:
    kind: SubmissionKind
    subject: str
    content: str
    anonymous: bool = False
    contact_name: str | None = None
    contact_phone: str | None = None
    about_item_id: int | None = None
    about_department_id: int | None = None
    about_holder_name: str | None = None
    about_holder_credit_code: str | None = None


def hash_secret(secret: str) -> str:
    """The secret is 128 random bits: a plain SHA-256 is enough, and comparison is constant-time."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def _optional(value: str | None, field: str, limit: int, errors: list[DomainError]) -> str | None:
    if value is None:
        return None
    try:
        return check_length(value, field, limit, required=False) or None
    except DomainError as error:
        errors.append(error)
        return None


def _required(value: str, field: str, limit: int, errors: list[DomainError]) -> str:
    try:
        return check_length(value, field, limit)
    except DomainError as error:
        errors.append(error)
        return ""


async def _check(data: SubmissionInput) -> tuple[dict[str, Any], ApprovalItem | None]:
    errors: list[DomainError] = []
    subject = _required(data.subject, "subject", SUBJECT_MAX, errors)
    content = _required(data.content, "content", CONTENT_MAX, errors)
    name = _optional(data.contact_name, "contactName", NAME_MAX, errors)
    phone = _optional(data.contact_phone, "contactPhone", 20, errors)
    if phone is not None and not PHONE_RE.match(phone):
        errors.append(InvalidInput("联系电话格式不正确", field="contactPhone", code="INVALID_PHONE"))
    if not data.anonymous and name is None:
        errors.append(InvalidInput("实名提交请填写联系人姓名", field="contactName", code="REQUIRED"))
    holder = _optional(data.about_holder_name, "aboutHolderName", HOLDER_MAX, errors)
    code = _optional(data.about_holder_credit_code, "aboutHolderCreditCode", 18, errors)
    if code is not None:
        code = normalize_credit_code(code)
        if not credit_code_is_valid(code):
            errors.append(
                InvalidInput("统一社会信用代码不正确", field="aboutHolderCreditCode", code="INVALID_CREDIT_CODE")
            )
    item = await ApprovalItem.get_or_none(id=data.about_item_id) if data.about_item_id else None
    if data.about_item_id and item is None:
        errors.append(NotFound("审批事项不存在", field="aboutItemId", code="ITEM_NOT_FOUND"))
    if data.about_department_id and not await Department.filter(id=data.about_department_id).exists():
        errors.append(NotFound("部门不存在", field="aboutDepartmentId", code="DEPARTMENT_NOT_FOUND"))
    raise_all(errors)
    anonymous = data.anonymous
    return {
        "kind": data.kind,
        "subject": subject,
        "content": content,
        "anonymous": anonymous,
        "contact_name": None if anonymous else name,
        "contact_phone": None if anonymous else phone,
        "about_item_id": data.about_item_id,
        "about_department_id": data.about_department_id,
        "about_holder_name": holder,
        "about_holder_credit_code": code,
    }, item


async def _approval_departments() -> list[int]:
    ids = await Department.filter(kind=DepartmentKind.APPROVAL).values_list("id", flat=True)
    return [int(i) for i in ids]  # type: ignore[call-overload]


async def _route(row: PublicSubmission, department_id: int, by: int | None, now: datetime) -> None:
    await PublicSubmission.filter(id=row.id).update(
        status=SubmissionStatus.ROUTED, department_id=department_id, routed_by_department_id=by, routed_at=now
    )
    row.status, row.department_id, row.routed_by_department_id, row.routed_at = (
        SubmissionStatus.ROUTED,
        department_id,
        by,
        now,
    )
    obligation = await open_obligation(
        PUBLIC_REPLY.kind,
        subject_type="PublicSubmission",
        subject_id=row.id,
        department_id=department_id,
        watchers=[by] if by else [],
        start=now,
    )
    await record_event(
        EventKind.PUBLIC_SUBMISSION_ROUTED,
        subject_type="PublicSubmission",
        subject_id=row.id,
        departments=[department_id, *([by] if by else [])],
        payload={"submissionId": row.id, **obligation.payload()},
    )


async def submit(data: SubmissionInput, *, now: datetime) -> tuple[PublicSubmission, str]:
    """Art. 35: take in an opinion or report; returns the row and the secret (shown once, never stored)."""
    values, item = await _check(data)
    secret = secrets.token_urlsafe(18)
    row = await PublicSubmission.create(
        tracking_number=f"TMP-{secrets.token_hex(8)}",
        secret_hash=hash_secret(secret),
        status=SubmissionStatus.RECEIVED,
        created_at=now,
        **values,
    )
    row.tracking_number = f"GZ-{local_date(now).year}-{row.id:06d}"
    await PublicSubmission.filter(id=row.id).update(tracking_number=row.tracking_number)
    supervisor = await item.supervisors.all().order_by("id").first() if item else None
    if supervisor is not None:
        await _route(row, supervisor.id, None, now)
    else:
        await record_event(
            EventKind.PUBLIC_SUBMISSION_RECEIVED,
            subject_type="PublicSubmission",
            subject_id=row.id,
            departments=await _approval_departments(),
            payload={"submissionId": row.id},
        )
    return row, secret


async def status_of(tracking_number: str, secret: str) -> PublicSubmission | None:
    """The submission, only with its own secret: a wrong secret and an unknown number look the same."""
    number = tracking_number.strip()[:TRACKING_MAX]
    row = await PublicSubmission.get_or_none(tracking_number=number) if number else None
    given = hash_secret(secret[:SECRET_MAX])
    matches = hmac.compare_digest(row.secret_hash if row else _DUMMY_HASH, given)
    return row if row is not None and matches else None


async def _is_approval(user: User) -> bool:
    return await Department.filter(id=user.department_id, kind=DepartmentKind.APPROVAL).exists()


async def visible_submissions(viewer: User) -> QuerySet[PublicSubmission]:
    """The department it was routed to and the one that routed it; the approval bureau also sees
    those waiting to be routed."""
    if viewer.is_admin:
        return PublicSubmission.all()
    seen = Q(department_id=viewer.department_id) | Q(routed_by_department_id=viewer.department_id)
    if await _is_approval(viewer):
        seen |= Q(status=SubmissionStatus.RECEIVED)
    return PublicSubmission.filter(seen)


async def can_see_submission(viewer: User, row: PublicSubmission) -> bool:
    return await (await visible_submissions(viewer)).filter(id=row.id).exists()


async def route_submission(actor: User, submission_id: int, department_id: int, *, now: datetime) -> PublicSubmission:
    """The approval bureau sends a submission nobody was found for to the department that should reply."""
    if not actor.has_role(*HANDLER_ROLES) or not await _is_approval(actor):
        raise Forbidden("只有审批部门的经办人或联络员可以分派", field="id")
    row = await PublicSubmission.filter(id=submission_id).select_for_update().first()
    if row is None or not await can_see_submission(actor, row):
        raise NotFound("社会监督件不存在", field="id", code="SUBMISSION_NOT_FOUND")
    if row.status is not SubmissionStatus.RECEIVED:
        raise InvalidTransition("该件已分派", field="id", code="ALREADY_ROUTED")
    if not await Department.filter(id=department_id).exists():
        raise NotFound("部门不存在", field="departmentId", code="DEPARTMENT_NOT_FOUND")
    await _route(row, department_id, actor.department_id, now)
    return row


async def reply_to_submission(actor: User, submission_id: int, reply: str, *, now: datetime) -> PublicSubmission:
    """The department replies; the submitter reads it with the tracking number and secret."""
    row = await PublicSubmission.get_or_none(id=submission_id)
    if row is None or row.department_id != actor.department_id:
        raise NotFound("社会监督件不存在", field="id", code="SUBMISSION_NOT_FOUND")
    if not actor.has_role(*HANDLER_ROLES):
        raise Forbidden("只有经办人或联络员可以答复", field="id")
    text = check_length(reply, "reply", REPLY_MAX)
    if not await PublicSubmission.filter(id=row.id, status=SubmissionStatus.ROUTED).update(
        status=SubmissionStatus.REPLIED, reply=text, replied_at=now, replied_by_id=actor.id
    ):
        raise InvalidTransition("该件已答复", field="id", code="ALREADY_REPLIED")
    row.status, row.reply, row.replied_at, row.replied_by_id = SubmissionStatus.REPLIED, text, now, actor.id
    closed = await close_obligations("PublicSubmission", row.id, now=now, kind=PUBLIC_REPLY.kind)
    by = row.routed_by_department_id
    await record_event(
        EventKind.PUBLIC_SUBMISSION_REPLIED,
        subject_type="PublicSubmission",
        subject_id=row.id,
        departments=[actor.department_id, *([by] if by else [])],
        payload={"submissionId": row.id, "late": bool(closed and closed[0].done_late)},
    )
    return row


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: staff see that a name was given, not whose."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""
