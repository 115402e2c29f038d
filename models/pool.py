"""Art. 22: the approval department's expert pool and agency pool, fed by supervision departments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.account import PHONE_RE, Department, User, check_length
from models.crypto import SealedField, is_sealed, open_sealed, seal
from models.enums import DepartmentKind, PoolStatus, Role
from models.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound, raise_all
from models.event import EventKind, record_event
from models.identifiers import (
    citizen_id_is_valid,
    credit_code_is_valid,
    normalize_citizen_id,
    normalize_credit_code,
)

ALLOWED_TRANSITIONS: dict[PoolStatus, frozenset[PoolStatus]] = {
    PoolStatus.PROPOSED: frozenset({PoolStatus.APPROVED, PoolStatus.REJECTED}),
    PoolStatus.APPROVED: frozenset({PoolStatus.SUSPENDED}),
    PoolStatus.SUSPENDED: frozenset({PoolStatus.APPROVED}),
    PoolStatus.REJECTED: frozenset(),
}
POOL_ROLES = (Role.OFFICER, Role.LIAISON)
MAX_CONFLICTS = 50


class Expert(Model):
    """An expert proposed by supervision departments for joint inspections (专家库). Never deleted."""

    id = fields.IntField(primary_key=True)
    pool_department_id = fields.IntField(db_index=True)
    name = fields.CharField(max_length=64)
    field = fields.CharField(max_length=64, db_index=True)
    title = fields.CharField(max_length=64)
    employer = fields.CharField(max_length=128)
    phone = SealedField("pool_expert.phone")  # PIPL: stored sealed
    recommended_by: list[int] = fields.JSONField(default=list)
    is_available = fields.BooleanField(default=True)
    conflicts: list[str] = fields.JSONField(default=list)
    status = fields.CharEnumField(PoolStatus, max_length=16, default=PoolStatus.PROPOSED)
    status_reason = fields.CharField(max_length=500, null=True)
    proposed_at = fields.DatetimeField()
    reviewed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "pool_expert"


class Agency(Model):
    """A qualified intermediary agency (中介机构) in the pool of an approval department. Never deleted."""

    id = fields.IntField(primary_key=True)
    pool_department_id = fields.IntField(db_index=True)
    name = fields.CharField(max_length=128)
    credit_code = fields.CharField(max_length=18)
    qualification = fields.CharField(max_length=256)
    valid_from = fields.DateField()
    valid_until = fields.DateField()
    recommended_by: list[int] = fields.JSONField(default=list)
    status = fields.CharEnumField(PoolStatus, max_length=16, default=PoolStatus.PROPOSED)
    status_reason = fields.CharField(max_length=500, null=True)
    proposed_at = fields.DatetimeField()
    reviewed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "pool_agency"


PoolEntry = Expert | Agency


def counterparty_identifier(value: str) -> str | None:
    """A USCC or citizen ID number in canonical form, or None when it is neither (checksums included)."""
    code = normalize_credit_code(value)
    if credit_code_is_valid(code):
        return code
    number = normalize_citizen_id(value)
    return number if citizen_id_is_valid(number) else None


def _text(errors: list[DomainError], value: str, field: str, limit: int) -> str:
    try:
        return check_length(value, field, limit)
    except DomainError as e:
        errors.append(e)
        return ""


async def _pool_owner(errors: list[DomainError], department_id: int, field: str) -> None:
    owner = await Department.get_or_none(id=department_id)
    if owner is None or owner.kind is not DepartmentKind.APPROVAL:
        errors.append(NotFound("审批部门不存在", field=field, code="DEPARTMENT_NOT_FOUND"))


def _check_proposer(actor: User) -> None:
    if not actor.has_role(*POOL_ROLES):
        raise Forbidden("只有经办人或联络员可以推荐", field=None)


async def _require_supervision(actor: User) -> None:
    _check_proposer(actor)
    dept = await Department.get(id=actor.department_id)
    if dept.kind is not DepartmentKind.SUPERVISION:
        raise Forbidden("只有监管部门可以推荐专家和中介机构", field=None)


CONFLICTS_CONTEXT = "pool_expert.conflicts"


def conflicts_of(expert: Expert) -> list[str]:
    """The expert's conflict identifiers in clear (each is stored sealed: citizen ID numbers are personal data)."""
    return [open_sealed(c, context=CONFLICTS_CONTEXT) if is_sealed(c) else c for c in expert.conflicts]


