"""Art. 22: joint site inspections organised by the approval department, with invited departments and experts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import fields
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.account import Department, User, check_length
from models.calendar import local_date
from models.catalogue import ApprovalItem
from models.crypto import SealedField
from models.decision import Decision
from models.enums import (
    CounterpartyKind,
    DepartmentKind,
    InspectionKind,
    InspectionOpinionKind,
    InspectionStatus,
    InvitationStatus,
    ObligationStatus,
    Role,
)
from models.errors import DomainError, Forbidden, InvalidInput, NotFound, raise_all
from models.event import EventKind, record_event
from models.expert_draw import ExpertDraw, new_seed, pick, plan_draw
from models.issuance import CounterpartyInput, check_counterparty
from models.obligation import Obligation, close_obligations, obligation_kind, open_obligation

INSPECTION_REPLY = obligation_kind("INSPECTION_REPLY", "踏勘邀请答复", 2)
INSPECTION_OPINION = obligation_kind("INSPECTION_OPINION", "踏勘评审意见", 3)
ORGANISER_ROLES = (Role.OFFICER, Role.LIAISON)
MAX_INVITED = 30
MAX_DRAW = 20
DEFAULT_LOOKBACK_DAYS = 30


class InspectionTask(Model):
    """A joint site inspection or review (联合踏勘评审) of an application or a decision. Never deleted."""

    id = fields.BigIntField(primary_key=True)
    organiser_id = fields.IntField(db_index=True)
    item_id = fields.IntField()
    decision_id = fields.BigIntField(null=True, db_index=True)
    application_reference = fields.CharField(max_length=64, null=True)
    counterparty_name = fields.CharField(max_length=128)
    counterparty_kind = fields.CharEnumField(CounterpartyKind, max_length=16)
    id_number = SealedField("inspection_task.id_number", null=True)  # PIPL: stored sealed
    credit_code = fields.CharField(max_length=18, null=True)
    site = fields.CharField(max_length=256)
    planned_at = fields.DatetimeField()
    kind = fields.CharEnumField(InspectionKind, max_length=16)
    status = fields.CharEnumField(InspectionStatus, max_length=16, default=InspectionStatus.PLANNED)
    conclusion = fields.TextField(null=True)
    closed_at = fields.DatetimeField(null=True)
    created_by_id = fields.IntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "inspection_task"

    @property
    def counterparty_key(self) -> str | None:
        return self.credit_code or self.id_number


class InspectionInvitation(Model):
    """A supervision department invited to a task, which accepts or declines (with a reason) in 2 working days."""

    id = fields.BigIntField(primary_key=True)
    task_id = fields.BigIntField(db_index=True)
    department_id = fields.IntField(db_index=True)
    status = fields.CharEnumField(InvitationStatus, max_length=16, default=InvitationStatus.PENDING)
    reason = fields.CharField(max_length=500, null=True)
    replied_at = fields.DatetimeField(null=True)
    replied_by_id = fields.IntField(null=True)

    class Meta:
        table = "inspection_invitation"
        unique_together = (("task_id", "department_id"),)


class InspectionOpinion(Model):
    """The opinion of one participant: a department, or an expert as recorded by the organiser."""

    id = fields.BigIntField(primary_key=True)
    task_id = fields.BigIntField(db_index=True)
    department_id = fields.IntField(null=True)
    expert_id = fields.IntField(null=True)
    opinion = fields.CharEnumField(InspectionOpinionKind, max_length=32)
    text = fields.TextField()
    recorded_by_id = fields.IntField()
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "inspection_opinion"
        unique_together = (("task_id", "department_id", "expert_id"),)


def can_see_task(viewer: User, task: InspectionTask, invited: list[int]) -> bool:
    return viewer.is_admin or viewer.department_id == task.organiser_id or viewer.department_id in invited


def visible_tasks(viewer: User) -> QuerySet[InspectionTask]:
    """Tasks the viewer's department organises or is invited to (all, for admins)."""
    if viewer.is_admin:
        return InspectionTask.all()
    invited = InspectionInvitation.filter(department_id=viewer.department_id).values_list("task_id", flat=True)
    return InspectionTask.filter(Q(organiser_id=viewer.department_id) | Q(id__in=Subquery(invited)))


