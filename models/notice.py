"""Formal notices (函告) and dispositions of decisions (Art. 21 (3), 34), and expiry.

A supervision department sends the approval department a notice asking it to amend, withdraw,
revoke or cancel a decision (or stating that the decision must not be changed), with reasons and
evidence. The approval department reviews it (RECEIVED → UNDER_REVIEW → optionally MEETING_SCHEDULED
→ DECIDED) and replies within a term of working days (an obligation of kind NOTICE_REPLY). On
acceptance the decision's status changes and every department concerned is told. The approval
department may also change a decision itself, and when a penalty is due it sends a notice the other
way (Art. 34), tracked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.account import Department, User, check_length
from models.calendar import SHANGHAI, local_date
from models.decision import IN_FORCE, Decision, DecisionPush, transition
from models.enums import DecisionStatus, DepartmentKind, Role
from models.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound, raise_all
from models.event import EventKind, record_event
from models.files import attach_evidence
from models.obligation import close_obligations, obligation_kind, open_obligation
from models.visibility import can_see_decision

NOTICE_REPLY = obligation_kind("NOTICE_REPLY", "答复函告", 10)
HANDLER_ROLES = (Role.OFFICER, Role.LIAISON)
SUBJECT = "Notice"
EXPIRY_BATCH = 200


class NoticeDirection(StrEnum):
    TO_APPROVAL = "TO_APPROVAL"  # Art. 21 (3): supervision → approval
    TO_SUPERVISION = "TO_SUPERVISION"  # Art. 34: approval → supervision, a penalty is due


class NoticeKind(StrEnum):
    AMEND = "AMEND"  # 变更
    WITHDRAW = "WITHDRAW"  # 撤回
    REVOKE = "REVOKE"  # 撤销
    CANCEL = "CANCEL"  # 注销
    NOT_CHANGE = "NOT_CHANGE"  # 不得变更、撤回、撤销、注销
    PENALTY = "PENALTY"  # Art. 34: a penalty is due


class NoticeStatus(StrEnum):
    RECEIVED = "RECEIVED"
    UNDER_REVIEW = "UNDER_REVIEW"
    MEETING_SCHEDULED = "MEETING_SCHEDULED"
    DECIDED = "DECIDED"


class NoticeOutcome(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


# The reply term per notice kind, in working days (documented in README.md). A notice asking for a
# disposition or stating the decision must not change gets the general 10 days.
REPLY_WORKING_DAYS: dict[NoticeKind, int] = {
    NoticeKind.AMEND: 10,
    NoticeKind.WITHDRAW: 10,
    NoticeKind.REVOKE: 10,
    NoticeKind.CANCEL: 10,
    NoticeKind.NOT_CHANGE: 10,
    NoticeKind.PENALTY: 10,
}
KINDS_OF: dict[NoticeDirection, frozenset[NoticeKind]] = {
    NoticeDirection.TO_APPROVAL: frozenset(
        {NoticeKind.AMEND, NoticeKind.WITHDRAW, NoticeKind.REVOKE, NoticeKind.CANCEL, NoticeKind.NOT_CHANGE}
    ),
    NoticeDirection.TO_SUPERVISION: frozenset({NoticeKind.PENALTY}),
}
DISPOSITION_OF: dict[NoticeKind, DecisionStatus] = {
    NoticeKind.AMEND: DecisionStatus.AMENDED,
    NoticeKind.WITHDRAW: DecisionStatus.WITHDRAWN,
    NoticeKind.REVOKE: DecisionStatus.REVOKED,
    NoticeKind.CANCEL: DecisionStatus.CANCELLED,
}
NOTICE_STEPS: dict[NoticeStatus, frozenset[NoticeStatus]] = {
    NoticeStatus.RECEIVED: frozenset({NoticeStatus.UNDER_REVIEW}),
    NoticeStatus.UNDER_REVIEW: frozenset({NoticeStatus.MEETING_SCHEDULED, NoticeStatus.DECIDED}),
    NoticeStatus.MEETING_SCHEDULED: frozenset({NoticeStatus.DECIDED}),
    NoticeStatus.DECIDED: frozenset(),
}


class Notice(Model):
    """A formal notice between an approval and a supervision department about one decision. Never deleted."""

    id = fields.BigIntField(primary_key=True)
    direction = fields.CharEnumField(NoticeDirection, max_length=16)
    kind = fields.CharEnumField(NoticeKind, max_length=16)
    status = fields.CharEnumField(NoticeStatus, max_length=20, default=NoticeStatus.RECEIVED)
    decision: fields.ForeignKeyRelation[Decision] = fields.ForeignKeyField(
        "shenguan.Decision", related_name="notices", on_delete=fields.RESTRICT
    )
    decision_id: int
    sender_department_id = fields.IntField()
    recipient_department_id = fields.IntField()
    document_number = fields.CharField(max_length=64, null=True)
    reasons = fields.TextField()
    reply_working_days = fields.IntField()
    sent_at = fields.DatetimeField()
    sent_by_id = fields.IntField()
    review_started_at = fields.DatetimeField(null=True)
    review_started_by_id = fields.IntField(null=True)
    meeting_at = fields.DatetimeField(null=True)
    meeting_place = fields.CharField(max_length=200, null=True)
    meeting_scheduled_at = fields.DatetimeField(null=True)
    meeting_scheduled_by_id = fields.IntField(null=True)
    outcome = fields.CharEnumField(NoticeOutcome, max_length=16, null=True)
    outcome_reasons = fields.TextField(null=True)
    decided_at = fields.DatetimeField(null=True)
    decided_by_id = fields.IntField(null=True)
    replied_late = fields.BooleanField(default=False)

    class Meta:
        table = "notice"
        indexes = (("sender_department_id", "id"), ("recipient_department_id", "id"), ("decision_id",))


class DecisionStatusChange(Model):
    """One change of a decision's status, with the disposition document (or the expiry). Never deleted."""

    id = fields.BigIntField(primary_key=True)
    decision: fields.ForeignKeyRelation[Decision] = fields.ForeignKeyField(
        "shenguan.Decision", related_name="status_changes", on_delete=fields.RESTRICT
    )
    decision_id: int
    from_status = fields.CharEnumField(DecisionStatus, max_length=16)
    to_status = fields.CharEnumField(DecisionStatus, max_length=16)
    document_number = fields.CharField(max_length=64, null=True)
    decided_on = fields.DateField()
    reason = fields.TextField(null=True)
    notice_id = fields.BigIntField(null=True)
    actor_id = fields.IntField(null=True)  # None: the platform itself (expiry)
    department_id = fields.IntField()
    at = fields.DatetimeField()

    class Meta:
        table = "decision_status_change"
        indexes = (("decision_id", "id"),)