def seal_conflicts(identifiers: list[str]) -> list[str]:
    return [seal(i, context=CONFLICTS_CONTEXT) for i in identifiers]


def _conflicts(errors: list[DomainError], values: list[str]) -> list[str]:
    if len(values) > MAX_CONFLICTS:
        errors.append(InvalidInput(f"利害关系人最多{MAX_CONFLICTS}个", field="conflicts", code="TOO_MANY"))
        return []
    out: list[str] = []
    for i, value in enumerate(values):
        ident = counterparty_identifier(value)
        if ident is None:
            message = "须为有效的统一社会信用代码或公民身份证号码"
            errors.append(InvalidInput(message, field=f"conflicts.{i}", code="INVALID_IDENTIFIER"))
        elif ident not in out:
            out.append(ident)
    return sorted(out)


async def propose_expert(
    actor: User,
    *,
    pool_department_id: int,
    name: str,
    field: str,
    title: str,
    employer: str,
    phone: str,
    conflicts: list[str],
    now: datetime,
) -> Expert:
    """Art. 22: a supervision department proposes an expert to an approval department's pool."""
    await _require_supervision(actor)
    errors: list[DomainError] = []
    await _pool_owner(errors, pool_department_id, "poolDepartmentId")
    name, field = _text(errors, name, "name", 64), _text(errors, field, "field", 64)
    title, employer = _text(errors, title, "title", 64), _text(errors, employer, "employer", 128)
    phone = phone.strip()
    if not PHONE_RE.match(phone):
        errors.append(InvalidInput("电话号码格式不正确", field="phone", code="INVALID_PHONE"))
    keys = _conflicts(errors, conflicts)
    raise_all(errors)
    expert = await Expert.create(
        pool_department_id=pool_department_id,
        phone=phone,
        conflicts=seal_conflicts(keys),
        recommended_by=[actor.department_id],
        proposed_at=now,
        name=name,
        field=field,
        title=title,
        employer=employer,
    )
    await _entry_event(EventKind.EXPERT_PROPOSED, expert)
    return expert


async def propose_agency(
    actor: User,
    *,
    pool_department_id: int,
    name: str,
    credit_code: str,
    qualification: str,
    valid_from: date,
    valid_until: date,
    now: datetime,
) -> Agency:
    """Art. 22: a supervision department proposes a qualified intermediary agency."""
    await _require_supervision(actor)
    errors: list[DomainError] = []
    await _pool_owner(errors, pool_department_id, "poolDepartmentId")
    name = _text(errors, name, "name", 128)
    qualification = _text(errors, qualification, "qualification", 256)
    code = normalize_credit_code(credit_code)
    if not credit_code_is_valid(code):
        errors.append(
            InvalidInput("统一社会信用代码无效（校验位不符）", field="creditCode", code="INVALID_CREDIT_CODE")
        )
    if valid_from > valid_until:
        errors.append(InvalidInput("有效期起始日不能晚于截止日", field="validUntil", code="INVALID_VALIDITY"))
    raise_all(errors)
    agency = await Agency.create(
        pool_department_id=pool_department_id,
        name=name,
        credit_code=code,
        qualification=qualification,
        valid_from=valid_from,
        valid_until=valid_until,
        recommended_by=[actor.department_id],
        proposed_at=now,
    )
    await _entry_event(EventKind.AGENCY_PROPOSED, agency)
    return agency