async def invited_departments(task_id: int) -> list[int]:
    rows = (
        await InspectionInvitation.filter(task_id=task_id)
        .order_by("department_id")
        .values_list("department_id", flat=True)
    )
    return [int(d) for d in rows]  # type: ignore[call-overload]


async def visible_task(viewer: User, task_id: int, field: str = "id") -> InspectionTask:
    task = await InspectionTask.get_or_none(id=task_id)
    if task is None or not can_see_task(viewer, task, await invited_departments(task.id)):
        raise NotFound("踏勘任务不存在", field=field, code="INSPECTION_NOT_FOUND")
    return task


async def _check_organiser(actor: User) -> None:
    dept = await Department.get(id=actor.department_id)
    if dept.kind is not DepartmentKind.APPROVAL or not actor.has_role(*ORGANISER_ROLES):
        raise Forbidden("只有审批部门的经办人或联络员可以组织联合踏勘", field=None)


async def _organised_task(actor: User, task_id: int) -> InspectionTask:
    task = await visible_task(actor, task_id)
    if task.organiser_id != actor.department_id or not actor.has_role(*ORGANISER_ROLES):
        raise Forbidden("只有组织部门可以办理", field="id")
    if task.status is InspectionStatus.CLOSED:
        raise InvalidInput("踏勘任务已结束", field="id", code="INSPECTION_CLOSED")
    return task


async def _invitees(errors: list[DomainError], ids: list[int]) -> list[int]:
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_INVITED:
        errors.append(InvalidInput(f"最多邀请{MAX_INVITED}个部门", field="invitedDepartmentIds", code="TOO_MANY"))
        return []
    found = {d.id: d for d in await Department.filter(id__in=ids)} if ids else {}
    for i, pk in enumerate(ids):
        dept = found.get(pk)
        if dept is None:
            errors.append(NotFound("部门不存在", field=f"invitedDepartmentIds.{i}", code="DEPARTMENT_NOT_FOUND"))
        elif dept.kind is not DepartmentKind.SUPERVISION:
            message = "只能邀请监管部门"
            errors.append(InvalidInput(message, field=f"invitedDepartmentIds.{i}", code="NOT_A_SUPERVISION_DEPARTMENT"))
    return ids


async def _subject(
    errors: list[DomainError],
    actor: User,
    decision_id: int | None,
    reference: str | None,
    item_id: int | None,
    counterparty: CounterpartyInput | None,
) -> dict[str, Any]:
    """Either an issued decision, or an application (reference, item and counterparty) before any decision."""
    if decision_id is not None:
        decision = await Decision.get_or_none(id=decision_id)
        if decision is None or decision.issuer_id != actor.department_id:
            errors.append(NotFound("审批决定不存在", field="decisionId", code="DECISION_NOT_FOUND"))
            return {}
        return {
            "decision_id": decision.id,
            "item_id": decision.item_id,
            "counterparty_name": decision.counterparty_name,
            "counterparty_kind": decision.counterparty_kind,
            "id_number": decision.id_number,
            "credit_code": decision.credit_code,
        }
    if counterparty is None or item_id is None or not (reference or "").strip():
        message = "须指定审批决定，或申请编号、事项和申请人"
        errors.append(InvalidInput(message, field="applicationReference", code="SUBJECT_REQUIRED"))
        return {}
    try:
        ref = check_length(reference or "", "applicationReference", 64)
    except DomainError as e:
        errors.append(e)
        ref = ""
    cp = check_counterparty(errors, counterparty)
    return {
        "application_reference": ref,
        "item_id": item_id,
        "counterparty_name": cp.name,
        "counterparty_kind": cp.kind,
        "id_number": cp.id_number,
        "credit_code": cp.credit_code,
    }