@dataclass
class NoticeInput:
    decision_id: int
    kind: NoticeKind
    reasons: str
    recipient_department_id: int | None = None
    document_number: str | None = None
    evidence_file_ids: list[int] = field(default_factory=list)


@dataclass
class Disposition:
    """The disposition document of a status change (处置文书)."""

    document_number: str
    decided_on: date
    reason: str | None = None


def can_see_notice(viewer: User, row: Notice) -> bool:
    """The sending and the receiving department (and administrators)."""
    return viewer.is_admin or viewer.department_id in (row.sender_department_id, row.recipient_department_id)


def _check(errors: list[DomainError], value: str | None, name: str, limit: int, required: bool = True) -> str:
    try:
        return check_length(value or "", name, limit, required=required)
    except DomainError as error:
        errors.append(error)
        return ""


async def _handler(actor: User) -> Department:
    if not actor.has_role(*HANDLER_ROLES):
        raise Forbidden("只有经办人或联络员可以处理函告", field=None)
    return await Department.get(id=actor.department_id)


async def _recipient(errors: list[DomainError], sender: Department, data: NoticeInput, decision: Decision) -> int:
    """Art. 21 (3): to the issuer of the decision. Art. 34: to the supervision department named."""
    if sender.kind is DepartmentKind.SUPERVISION:
        if data.recipient_department_id not in (None, decision.issuer_id):
            errors.append(
                InvalidInput("函告须发给作出该决定的审批部门", field="recipientDepartmentId", code="NOT_THE_ISSUER")
            )
        return decision.issuer_id
    if data.recipient_department_id is None:
        errors.append(InvalidInput("请指定接收函告的监管部门", field="recipientDepartmentId", code="REQUIRED"))
        return 0
    target = await Department.get_or_none(id=data.recipient_department_id)
    if target is None or target.kind is not DepartmentKind.SUPERVISION:
        errors.append(NotFound("监管部门不存在", field="recipientDepartmentId", code="DEPARTMENT_NOT_FOUND"))
        return 0
    return target.id


