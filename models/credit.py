"""Art. 24: the result of a verification, what follows a false commitment, and credit records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.account import Department, User, check_length
from models.calendar import current_calendar, local_date
from models.commitment import ACTING_ROLES, VERIFICATION, VerificationTask, check_verifier, visible_verification
from models.crypto import SealedField, lookup_hash, lookup_hashes
from models.decision import Decision, DecisionPush
from models.enums import (
    CommitmentOutcomeKind,
    CounterpartyKind,
    DepartmentKind,
    OutcomeStatus,
    PushStatus,
    Role,
    VerificationResult,
    VerificationStatus,
)
from models.errors import DomainError, Forbidden, InvalidInput, NotFound, raise_all
from models.event import EventKind, record_event
from models.files import attach_evidence
from models.identifiers import (
    citizen_id_is_valid,
    credit_code_is_valid,
    normalize_citizen_id,
    normalize_credit_code,
)
from models.obligation import close_obligations, obligation_kind, open_obligation

RECTIFICATION = obligation_kind("RECTIFICATION", "限期整改", 10)
CREDIT_ROLES = (Role.ADMIN, Role.LIAISON, Role.OFFICER, Role.LEADER)
MAX_RECTIFY_DAYS = 60


class CommitmentOutcome(Model):
    """What follows a false commitment: terminate, rectify by a date, revoke, or a penalty. Never deleted."""

    id = fields.BigIntField(primary_key=True)
    verification_id = fields.BigIntField(db_index=True)
    decision_id = fields.BigIntField()
    issuer_id = fields.IntField()
    verifier_id = fields.IntField()
    department_id = fields.IntField(db_index=True)
    kind = fields.CharEnumField(CommitmentOutcomeKind, max_length=16)
    status = fields.CharEnumField(OutcomeStatus, max_length=16, default=OutcomeStatus.REQUESTED)
    note = fields.TextField()
    rectify_by = fields.DateField(null=True)
    done_at = fields.DatetimeField(null=True)
    done_note = fields.TextField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "commitment_outcome"


class CreditRecord(Model):
    """A false commitment on the record of a counterparty (信用记录), found by its lookup key. Never deleted."""

    id = fields.BigIntField(primary_key=True)
    lookup_key = fields.CharField(max_length=80, db_index=True)
    counterparty_name = fields.CharField(max_length=128)
    counterparty_kind = fields.CharEnumField(CounterpartyKind, max_length=16)
    id_number = SealedField("credit_record.id_number", null=True)  # PIPL: stored sealed
    credit_code = fields.CharField(max_length=18, null=True)
    decision_id = fields.BigIntField()
    verification_id = fields.BigIntField()
    issuer_id = fields.IntField()
    recorded_by_department_id = fields.IntField()
    reason = fields.TextField()
    referred_to_judiciary = fields.BooleanField(default=False)
    referral_reference = fields.CharField(max_length=64, null=True)
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "credit_record"


def person_key(id_number: str) -> str:
    """A citizen ID number only as a keyed digest (the data key's lookup hash), so the index holds no
    personal data and a guessed number cannot be confirmed without the key. Re-keyed by rotate-data-key."""
    return "ID:" + lookup_hash(normalize_citizen_id(id_number))


def person_keys(id_number: str) -> list[str]:
    """The keys a citizen ID number may be stored under: one per data key, while a rotation runs."""
    return ["ID:" + h for h in lookup_hashes(normalize_citizen_id(id_number))]


def organization_key(credit_code: str) -> str:
    return "USCC:" + normalize_credit_code(credit_code)


def decision_key(decision: Decision) -> str:
    if decision.counterparty_kind is CounterpartyKind.PERSON:
        return person_key(decision.id_number or "")
    return organization_key(decision.credit_code or "")


def keys_of(identifier: str) -> list[str]:
    """The lookup keys an identifier may stand for (an 18-digit value can pass both checksums)."""
    keys = []
    if credit_code_is_valid(normalize_credit_code(identifier)):
        keys.append(organization_key(identifier))
    if citizen_id_is_valid(normalize_citizen_id(identifier)):
        keys.extend(person_keys(identifier))
    return keys


@dataclass
class OutcomeInput:
    kind: CommitmentOutcomeKind
    note: str
    rectify_by: date | None = None
    department_id: int | None = None


@dataclass
class ResultInput:
    result: VerificationResult
    note: str
    outcomes: list[OutcomeInput]
    referred_to_judiciary: bool = False
    referral_reference: str | None = None
    evidence_file_ids: list[int] = field(default_factory=list)


async def _check_outcomes(errors: list[DomainError], data: ResultInput, today: date) -> list[OutcomeInput]:
    if data.result is VerificationResult.TRUE:
        if data.outcomes:
            errors.append(InvalidInput("承诺属实时不能作出处理", field="outcomes", code="OUTCOMES_FOR_TRUE"))
        if data.referred_to_judiciary:
            message = "承诺属实时不能移送司法机关"
            errors.append(InvalidInput(message, field="referredToJudiciary", code="REFERRAL_FOR_TRUE"))
        return []
    if not data.outcomes:
        errors.append(InvalidInput("承诺不实须至少作出一项处理", field="outcomes", code="REQUIRED"))
    calendar = await current_calendar()
    cleaned: list[OutcomeInput] = []
    seen: set[CommitmentOutcomeKind] = set()
    for i, o in enumerate(data.outcomes):
        at = f"outcomes.{i}"
        if o.kind in seen:
            errors.append(InvalidInput("处理方式重复", field=f"{at}.kind", code="DUPLICATE_OUTCOME"))
        seen.add(o.kind)
        try:
            note = check_length(o.note, f"{at}.note", 2000)
        except DomainError as e:
            errors.append(e)
            note = ""
        if o.kind is CommitmentOutcomeKind.RECTIFY:
            days = calendar.working_days_between(today, o.rectify_by) if o.rectify_by else 0
            if o.rectify_by is None or not 1 <= days <= MAX_RECTIFY_DAYS:
                message = f"整改期限须在今天之后的{MAX_RECTIFY_DAYS}个工作日之内"
                errors.append(InvalidInput(message, field=f"{at}.rectifyBy", code="INVALID_RECTIFY_BY"))
        if o.kind is CommitmentOutcomeKind.PENALTY:
            dept = await Department.get_or_none(id=o.department_id) if o.department_id else None
            if dept is None or dept.kind is not DepartmentKind.SUPERVISION:
                message = "行政处罚须指定监管部门"
                errors.append(InvalidInput(message, field=f"{at}.departmentId", code="SUPERVISION_DEPARTMENT_REQUIRED"))
        cleaned.append(OutcomeInput(kind=o.kind, note=note, rectify_by=o.rectify_by, department_id=o.department_id))
    return cleaned


def _check_referral(errors: list[DomainError], data: ResultInput) -> str | None:
    if not data.referred_to_judiciary:
        return None
    try:
        return check_length(data.referral_reference or "", "referralReference", 64)
    except DomainError as e:
        errors.append(e)
        return None


async def record_verification_result(actor: User, pk: int, data: ResultInput, *, now: datetime) -> VerificationTask:
    """Art. 24: the verifier records TRUE or FALSE; a false commitment brings outcomes and a credit record."""
    task = await visible_verification(actor, pk)
    check_verifier(actor, task)
    errors: list[DomainError] = []
    try:
        note = check_length(data.note, "note", 5000)
    except DomainError as e:
        errors.append(e)
        note = ""
    outcomes = await _check_outcomes(errors, data, local_date(now))
    reference = _check_referral(errors, data)
    raise_all(errors)
    changes = {
        "status": VerificationStatus.DONE,
        "result": data.result,
        "note": note,
        "recorded_at": now,
        "recorded_by_id": actor.id,
    }
    # Conditional: of two concurrent results only one lands, so one credit record per verification.
    if not await VerificationTask.filter(id=task.id, status=VerificationStatus.OPEN).update(**changes):
        raise InvalidInput("该核查任务已办结或免于核查", field="id", code="VERIFICATION_NOT_OPEN")
    task.update_from_dict(changes)
    await attach_evidence(actor, data.evidence_file_ids, "VerificationTask", task.id, field="evidenceFileIds")
    closed = await close_obligations("VerificationTask", task.id, now=now, kind=VERIFICATION.kind)
    decision = await Decision.get(id=task.decision_id)
    audience = [task.department_id, task.issuer_id, *await _supervisors(decision.id)]
    await record_event(
        EventKind.VERIFICATION_RECORDED,
        subject_type="VerificationTask",
        subject_id=task.id,
        departments=audience,
        payload={"verificationId": task.id, "result": data.result.value, "late": any(o.done_late for o in closed)},
    )
    if data.result is VerificationResult.FALSE:
        for o in outcomes:
            await _open_outcome(task, o, now)
        await _record_credit(task, decision, note, reference, audience, now)
    return task


async def _supervisors(decision_id: int) -> list[int]:
    rows = (
        await DecisionPush.filter(decision_id=decision_id)
        .exclude(status=PushStatus.RETURNED)
        .values_list("department_id", flat=True)
    )
    return [int(d) for d in rows]  # type: ignore[call-overload]


async def _open_outcome(task: VerificationTask, o: OutcomeInput, now: datetime) -> CommitmentOutcome:
    """TERMINATE and RECTIFY fall to the verifier, REVOKE to the issuer, PENALTY to the named supervision department."""
    acting = {
        CommitmentOutcomeKind.REVOKE: task.issuer_id,
        CommitmentOutcomeKind.PENALTY: o.department_id or task.department_id,
    }.get(o.kind, task.department_id)
    outcome = await CommitmentOutcome.create(
        verification_id=task.id,
        decision_id=task.decision_id,
        issuer_id=task.issuer_id,
        verifier_id=task.department_id,
        department_id=acting,
        kind=o.kind,
        note=o.note,
        rectify_by=o.rectify_by,
        created_at=now,
    )
    payload: dict[str, Any] = {"outcomeId": outcome.id, "kind": o.kind.value, "decisionId": task.decision_id}
    if o.kind is CommitmentOutcomeKind.RECTIFY:
        payload.update(await _owe_rectification(outcome, now))
    if o.kind is CommitmentOutcomeKind.REVOKE:
        payload.update(revocation_request(outcome))
    await record_event(
        EventKind.COMMITMENT_OUTCOME_REQUESTED,
        subject_type="CommitmentOutcome",
        subject_id=outcome.id,
        departments=[acting, task.issuer_id, task.department_id],
        payload=payload,
    )
    return outcome


async def _owe_rectification(outcome: CommitmentOutcome, now: datetime) -> dict[str, Any]:
    assert outcome.rectify_by is not None
    calendar = await current_calendar()
    days = calendar.working_days_between(local_date(now), outcome.rectify_by)
    ob = await open_obligation(
        RECTIFICATION.kind,
        subject_type="CommitmentOutcome",
        subject_id=outcome.id,
        department_id=outcome.department_id,
        watchers=[outcome.issuer_id],
        start=now,
        working_days=days,
        calendar=calendar,
    )
    return ob.payload()


def revocation_request(outcome: CommitmentOutcome) -> dict[str, Any]:
    """Art. 24 → Art. 21 (3): revocation is decided in the disposition flow, which reads REQUESTED REVOKE outcomes.

    Here the request is recorded and the issuing department told; the decision's status is not changed.
    """
    return {"action": "REVOKE", "dispositionPending": True}


async def _record_credit(
    task: VerificationTask, decision: Decision, reason: str, reference: str | None, audience: list[int], now: datetime
) -> CreditRecord:
    record = await CreditRecord.create(
        lookup_key=decision_key(decision),
        counterparty_name=decision.counterparty_name,
        counterparty_kind=decision.counterparty_kind,
        id_number=decision.id_number,
        credit_code=decision.credit_code,
        decision_id=decision.id,
        verification_id=task.id,
        issuer_id=decision.issuer_id,
        recorded_by_department_id=task.department_id,
        reason=reason,
        referred_to_judiciary=reference is not None,
        referral_reference=reference,
        recorded_at=now,
    )
    await record_event(
        EventKind.CREDIT_RECORDED,
        subject_type="CreditRecord",
        subject_id=record.id,
        departments=audience,
        payload={"creditRecordId": record.id, "decisionId": decision.id, "referredToJudiciary": reference is not None},
    )
    return record


def can_see_outcome(viewer: User, row: CommitmentOutcome) -> bool:
    return viewer.is_admin or viewer.department_id in (row.department_id, row.issuer_id, row.verifier_id)


async def complete_outcome(actor: User, pk: int, *, note: str, now: datetime) -> CommitmentOutcome:
    """The acting department reports an outcome carried out (rectified, terminated, penalised, revoked)."""
    row = await CommitmentOutcome.get_or_none(id=pk)
    if row is None or not can_see_outcome(actor, row):
        raise NotFound("处理事项不存在", field="id", code="OUTCOME_NOT_FOUND")
    if actor.department_id != row.department_id or not actor.has_role(*ACTING_ROLES):
        raise Forbidden("只有承办部门可以办结", field="id")
    if row.status is not OutcomeStatus.REQUESTED:
        raise InvalidInput("该处理事项已办结", field="id", code="OUTCOME_ALREADY_DONE")
    changes = {"done_note": check_length(note, "note", 5000), "status": OutcomeStatus.DONE, "done_at": now}
    if not await CommitmentOutcome.filter(id=row.id, status=OutcomeStatus.REQUESTED).update(**changes):
        raise InvalidInput("该处理事项已办结", field="id", code="OUTCOME_ALREADY_DONE")
    row.update_from_dict(changes)
    closed = await close_obligations("CommitmentOutcome", row.id, now=now)
    await record_event(
        EventKind.COMMITMENT_OUTCOME_DONE,
        subject_type="CommitmentOutcome",
        subject_id=row.id,
        departments=[row.department_id, row.issuer_id, row.verifier_id],
        payload={"outcomeId": row.id, "kind": row.kind.value, "late": any(o.done_late for o in closed)},
    )
    return row


def may_read_credit(viewer: User) -> bool:
    return viewer.has_role(*CREDIT_ROLES)


def credit_records(viewer: User, counterparty: str | None) -> QuerySet[CreditRecord]:
    """By counterparty (USCC or citizen ID): every record, for credit sanctions across departments.

    Without one: what the viewer's department recorded or issued (all, for admins).
    """
    if counterparty is not None:
        keys = keys_of(counterparty)
        if not keys:
            message = "须为有效的统一社会信用代码或公民身份证号码"
            raise InvalidInput(message, field="counterparty", code="INVALID_IDENTIFIER")
        return CreditRecord.filter(lookup_key__in=keys)
    if viewer.is_admin:
        return CreditRecord.all()
    dept = viewer.department_id
    return CreditRecord.filter(Q(recorded_by_department_id=dept) | Q(issuer_id=dept))


def can_see_credit(viewer: User, row: CreditRecord) -> bool:
    return viewer.is_admin or (
        may_read_credit(viewer) and viewer.department_id in (row.recorded_by_department_id, row.issuer_id)
    )
