"""Supervision back-flow (Art. 21 (1)(2)): supervision actions pushed back to the approval side.

A supervision department records an action (a penalty, a suspension order, a licence revocation...)
that may affect a licence, then pushes it to the approval department that issued the licence within
7 working days of the penalty decision (a late push is allowed and recorded late). The approval
department claims it within 3 working days (an obligation of kind PENALTY_CLAIM) or returns it with a
reason. When the platform could not be used the push is recorded as made offline, on its real date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.account import Department, User, check_length
from models.calendar import current_calendar, local_date
from models.crypto import SealedField
from models.decision import Decision
from models.enums import Channel, CounterpartyKind, DepartmentKind, Role
from models.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound, raise_all
from models.event import EventKind, record_event
from models.files import attach_evidence
from models.identifiers import (
    citizen_id_is_valid,
    credit_code_is_valid,
    normalize_citizen_id,
    normalize_credit_code,
)
from models.obligation import close_obligations, obligation_kind, open_obligation
from models.visibility import can_see_decision

PUSH_WORKING_DAYS = 7  # Art. 21 (1): push within 7 working days of the penalty decision
PENALTY_CLAIM = obligation_kind("PENALTY_CLAIM", "认领监管信息", 3)
HANDLER_ROLES = (Role.OFFICER, Role.LIAISON)
SUBJECT = "SupervisionAction"


class ActionKind(StrEnum):
    SUSPENSION_ORDER = "SUSPENSION_ORDER"  # 责令停产停业
    LICENCE_REVOCATION = "LICENCE_REVOCATION"  # 吊销许可证件
    FINE = "FINE"  # 罚款
    RECTIFICATION_ORDER = "RECTIFICATION_ORDER"  # 责令整改
    OTHER = "OTHER"


class ActionStatus(StrEnum):
    RECORDED = "RECORDED"  # recorded, not yet pushed
    PENDING = "PENDING"  # pushed, waiting for the approval department's claim
    CLAIMED = "CLAIMED"
    RETURNED = "RETURNED"  # "not ours": the supervision department pushes it again, elsewhere


class OfflineChannel(StrEnum):
    OFFICIAL_LETTER = "OFFICIAL_LETTER"  # 公函
    CASE_FILE_TRANSFER = "CASE_FILE_TRANSFER"  # 案卷移送
    COORDINATION_MEETING = "COORDINATION_MEETING"  # 协调会议


class SupervisionAction(Model):
    """A supervision action (监管信息) of a supervision department about a licence holder. Never deleted."""

    id = fields.BigIntField(primary_key=True)
    department: fields.ForeignKeyRelation[Department] = fields.ForeignKeyField(
        "shenguan.Department", related_name=False, on_delete=fields.RESTRICT
    )
    department_id: int
    kind = fields.CharEnumField(ActionKind, max_length=24)
    status = fields.CharEnumField(ActionStatus, max_length=16, default=ActionStatus.RECORDED)
    penalty_document_number = fields.CharField(max_length=64)
    penalty_decided_on = fields.DateField()
    push_due_on = fields.DateField()
    target_department_id = fields.IntField()
    decisions: fields.ManyToManyRelation[Decision] = fields.ManyToManyField(
        "shenguan.Decision", related_name="supervision_actions", through="supervision_action_decision"
    )
    counterparty_name = fields.CharField(max_length=128)
    counterparty_kind = fields.CharEnumField(CounterpartyKind, max_length=16, null=True)
    id_number = SealedField("supervision_action.id_number", null=True)  # PIPL: stored sealed
    credit_code = fields.CharField(max_length=18, null=True)
    affects_licence = fields.BooleanField(default=True)
    content = fields.TextField()
    created_by_id = fields.IntField()
    created_at = fields.DatetimeField()
    channel = fields.CharEnumField(Channel, max_length=16, null=True)
    pushed_at = fields.DatetimeField(null=True)
    pushed_on = fields.DateField(null=True)
    pushed_by_id = fields.IntField(null=True)
    pushed_late = fields.BooleanField(default=False)
    offline_channel = fields.CharEnumField(OfflineChannel, max_length=24, null=True)
    offline_reference = fields.CharField(max_length=128, null=True)
    claimed_at = fields.DatetimeField(null=True)
    claimed_by_id = fields.IntField(null=True)
    claimed_late = fields.BooleanField(default=False)
    returned_at = fields.DatetimeField(null=True)
    returned_by_id = fields.IntField(null=True)
    return_reason = fields.CharField(max_length=500, null=True)
    # Earlier pushes that were returned, oldest first: the row itself holds the current push.
    previous_pushes: list[dict[str, Any]] = fields.JSONField(default=list)

    class Meta:
        table = "supervision_action"
        indexes = (("department_id", "id"), ("target_department_id", "id"))


@dataclass
class ActionInput:
    kind: ActionKind
    penalty_document_number: str
    penalty_decided_on: date
    content: str
    decision_ids: list[int] = field(default_factory=list)
    approval_department_id: int | None = None
    counterparty_name: str | None = None
    counterparty_kind: CounterpartyKind | None = None
    id_number: str | None = None
    credit_code: str | None = None
    affects_licence: bool = True
    evidence_file_ids: list[int] = field(default_factory=list)


def can_see_action(viewer: User, row: SupervisionAction) -> bool:
    """The recording department, and the approval department it was pushed to (once pushed)."""
    if viewer.is_admin or viewer.department_id == row.department_id:
        return True
    return viewer.department_id == row.target_department_id and row.status is not ActionStatus.RECORDED


def _text(errors: list[DomainError], value: str | None, name: str, limit: int) -> str:
    try:
        return check_length(value or "", name, limit)
    except DomainError as error:
        errors.append(error)
        return ""


async def _supervision_handler(actor: User) -> None:
    dept = await Department.get(id=actor.department_id)
    if dept.kind is not DepartmentKind.SUPERVISION or not actor.has_role(*HANDLER_ROLES):
        raise Forbidden("只有监管部门的经办人或联络员可以录入和推送监管信息", field=None)


def _check_identity(errors: list[DomainError], data: ActionInput, decisions: list[Decision]) -> dict[str, Any]:
    """The counterparty: from the decisions, or given (and checked) when none is on the platform."""
    if decisions and not (data.id_number or data.credit_code or data.counterparty_name):
        first = decisions[0]
        return {
            "counterparty_name": first.counterparty_name,
            "counterparty_kind": first.counterparty_kind,
            "id_number": first.id_number,
            "credit_code": first.credit_code,
        }
    name = _text(errors, data.counterparty_name, "counterparty.name", 128)
    out: dict[str, Any] = {"counterparty_name": name, "counterparty_kind": data.counterparty_kind}
    if data.counterparty_kind is None:
        errors.append(InvalidInput("请选择相对人类型", field="counterparty.kind", code="REQUIRED"))
    elif data.counterparty_kind is CounterpartyKind.PERSON:
        value = normalize_citizen_id(data.id_number or "")
        if not value:
            errors.append(InvalidInput("自然人须提供公民身份证号码", field="counterparty.idNumber", code="REQUIRED"))
        elif not citizen_id_is_valid(value):
            errors.append(
                InvalidInput(
                    "公民身份证号码无效（校验位不符）", field="counterparty.idNumber", code="INVALID_ID_NUMBER"
                )
            )
        out["id_number"] = value or None
    else:
        value = normalize_credit_code(data.credit_code or "")
        if not value:
            errors.append(
                InvalidInput("法人或其他组织须提供统一社会信用代码", field="counterparty.creditCode", code="REQUIRED")
            )
        elif not credit_code_is_valid(value):
            errors.append(
                InvalidInput(
                    "统一社会信用代码无效（校验位不符）", field="counterparty.creditCode", code="INVALID_CREDIT_CODE"
                )
            )
        out["credit_code"] = value or None
    return out


async def _decisions(actor: User, errors: list[DomainError], ids: list[int]) -> list[Decision]:
    found: list[Decision] = []
    for index, pk in enumerate(ids):
        row = await Decision.get_or_none(id=pk)
        if row is None or not await can_see_decision(actor, row):
            errors.append(NotFound("审批决定不存在", field=f"decisionIds.{index}", code="DECISION_NOT_FOUND"))
        else:
            found.append(row)
    return found


async def _target(errors: list[DomainError], data: ActionInput, decisions: list[Decision]) -> int | None:
    """The approval department that issued the affected decisions (one), or the one named."""
    issuers = sorted({d.issuer_id for d in decisions})
    if len(issuers) > 1:
        errors.append(InvalidInput("所涉审批决定须由同一审批部门作出", field="decisionIds", code="SEVERAL_ISSUERS"))
        return None
    if data.approval_department_id is not None:
        dept = await Department.get_or_none(id=data.approval_department_id)
        if dept is None or dept.kind is not DepartmentKind.APPROVAL:
            errors.append(NotFound("审批部门不存在", field="approvalDepartmentId", code="DEPARTMENT_NOT_FOUND"))
            return None
        if issuers and issuers[0] != dept.id:
            errors.append(
                InvalidInput(
                    "推送对象须为作出该审批决定的审批部门", field="approvalDepartmentId", code="NOT_THE_ISSUER"
                )
            )
            return None
        return dept.id
    if not issuers:
        errors.append(
            InvalidInput("未关联平台上的审批决定时，须指定审批部门", field="approvalDepartmentId", code="REQUIRED")
        )
        return None
    return issuers[0]


async def record_action(actor: User, data: ActionInput, *, now: datetime) -> SupervisionAction:
    """Art. 21 (1): record a supervision action; its push is due 7 working days after the penalty date."""
    await _supervision_handler(actor)
    errors: list[DomainError] = []
    number = _text(errors, data.penalty_document_number, "penaltyDocumentNumber", 64)
    content = _text(errors, data.content, "content", 20000)
    if data.penalty_decided_on > local_date(now):
        errors.append(InvalidInput("处罚决定日期不能晚于今天", field="penaltyDecidedOn", code="DATE_IN_FUTURE"))
    wanted = list(dict.fromkeys(data.decision_ids))
    decisions = await _decisions(actor, errors, wanted)
    if len(decisions) < len(wanted):
        raise_all(errors)  # who the action concerns follows from the decisions: nothing more to check
    identity = _check_identity(errors, data, decisions)
    target = await _target(errors, data, decisions)
    raise_all(errors)
    assert target is not None
    calendar = await current_calendar()
    try:
        due = calendar.add_working_days(data.penalty_decided_on, PUSH_WORKING_DAYS)
    except ValueError:
        raise InvalidInput("处罚决定日期超出日历范围", field="penaltyDecidedOn", code="DATE_OUT_OF_RANGE") from None
    row = await SupervisionAction.create(
        department_id=actor.department_id,
        kind=data.kind,
        penalty_document_number=number,
        penalty_decided_on=data.penalty_decided_on,
        push_due_on=due,
        target_department_id=target,
        affects_licence=data.affects_licence,
        content=content,
        created_by_id=actor.id,
        created_at=now,
        **identity,
    )
    if decisions:
        await row.decisions.add(*decisions)
    await attach_evidence(actor, data.evidence_file_ids, SUBJECT, row.id, field="evidenceFileIds")
    return row


async def _own_action(actor: User, action_id: int) -> SupervisionAction:
    row = await SupervisionAction.get_or_none(id=action_id)
    if row is None or not can_see_action(actor, row):
        raise NotFound("监管信息不存在", field="id", code="ACTION_NOT_FOUND")
    if row.department_id != actor.department_id:
        raise Forbidden("只有录入该监管信息的部门可以推送", field="id")
    if not actor.has_role(*HANDLER_ROLES):
        raise Forbidden("只有监管部门的经办人或联络员可以推送监管信息", field="id")
    if row.status not in (ActionStatus.RECORDED, ActionStatus.RETURNED):
        raise InvalidTransition("该监管信息已推送，不能重复推送", field="id", code="ALREADY_PUSHED")
    return row


async def _retarget(row: SupervisionAction, department_id: int | None) -> None:
    """After a return the supervision department may name another approval department."""
    if department_id is None or department_id == row.target_department_id:
        return
    dept = await Department.get_or_none(id=department_id)
    if dept is None or dept.kind is not DepartmentKind.APPROVAL:
        raise NotFound("审批部门不存在", field="approvalDepartmentId", code="DEPARTMENT_NOT_FOUND")
    if await row.decisions.all().exists():
        raise InvalidInput(
            "关联了审批决定的监管信息只能推送给作出决定的审批部门",
            field="approvalDepartmentId",
            code="NOT_THE_ISSUER",
        )
    row.target_department_id = dept.id


async def _push(
    actor: User, row: SupervisionAction, *, now: datetime, pushed_on: date, changes: dict[str, Any]
) -> SupervisionAction:
    """Mark pushed (conditionally), open the approval department's claim obligation, tell both sides."""
    late = pushed_on > row.push_due_on
    history = list(row.previous_pushes)
    if row.status is ActionStatus.RETURNED:
        history.append(_returned_push(row))
    values: dict[str, Any] = {
        "status": ActionStatus.PENDING,
        "pushed_at": now,
        "pushed_on": pushed_on,
        "pushed_by_id": actor.id,
        "pushed_late": late,
        "target_department_id": row.target_department_id,
        "claimed_at": None,
        "claimed_by_id": None,
        "claimed_late": False,
        "returned_at": None,
        "returned_by_id": None,
        "return_reason": None,
        "previous_pushes": history,
        **changes,
    }
    updated = await SupervisionAction.filter(id=row.id, status=row.status).update(**values)
    if not updated:
        raise InvalidTransition("该监管信息已推送，不能重复推送", field="id", code="ALREADY_PUSHED")
    for name, value in values.items():
        setattr(row, name, value)
    obligation = await open_obligation(
        PENALTY_CLAIM.kind,
        subject_type=SUBJECT,
        subject_id=row.id,
        department_id=row.target_department_id,
        watchers=[row.department_id],
        start=now,
    )
    await record_event(
        EventKind.SUPERVISION_ACTION_PUSHED,
        subject_type=SUBJECT,
        subject_id=row.id,
        departments=[row.target_department_id, row.department_id],
        payload={
            "actionId": row.id,
            "late": late,
            "pushDueOn": row.push_due_on.isoformat(),
            "channel": str(row.channel),
            **obligation.payload(),
        },
    )
    return row