async def send_notice(actor: User, data: NoticeInput, *, now: datetime) -> Notice:
    """Send a formal notice about a decision; the recipient must reply within the kind's term."""
    sender = await _handler(actor)
    direction = (
        NoticeDirection.TO_APPROVAL if sender.kind is DepartmentKind.SUPERVISION else NoticeDirection.TO_SUPERVISION
    )
    errors: list[DomainError] = []
    decision = await Decision.get_or_none(id=data.decision_id)
    if decision is None or not await can_see_decision(actor, decision):
        raise NotFound("审批决定不存在", field="decisionId", code="DECISION_NOT_FOUND")
    if direction is NoticeDirection.TO_SUPERVISION and decision.issuer_id != sender.id:
        raise NotFound("审批决定不存在", field="decisionId", code="DECISION_NOT_FOUND")
    if data.kind not in KINDS_OF[direction]:
        errors.append(InvalidInput("该方向的函告不能用此类型", field="kind", code="KIND_NOT_ALLOWED"))
    elif direction is NoticeDirection.TO_APPROVAL and decision.status not in IN_FORCE:
        errors.append(
            InvalidTransition("该审批决定已失效，不能再函告处置", field="decisionId", code="ILLEGAL_TRANSITION")
        )
    reasons = _check(errors, data.reasons, "reasons", 20000)
    number = _check(errors, data.document_number, "documentNumber", 64, required=False) or None
    recipient = await _recipient(errors, sender, data, decision)
    raise_all(errors)
    days = REPLY_WORKING_DAYS[data.kind]
    row = await Notice.create(
        direction=direction,
        kind=data.kind,
        decision_id=decision.id,
        sender_department_id=sender.id,
        recipient_department_id=recipient,
        document_number=number,
        reasons=reasons,
        reply_working_days=days,
        sent_at=now,
        sent_by_id=actor.id,
    )
    await attach_evidence(actor, data.evidence_file_ids, SUBJECT, row.id, field="evidenceFileIds")
    obligation = await open_obligation(
        NOTICE_REPLY.kind,
        subject_type=SUBJECT,
        subject_id=row.id,
        department_id=recipient,
        watchers=[sender.id],
        start=now,
        working_days=days,
    )
    await _tell(row, EventKind.NOTICE_SENT, {"kind": row.kind.value, **obligation.payload()})
    return row


async def _tell(row: Notice, kind: EventKind, detail: dict[str, Any]) -> None:
    await record_event(
        kind,
        subject_type=SUBJECT,
        subject_id=row.id,
        departments=[row.sender_department_id, row.recipient_department_id],
        payload={"noticeId": row.id, "decisionId": row.decision_id, "status": row.status.value, **detail},
    )


async def _received(actor: User, notice_id: int) -> Notice:
    await _handler(actor)
    row = await Notice.get_or_none(id=notice_id)
    if row is None or not can_see_notice(actor, row):
        raise NotFound("函告不存在", field="id", code="NOTICE_NOT_FOUND")
    if row.recipient_department_id != actor.department_id:
        raise Forbidden("只有接收函告的部门可以办理", field="id")
    return row