async def create_inspection_task(
    actor: User,
    *,
    kind: InspectionKind,
    site: str,
    planned_at: datetime,
    invited_department_ids: list[int],
    now: datetime,
    decision_id: int | None = None,
    application_reference: str | None = None,
    item_id: int | None = None,
    counterparty: CounterpartyInput | None = None,
) -> InspectionTask:
    """Art. 22: the approval department organises an inspection of an item that needs one, inviting departments."""
    await _check_organiser(actor)
    errors: list[DomainError] = []
    subject = await _subject(errors, actor, decision_id, application_reference, item_id, counterparty)
    if "item_id" in subject:
        item = await ApprovalItem.get_or_none(id=subject["item_id"])
        field = "decisionId" if decision_id is not None else "itemId"
        if item is None:
            errors.append(NotFound("审批事项不存在", field=field, code="ITEM_NOT_FOUND"))
        elif not item.joint_inspection:
            errors.append(InvalidInput("该事项不在联合踏勘事项目录中", field=field, code="ITEM_NOT_JOINT_INSPECTION"))
    try:
        site = check_length(site, "site", 256)
    except DomainError as e:
        errors.append(e)
    if planned_at < now:
        errors.append(InvalidInput("计划时间不能早于现在", field="plannedAt", code="DATE_IN_PAST"))
    invited = await _invitees(errors, invited_department_ids)
    raise_all(errors)
    task = await InspectionTask.create(
        organiser_id=actor.department_id,
        site=site,
        planned_at=planned_at,
        kind=kind,
        created_by_id=actor.id,
        created_at=now,
        **subject,
    )
    for department_id in invited:
        await _invite(task, department_id, now)
    return task


async def _invite(task: InspectionTask, department_id: int, now: datetime) -> None:
    invitation = await InspectionInvitation.create(task_id=task.id, department_id=department_id)
    ob = await open_obligation(
        INSPECTION_REPLY.kind,
        subject_type="InspectionInvitation",
        subject_id=invitation.id,
        department_id=department_id,
        watchers=[task.organiser_id],
        start=now,
    )
    await record_event(
        EventKind.INSPECTION_INVITED,
        subject_type="InspectionInvitation",
        subject_id=invitation.id,
        departments=[department_id, task.organiser_id],
        payload={"taskId": task.id, "invitationId": invitation.id, **ob.payload()},
    )


async def reply_invitation(
    actor: User, invitation_id: int, *, accept: bool, reason: str | None, now: datetime
) -> InspectionInvitation:
    """Art. 22: the invitee accepts, or declines with a reason; accepting owes an opinion (3 working days)."""
    invitation = await InspectionInvitation.get_or_none(id=invitation_id)
    if invitation is None or invitation.department_id != actor.department_id:
        raise NotFound("踏勘邀请不存在", field="id", code="INVITATION_NOT_FOUND")
    if not actor.has_role(*ORGANISER_ROLES):
        raise Forbidden("只有经办人或联络员可以答复", field="id")
    task = await InspectionTask.get(id=invitation.task_id)
    if invitation.status is not InvitationStatus.PENDING:
        raise InvalidInput("该邀请已答复", field="id", code="ALREADY_REPLIED")
    if task.status is InspectionStatus.CLOSED:
        raise InvalidInput("踏勘任务已结束", field="id", code="INSPECTION_CLOSED")
    text = check_length(reason or "", "reason", 500, required=not accept)
    status = InvitationStatus.ACCEPTED if accept else InvitationStatus.DECLINED
    changes = {"status": status, "reason": text or None, "replied_at": now, "replied_by_id": actor.id}
    # Conditional: of two concurrent replies only one lands (PostgreSQL runs them truly in parallel).
    if not await InspectionInvitation.filter(id=invitation.id, status=InvitationStatus.PENDING).update(**changes):
        raise InvalidInput("该邀请已答复", field="id", code="ALREADY_REPLIED")
    invitation.update_from_dict(changes)
    closed = await close_obligations("InspectionInvitation", invitation.id, now=now, kind=INSPECTION_REPLY.kind)
    payload: dict[str, Any] = {
        "taskId": task.id,
        "status": invitation.status.value,
        "late": any(o.done_late for o in closed),
    }
    if accept:
        ob = await _owe_opinion(task, invitation.department_id)
        payload.update(ob)
    await record_event(
        EventKind.INSPECTION_INVITATION_REPLIED,
        subject_type="InspectionInvitation",
        subject_id=invitation.id,
        departments=[task.organiser_id, invitation.department_id],
        payload=payload,
    )
    return invitation