def _returned_push(row: SupervisionAction) -> dict[str, Any]:
    """The push being replaced, kept for the record (and the decision's timeline)."""
    assert row.pushed_at is not None and row.returned_at is not None and row.pushed_on is not None
    return {
        "targetDepartmentId": row.target_department_id,
        "channel": str(row.channel),
        "offlineChannel": str(row.offline_channel) if row.offline_channel else None,
        "offlineReference": row.offline_reference,
        "pushedAt": row.pushed_at.isoformat(),
        "pushedOn": row.pushed_on.isoformat(),
        "pushedById": row.pushed_by_id,
        "pushedLate": row.pushed_late,
        "returnedAt": row.returned_at.isoformat(),
        "returnedById": row.returned_by_id,
        "returnReason": row.return_reason,
    }


async def push_action(
    actor: User, action_id: int, *, now: datetime, approval_department_id: int | None = None
) -> SupervisionAction:
    """Art. 21 (1): push the action through the platform; after its push_due_on it is recorded late."""
    row = await _own_action(actor, action_id)
    await _retarget(row, approval_department_id)
    changes = {"channel": Channel.PLATFORM, "offline_channel": None, "offline_reference": None}
    return await _push(actor, row, now=now, pushed_on=local_date(now), changes=changes)


async def record_offline_push(
    actor: User,
    action_id: int,
    *,
    channel: OfflineChannel,
    reference: str,
    pushed_on: date,
    now: datetime,
    approval_department_id: int | None = None,
) -> SupervisionAction:
    """Art. 21: the platform could not be used; the push made offline counts as made on its own date.

    The approval department still claims the record on the platform, within 3 working days of the
    moment it appears there.
    """
    row = await _own_action(actor, action_id)
    errors: list[DomainError] = []
    ref = _text(errors, reference, "reference", 128)
    if pushed_on > local_date(now):
        errors.append(InvalidInput("线下推送日期不能晚于今天", field="pushedOn", code="DATE_IN_FUTURE"))
    if pushed_on < row.penalty_decided_on:
        errors.append(InvalidInput("线下推送日期不能早于处罚决定日期", field="pushedOn", code="BEFORE_PENALTY"))
    raise_all(errors)
    await _retarget(row, approval_department_id)
    changes = {"channel": Channel.OFFLINE, "offline_channel": channel, "offline_reference": ref}
    return await _push(actor, row, now=now, pushed_on=pushed_on, changes=changes)