async def _step(row: Notice, to: NoticeStatus, values: dict[str, Any]) -> Notice:
    if to not in NOTICE_STEPS[row.status]:
        raise InvalidTransition(
            f"函告当前状态为 {row.status.value}，不能改为 {to.value}", field="id", code="ILLEGAL_TRANSITION"
        )
    if not await Notice.filter(id=row.id, status=row.status).update(status=to, **values):
        raise InvalidTransition("函告状态已被他人改变，请刷新后重试", field="id", code="ILLEGAL_TRANSITION")
    row.status = to
    for name, value in values.items():
        setattr(row, name, value)
    return row


async def start_review(actor: User, notice_id: int, *, now: datetime) -> Notice:
    """The recipient starts reviewing the notice."""
    row = await _step(
        await _received(actor, notice_id),
        NoticeStatus.UNDER_REVIEW,
        {"review_started_at": now, "review_started_by_id": actor.id},
    )
    await _tell(row, EventKind.NOTICE_STATUS_CHANGED, {})
    return row


async def schedule_meeting(actor: User, notice_id: int, *, meeting_at: datetime, place: str, now: datetime) -> Notice:
    """Art. 21 (3): the recipient holds a special meeting on the notice before deciding."""
    errors: list[DomainError] = []
    where = _check(errors, place, "place", 200)
    if meeting_at.tzinfo is None:  # a time without offset is Beijing time
        meeting_at = meeting_at.replace(tzinfo=SHANGHAI)
    if meeting_at < now:
        errors.append(InvalidInput("会议时间不能早于现在", field="meetingAt", code="DATE_IN_PAST"))
    row = await _received(actor, notice_id)
    raise_all(errors)
    row = await _step(
        row,
        NoticeStatus.MEETING_SCHEDULED,
        {
            "meeting_at": meeting_at,
            "meeting_place": where,
            "meeting_scheduled_at": now,
            "meeting_scheduled_by_id": actor.id,
        },
    )
    await _tell(row, EventKind.NOTICE_STATUS_CHANGED, {"meetingAt": meeting_at.isoformat()})
    return row


def _check_disposition(errors: list[DomainError], disposition: Disposition | None, today: date) -> Disposition | None:
    if disposition is None:
        errors.append(InvalidInput("接受处置时须填写处置文书编号和日期", field="disposition", code="REQUIRED"))
        return None
    number = _check(errors, disposition.document_number, "disposition.documentNumber", 64)
    reason = _check(errors, disposition.reason, "disposition.reason", 2000, required=False) or None
    if disposition.decided_on > today:
        errors.append(InvalidInput("处置日期不能晚于今天", field="disposition.decidedOn", code="DATE_IN_FUTURE"))
    return Disposition(document_number=number, decided_on=disposition.decided_on, reason=reason)


async def decide_notice(
    actor: User,
    notice_id: int,
    *,
    outcome: NoticeOutcome,
    reasons: str,
    disposition: Disposition | None,
    now: datetime,
) -> Notice:
    """Decide on the notice; an accepted disposition changes the decision's status at once."""
    errors: list[DomainError] = []
    why = _check(errors, reasons, "reasons", 20000)
    row = await _received(actor, notice_id)
    target = DISPOSITION_OF.get(row.kind) if outcome is NoticeOutcome.ACCEPTED else None
    checked = _check_disposition(errors, disposition, local_date(now)) if target else None
    raise_all(errors)
    closed = await close_obligations(SUBJECT, row.id, now=now, kind=NOTICE_REPLY.kind)
    late = any(o.done_late for o in closed)
    row = await _step(
        row,
        NoticeStatus.DECIDED,
        {
            "outcome": outcome,
            "outcome_reasons": why,
            "decided_at": now,
            "decided_by_id": actor.id,
            "replied_late": late,
        },
    )
    if target is not None and checked is not None:
        decision = await Decision.get(id=row.decision_id)
        await change_status(actor, decision, target, checked, now=now, notice=row, field="outcome")
    await _tell(row, EventKind.NOTICE_DECIDED, {"outcome": outcome.value, "late": late})
    return row