async def recommend_expert(actor: User, expert_id: int) -> Expert:
    """Art. 22: another supervision department endorses an expert already in the pool."""
    await _require_supervision(actor)
    expert = await Expert.get_or_none(id=expert_id)
    if expert is None or expert.status is PoolStatus.REJECTED:
        raise NotFound("专家不存在", field="id", code="EXPERT_NOT_FOUND")
    if actor.department_id not in expert.recommended_by:
        expert.recommended_by = sorted([*expert.recommended_by, actor.department_id])
        await expert.save(update_fields=["recommended_by"])
    return expert


async def _owned_entry(actor: User, model: type[Expert] | type[Agency], pk: int) -> Any:
    row = await model.get_or_none(id=pk)
    if row is None or not can_see_entry(actor, row):
        label = "专家" if model is Expert else "中介机构"
        raise NotFound(f"{label}不存在", field="id", code=f"{model.__name__.upper()}_NOT_FOUND")
    if not (actor.is_admin or (actor.department_id == row.pool_department_id and actor.has_role(*POOL_ROLES))):
        raise Forbidden("只有该库所属审批部门可以审核", field="id")
    return row


async def set_entry_status(
    actor: User,
    model: type[Expert] | type[Agency],
    pk: int,
    status: PoolStatus,
    reason: str | None,
    *,
    now: datetime,
) -> Any:
    """Art. 22: PROPOSED → APPROVED or REJECTED; APPROVED ↔ SUSPENDED. Rejecting or suspending needs a reason."""
    row = await _owned_entry(actor, model, pk)
    if status not in ALLOWED_TRANSITIONS[row.status]:
        raise InvalidTransition(f"不能从 {row.status.value} 变为 {status.value}", field="status")
    text = check_length(reason or "", "reason", 500, required=status in (PoolStatus.REJECTED, PoolStatus.SUSPENDED))
    row.status, row.status_reason, row.reviewed_at = status, text or None, now
    await row.save(update_fields=["status", "status_reason", "reviewed_at"])
    kind = EventKind.EXPERT_STATUS_CHANGED if model is Expert else EventKind.AGENCY_STATUS_CHANGED
    await _entry_event(kind, row, status=status.value)
    return row


async def set_expert_availability(actor: User, expert_id: int, available: bool) -> Expert:
    """An expert who cannot serve for a while stays in the pool but is not drawn."""
    expert: Expert = await _owned_entry(actor, Expert, expert_id)
    expert.is_available = available
    await expert.save(update_fields=["is_available"])
    return expert


async def _entry_event(kind: EventKind, row: PoolEntry, **extra: Any) -> None:
    subject = "Expert" if isinstance(row, Expert) else "Agency"
    await record_event(
        kind,
        subject_type=subject,
        subject_id=row.id,
        departments=[row.pool_department_id, *row.recommended_by],
        payload={f"{subject.lower()}Id": row.id, **extra},
    )


def can_see_entry(viewer: User, row: PoolEntry) -> bool:
    """The pool's approval department, the departments that recommended the entry, administrators."""
    return (
        viewer.is_admin or viewer.department_id == row.pool_department_id or viewer.department_id in row.recommended_by
    )


async def visible_entries(viewer: User, model: type[Expert] | type[Agency]) -> QuerySet[Any]:
    """Pool entries the viewer may list: its own pool, the entries it recommended (all, for admins)."""
    if viewer.is_admin:
        return model.all()
    return model.filter(Q(pool_department_id=viewer.department_id) | Q(id__in=await recommended_ids(viewer, model)))


async def recommended_ids(viewer: User, model: type[Expert] | type[Agency]) -> list[int]:
    """Ids of entries the viewer's department recommended.

    Read in Python: filtering inside a JSON list is not portable between SQLite and PostgreSQL,
    and a pool holds hundreds of entries, not millions.
    """
    rows = await model.all().values_list("id", "recommended_by")
    return sorted(int(pk) for pk, depts in rows if viewer.department_id in (depts or []))