async def _owe_opinion(task: InspectionTask, department_id: int) -> dict[str, Any]:
    """INSPECTION_OPINION: 3 working days after the planned day, once per department and task."""
    ob = await open_obligation(
        INSPECTION_OPINION.kind,
        subject_type="InspectionTask",
        subject_id=task.id,
        department_id=department_id,
        watchers=[task.organiser_id],
        start=local_date(task.planned_at),
    )
    return ob.payload()


async def draw_experts(
    actor: User, task_id: int, *, field: str, count: int, lookback_days: int, now: datetime
) -> ExpertDraw:
    """Art. 22: draw experts of a field at random, never one with a conflict of interest or drawn lately."""
    task = await _organised_task(actor, task_id)
    errors: list[DomainError] = []
    try:
        field = check_length(field, "field", 64)
    except DomainError as e:
        errors.append(e)
    if not 1 <= count <= MAX_DRAW:
        errors.append(InvalidInput(f"抽取人数须在1到{MAX_DRAW}之间", field="count", code="INVALID_COUNT"))
    if not 0 <= lookback_days <= 365:
        errors.append(InvalidInput("回避天数须在0到365之间", field="lookbackDays", code="INVALID_LOOKBACK"))
    raise_all(errors)
    conflicts = {task.counterparty_key} if task.counterparty_key else set()
    plan = await plan_draw(
        pool_department_id=task.organiser_id,
        field=field,
        conflict_keys=conflicts,
        task_id=task.id,
        lookback_days=lookback_days,
        now=now,
    )
    if len(plan.eligible) < count:
        message = f"符合条件的专家只有{len(plan.eligible)}名，不足{count}名"
        raise InvalidInput(message, field="count", code="NOT_ENOUGH_EXPERTS")
    seed = new_seed()
    draw = await ExpertDraw.create(
        task_id=task.id,
        field=field,
        count=count,
        lookback_days=lookback_days,
        seed=seed,
        candidates=plan.candidates,
        exclusions=plan.exclusions,
        result=pick(plan.eligible, count, seed),
        drawn_at=now,
        drawn_by_id=actor.id,
    )
    payload: dict[str, Any] = {"taskId": task.id, "drawId": draw.id, "experts": draw.result}
    if not await _has_open_opinion(task, task.organiser_id):
        payload.update(await _owe_opinion(task, task.organiser_id))
    await record_event(
        EventKind.INSPECTION_EXPERTS_DRAWN,
        subject_type="InspectionTask",
        subject_id=task.id,
        departments=[task.organiser_id, *await _accepted(task.id)],
        payload=payload,
    )
    return draw


async def _has_open_opinion(task: InspectionTask, department_id: int) -> bool:
    return await Obligation.filter(
        subject_type="InspectionTask",
        subject_id=task.id,
        kind=INSPECTION_OPINION.kind,
        department_id=department_id,
        status=ObligationStatus.OPEN,
    ).exists()


async def _accepted(task_id: int) -> list[int]:
    rows = await InspectionInvitation.filter(task_id=task_id, status=InvitationStatus.ACCEPTED).values_list(
        "department_id", flat=True
    )
    return [int(d) for d in rows]  # type: ignore[call-overload]


async def drawn_experts(task_id: int) -> list[int]:
    return sorted({e for draw in await ExpertDraw.filter(task_id=task_id) for e in draw.result})