async def _audience(decision: Decision, *extra: int) -> list[int]:
    """The issuer, every department the decision was pushed to, and any other party named."""
    received = await DecisionPush.filter(decision_id=decision.id).values_list("department_id", flat=True)
    return sorted({decision.issuer_id, *[int(d) for d in received], *extra})  # type: ignore[call-overload]


async def change_status(
    actor: User | None,
    decision: Decision,
    to: DecisionStatus,
    disposition: Disposition,
    *,
    now: datetime,
    notice: Notice | None = None,
    field: str = "status",
) -> DecisionStatusChange:
    """Move the decision along its state machine, keep the change, and tell every department concerned."""
    was = transition(decision, to, field=field)
    if not await Decision.filter(id=decision.id, status=was).update(status=to):
        raise InvalidTransition("审批决定状态已被他人改变，请刷新后重试", field=field, code="ILLEGAL_TRANSITION")
    decision.status = to
    change = await DecisionStatusChange.create(
        decision_id=decision.id,
        from_status=was,
        to_status=to,
        document_number=disposition.document_number or None,
        decided_on=disposition.decided_on,
        reason=disposition.reason,
        notice_id=notice.id if notice else None,
        actor_id=actor.id if actor else None,
        department_id=decision.issuer_id,
        at=now,
    )
    notifier = [notice.sender_department_id] if notice else []
    await record_event(
        EventKind.DECISION_STATUS_CHANGED,
        subject_type="ApprovalDecision",
        subject_id=decision.id,
        departments=await _audience(decision, *notifier),
        payload={
            "decisionId": decision.id,
            "from": was.value,
            "to": to.value,
            "documentNumber": change.document_number,
            "decidedOn": disposition.decided_on.isoformat(),
        },
    )
    return change


async def dispose_decision(
    actor: User, decision_id: int, to: DecisionStatus, disposition: Disposition, *, now: datetime
) -> Decision:
    """Art. 21 (3): the issuing department amends, withdraws, revokes or cancels a decision itself."""
    await _handler(actor)
    decision = await Decision.get_or_none(id=decision_id)
    if decision is None or not await can_see_decision(actor, decision):
        raise NotFound("审批决定不存在", field="decisionId", code="DECISION_NOT_FOUND")
    if decision.issuer_id != actor.department_id:
        raise Forbidden("只有作出该决定的审批部门可以处置", field="decisionId")
    errors: list[DomainError] = []
    if to is DecisionStatus.EXPIRED or to is DecisionStatus.VALID:
        errors.append(InvalidTransition("只能变更、撤回、撤销或注销", field="status", code="ILLEGAL_TRANSITION"))
    checked = _check_disposition(errors, disposition, local_date(now))
    raise_all(errors)
    assert checked is not None
    await change_status(actor, decision, to, checked, now=now)
    return decision


async def expire_decisions(now: datetime, *, batch: int | None = None) -> int:
    """Decisions in force past their valid_until become EXPIRED; their supervisors are told.

    Idempotent: only decisions still in force are picked, and each moves by a conditional update.
    One batch per call: the caller commits between batches and calls again until it returns 0.
    """
    today = local_date(now)
    size = batch or EXPIRY_BATCH
    rows = await Decision.filter(status__in=list(IN_FORCE), valid_until__lt=today).order_by("id").limit(size)
    moved = 0
    for decision in rows:
        assert decision.valid_until is not None
        try:
            await change_status(
                None,
                decision,
                DecisionStatus.EXPIRED,
                Disposition(document_number="", decided_on=today, reason="有效期届满"),
                now=now,
            )
        except InvalidTransition:
            continue  # changed meanwhile by someone else
        moved += 1
    return moved