async def _received_action(actor: User, action_id: int) -> SupervisionAction:
    row = await SupervisionAction.get_or_none(id=action_id)
    if row is None or row.target_department_id != actor.department_id or row.status is ActionStatus.RECORDED:
        raise NotFound("监管信息不存在", field="id", code="ACTION_NOT_FOUND")
    if not actor.has_role(*HANDLER_ROLES):
        raise Forbidden("只有审批部门的经办人或联络员可以认领或退回", field="id")
    if row.status is not ActionStatus.PENDING:
        raise _settled(row)
    return row


def _settled(row: SupervisionAction) -> InvalidTransition:
    if row.status is ActionStatus.CLAIMED:
        return InvalidTransition("该监管信息已被认领", field="id", code="ALREADY_CLAIMED")
    return InvalidTransition("该监管信息已退回，不能再操作", field="id", code="ALREADY_RETURNED")


async def _settle(
    row: SupervisionAction, to: ActionStatus, kind: EventKind, *, now: datetime, cancel: bool, values: dict[str, Any]
) -> SupervisionAction:
    closed = await close_obligations(
        SUBJECT, row.id, now=now, kind=PENALTY_CLAIM.kind, department_id=row.target_department_id, cancel=cancel
    )
    late = any(o.done_late for o in closed)
    if to is ActionStatus.CLAIMED:
        values["claimed_late"] = late
    if not await SupervisionAction.filter(id=row.id, status=ActionStatus.PENDING).update(status=to, **values):
        await row.refresh_from_db()  # someone settled it meanwhile: say how
        raise _settled(row)
    row.status = to
    for name, value in values.items():
        setattr(row, name, value)
    detail: dict[str, Any] = {"actionId": row.id}
    if to is ActionStatus.CLAIMED:
        detail["late"] = late
    else:
        detail["reason"] = row.return_reason
    await record_event(
        kind,
        subject_type=SUBJECT,
        subject_id=row.id,
        departments=[row.department_id, row.target_department_id],
        payload=detail,
    )
    return row


async def claim_action(actor: User, action_id: int, *, now: datetime) -> SupervisionAction:
    """Art. 21 (2): the approval department claims the pushed action; after 3 working days it is late."""
    row = await _received_action(actor, action_id)
    return await _settle(
        row,
        ActionStatus.CLAIMED,
        EventKind.SUPERVISION_ACTION_CLAIMED,
        now=now,
        cancel=False,
        values={"claimed_at": now, "claimed_by_id": actor.id},
    )


async def return_action(actor: User, action_id: int, reason: str, *, now: datetime) -> SupervisionAction:
    """Art. 21 (2): "not ours", with a reason; the claim obligation falls away."""
    reason = check_length(reason, "reason", 500)
    row = await _received_action(actor, action_id)
    return await _settle(
        row,
        ActionStatus.RETURNED,
        EventKind.SUPERVISION_ACTION_RETURNED,
        now=now,
        cancel=True,
        values={"returned_at": now, "returned_by_id": actor.id, "return_reason": reason},
    )
