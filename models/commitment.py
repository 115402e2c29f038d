"""Art. 24: notification-commitment decisions are verified after approval, as each item's plan says."""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.account import User, check_length
from models.catalogue import ApprovalItem
from models.decision import Decision
from models.enums import ResponsibleSide, Role, VerificationMethod, VerificationResult, VerificationStatus
from models.errors import DomainError, Forbidden, InvalidInput, NotFound, raise_all
from models.event import EventKind, record_event
from models.obligation import obligation_kind, open_obligation
from models.workdays import WorkCalendar

VERIFICATION = obligation_kind("VERIFICATION", "告知承诺核查", 20)
MAX_VERIFICATION_DAYS = 60
ACTING_ROLES = (Role.OFFICER, Role.LIAISON)


class VerificationTask(Model):
    """Checking one commitment-based decision (核查), by the department the plan of the item names. Never deleted."""

    id = fields.BigIntField(primary_key=True)
    decision_id = fields.BigIntField(db_index=True)
    issuer_id = fields.IntField(db_index=True)
    department_id = fields.IntField(db_index=True)
    side = fields.CharEnumField(ResponsibleSide, max_length=16, null=True)
    method = fields.CharEnumField(VerificationMethod, max_length=16, null=True)
    standard = fields.CharField(max_length=512, null=True)
    status = fields.CharEnumField(VerificationStatus, max_length=16)
    due_on = fields.DateField(null=True)
    result = fields.CharEnumField(VerificationResult, max_length=8, null=True)
    note = fields.TextField(null=True)
    recorded_at = fields.DatetimeField(null=True)
    recorded_by_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "verification_task"


async def set_verification_plan(
    item_id: int,
    *,
    exempt: bool,
    working_days: int | None,
    standard: str | None,
    method: VerificationMethod | None,
    side: ResponsibleSide | None,
) -> ApprovalItem:
    """Art. 24: per item, exempt, or verified within N working days against a standard, by method and side."""
    item = await ApprovalItem.get_or_none(id=item_id)
    if item is None:
        raise NotFound("审批事项不存在", field="itemId", code="ITEM_NOT_FOUND")
    errors: list[DomainError] = []
    if not exempt:
        if working_days is None or not 1 <= working_days <= MAX_VERIFICATION_DAYS:
            message = f"核查期限须在1到{MAX_VERIFICATION_DAYS}个工作日之间"
            errors.append(InvalidInput(message, field="workingDays", code="INVALID_TERM"))
        try:
            standard = check_length(standard or "", "standard", 512)
        except DomainError as e:
            errors.append(e)
        if method is None:
            errors.append(InvalidInput("须指定核查方式", field="method", code="REQUIRED"))
        if side is None:
            errors.append(InvalidInput("须指定核查责任方", field="responsibleSide", code="REQUIRED"))
    raise_all(errors)
    plan = {
        "verification_exempt": exempt,
        "verification_days": None if exempt else working_days,
        "verification_standard": None if exempt else standard,
        "verification_method": None if exempt else method,
        "verification_side": None if exempt else side,
    }
    await item.update_from_dict(plan).save(update_fields=list(plan))
    return item


def has_plan(item: ApprovalItem) -> bool:
    return item.verification_exempt or item.verification_days is not None


def commitment_errors(item: ApprovalItem, commitment_based: bool) -> list[DomainError]:
    """Art. 24: a decision is commitment-based only for an item that allows it and has a verification plan."""
    if not commitment_based:
        return []
    if not item.commitment_based:
        return [InvalidInput("该事项不实行告知承诺制", field="commitmentBased", code="ITEM_NOT_COMMITMENT_BASED")]
    if not has_plan(item):
        return [InvalidInput("该事项尚未制定核查计划", field="commitmentBased", code="NO_VERIFICATION_PLAN")]
    return []


async def open_verifications(
    decision: Decision, supervising_ids: list[int], *, now: datetime, calendar: WorkCalendar
) -> list[VerificationTask]:
    """Art. 24: at issue, a verification task per responsible department, due N working days after approval."""
    item = await ApprovalItem.get(id=decision.item_id)
    if item.verification_exempt:
        exempt = await VerificationTask.create(
            decision_id=decision.id,
            issuer_id=decision.issuer_id,
            department_id=decision.issuer_id,
            status=VerificationStatus.EXEMPT,
            created_at=now,
        )
        return [exempt]
    side = item.verification_side or ResponsibleSide.APPROVAL
    departments = [decision.issuer_id] if side is ResponsibleSide.APPROVAL else supervising_ids
    return [await _assign(decision, item, side, d, now=now, calendar=calendar) for d in departments]


async def _assign(
    decision: Decision,
    item: ApprovalItem,
    side: ResponsibleSide,
    department_id: int,
    *,
    now: datetime,
    calendar: WorkCalendar,
) -> VerificationTask:
    task = await VerificationTask.create(
        decision_id=decision.id,
        issuer_id=decision.issuer_id,
        department_id=department_id,
        side=side,
        method=item.verification_method,
        standard=item.verification_standard,
        status=VerificationStatus.OPEN,
        created_at=now,
    )
    ob = await open_obligation(
        VERIFICATION.kind,
        subject_type="VerificationTask",
        subject_id=task.id,
        department_id=department_id,
        watchers=[decision.issuer_id],
        start=decision.approved_on,
        working_days=item.verification_days,
        calendar=calendar,
    )
    task.due_on = ob.due_on
    await task.save(update_fields=["due_on"])
    await record_event(
        EventKind.VERIFICATION_ASSIGNED,
        subject_type="VerificationTask",
        subject_id=task.id,
        departments=[department_id, decision.issuer_id],
        payload={"verificationId": task.id, "decisionId": decision.id, **ob.payload()},
    )
    return task


def can_see_verification(viewer: User, task: VerificationTask) -> bool:
    return viewer.is_admin or viewer.department_id in (task.department_id, task.issuer_id)


def visible_verifications(viewer: User) -> QuerySet[VerificationTask]:
    """Tasks the viewer's department must carry out or whose decision it issued (all, for admins)."""
    if viewer.is_admin:
        return VerificationTask.all()
    return VerificationTask.filter(Q(department_id=viewer.department_id) | Q(issuer_id=viewer.department_id))


async def visible_verification(viewer: User, pk: int) -> VerificationTask:
    task = await VerificationTask.get_or_none(id=pk)
    if task is None or not can_see_verification(viewer, task):
        raise NotFound("核查任务不存在", field="id", code="VERIFICATION_NOT_FOUND")
    return task


def check_verifier(actor: User, task: VerificationTask) -> None:
    if actor.department_id != task.department_id or not actor.has_role(*ACTING_ROLES):
        raise Forbidden("只有负责核查的部门可以记录核查结果", field="id")
    if task.status is not VerificationStatus.OPEN:
        raise InvalidInput("该核查任务已办结或免于核查", field="id", code="VERIFICATION_NOT_OPEN")
