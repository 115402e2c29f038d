"""Issuing a decision and pushing it at once to its supervisors (Art. 18, 20)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from models.account import PHONE_RE, Department, User, check_length
from models.calendar import current_calendar, deadline_at, local_date
from models.catalogue import ROUTED_TO, ApprovalItem, check_routable, routed_somewhere
from models.commitment import commitment_errors, open_verifications
from models.db import columns, from_row, insert_rows, parameter, row_values, select_list, stored
from models.decision import (
    CLAIM_WORKING_DAYS,
    Decision,
    DecisionPush,
    content_fingerprint,
    content_fingerprint_matches,
    id_number_lookup,
    iso,
)
from models.enums import Channel, CounterpartyKind, DepartmentKind, Role
from models.errors import DomainError, Duplicate, Forbidden, InvalidInput, NotFound, raise_all
from models.event import EventKind, NewEvent, record_events
from models.identifiers import (
    citizen_id_is_valid,
    credit_code_is_valid,
    normalize_citizen_id,
    normalize_credit_code,
)
from models.workdays import WorkCalendar


@dataclass
class CounterpartyInput:
    name: str
    kind: CounterpartyKind
    id_number: str | None = None
    credit_code: str | None = None
    contact_name: str | None = None
    phone: str | None = None
    address: str | None = None


@dataclass
class DecisionInput:
    item_id: int
    document_number: str
    content: str
    approved_on: date
    counterparty: CounterpartyInput
    valid_from: date | None = None
    valid_until: date | None = None
    channel: Channel = Channel.PLATFORM
    commitment_based: bool = False


ISSUER_ROLES = (Role.OFFICER, Role.LIAISON, Role.INTEGRATION)


def _text(errors: list[DomainError], value: str | None, field: str, limit: int, required: bool) -> str | None:
    if value is None:
        if required:
            errors.append(InvalidInput("不能为空", field=field, code="REQUIRED"))
        return None
    try:
        return check_length(value, field, limit, required=required) or None
    except DomainError as e:
        errors.append(e)
        return None


def check_counterparty(errors: list[DomainError], cp: CounterpartyInput) -> CounterpartyInput:
    """GB 11643 for a person's ID number, GB 32100 for an organisation's credit code."""
    out = CounterpartyInput(name=_text(errors, cp.name, "counterparty.name", 128, True) or "", kind=cp.kind)
    if cp.kind is CounterpartyKind.PERSON:
        value = normalize_citizen_id(cp.id_number or "")
        if not value:
            errors.append(InvalidInput("自然人须提供公民身份证号码", field="counterparty.idNumber", code="REQUIRED"))
        elif not citizen_id_is_valid(value):
            errors.append(
                InvalidInput(
                    "公民身份证号码无效（校验位不符）", field="counterparty.idNumber", code="INVALID_ID_NUMBER"
                )
            )
        out.id_number = value or None
    else:
        value = normalize_credit_code(cp.credit_code or "")
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
        out.credit_code = value or None
    out.contact_name = _text(errors, cp.contact_name, "counterparty.contactName", 64, False)
    out.address = _text(errors, cp.address, "counterparty.address", 256, False)
    phone = (cp.phone or "").strip()
    if phone and not PHONE_RE.match(phone):
        errors.append(InvalidInput("联系电话格式不正确", field="counterparty.phone", code="INVALID_PHONE"))
    out.phone = phone or None
    return out


def validate_decision(data: DecisionInput, today: date) -> tuple[DecisionInput, list[DomainError]]:
    """Every rule on a decision's own fields; returns the cleaned input and all errors found."""
    errors: list[DomainError] = []
    number = _text(errors, data.document_number, "documentNumber", 64, True) or ""
    content = _text(errors, data.content, "content", 20000, True) or ""
    counterparty = check_counterparty(errors, data.counterparty)
    if data.approved_on > today:
        errors.append(InvalidInput("批准日期不能晚于今天", field="approvedOn", code="DATE_IN_FUTURE"))
    if data.valid_from and data.valid_until and data.valid_from > data.valid_until:
        errors.append(InvalidInput("有效期起始日不能晚于截止日", field="validUntil", code="INVALID_VALIDITY"))
    cleaned = DecisionInput(
        item_id=data.item_id,
        document_number=number,
        content=content,
        approved_on=data.approved_on,
        counterparty=counterparty,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        channel=data.channel,
        commitment_based=data.commitment_based,
    )
    return cleaned, errors


def fingerprint(data: DecisionInput) -> str:
    """The keyed digest of a checked decision's content, as stored in content_hash."""
    return content_fingerprint(fingerprint_fields(data))


def same_content(data: DecisionInput, digest: str) -> bool:
    """A retry: the checked input has the content a stored decision's digest was made from."""
    return content_fingerprint_matches(fingerprint_fields(data), digest)


def fingerprint_fields(data: DecisionInput) -> dict[str, object]:
    """What identifies a decision's content; models/data_keys.py rebuilds it from a stored row."""
    cp = data.counterparty
    fields_: dict[str, object] = {
        "item": data.item_id,
        "content": data.content,
        "approved_on": iso(data.approved_on),
        "valid_from": iso(data.valid_from),
        "valid_until": iso(data.valid_until),
        "channel": data.channel.value,
        "cp": [cp.name, cp.kind.value, cp.id_number, cp.credit_code, cp.contact_name, cp.phone, cp.address],
    }
    if data.commitment_based:  # only when set, so earlier decisions keep their fingerprints
        fields_["commitment"] = True
    return fields_


async def check_issuer(actor: User) -> Department:
    """Only officers, liaison officers and system accounts of an approval department issue decisions."""
    issuer = await Department.get(id=actor.department_id)
    may_issue(actor, issuer)
    return issuer


def may_issue(actor: User, issuer: Department | None) -> Department:
    """check_issuer on the actor's department as read already."""
    if issuer is None or issuer.kind is not DepartmentKind.APPROVAL or not actor.has_role(*ISSUER_ROLES):
        raise Forbidden("只有审批部门的经办人、联络员或系统账号可以作出审批决定", field=None)
    return issuer


@dataclass
class _BeforeIssuing:
    """What issuing a decision reads before it writes (see _read_before_issuing)."""

    issuer: Department | None
    item: ApprovalItem | None  # None when no item has the id
    existing: tuple[int, str] | None  # the id and content digest of a decision with the same number
    routed: list[int]  # the departments Art. 23 routes the item to from this issuer (checks aside)
    calendar_version: int


async def _read_before_issuing(department_id: int, item_id: int, document_number: str) -> _BeforeIssuing:
    """The issuer, the item, a decision already under the number, the routing and the calendar's
    version, in one statement: a row per routed department (one with no department when none)."""
    conn = Decision._meta.db
    sql = (
        f"SELECT {select_list(Department, 'd')}, {select_list(ApprovalItem, 'i')}, x.id, x.content_hash,"
        " c.version, sd.id FROM department d"
        f" LEFT JOIN approval_item i ON i.id = {parameter(conn, 1)}"
        f" LEFT JOIN decision x ON x.issuer_id = d.id AND x.document_number = {parameter(conn, 2)}"
        " LEFT JOIN calendar_state c ON c.id = 1"
        " LEFT JOIN (item_supervisor s JOIN department sd ON sd.id = s.department_id)"
        f" ON s.approval_item_id = i.id AND {ROUTED_TO}"
        f" WHERE d.id = {parameter(conn, 3)} ORDER BY sd.id"
    )
    _, rows = await conn.execute_query(sql, [item_id, document_number, department_id])
    if not rows:
        return _BeforeIssuing(None, None, None, [], 0)
    first = row_values(rows[0])
    item_at = len(columns(Department))
    existing_at = item_at + len(columns(ApprovalItem))
    item_id_found = first[item_at]
    existing_id, digest, version = first[existing_at : existing_at + 3]
    return _BeforeIssuing(
        issuer=from_row(Department, first[:item_at]),
        item=None if item_id_found is None else from_row(ApprovalItem, first[item_at:existing_at]),
        existing=None if existing_id is None else (int(existing_id), str(digest)),
        routed=[int(v[-1]) for v in map(row_values, rows) if v[-1] is not None],
        calendar_version=int(version or 0),
    )


async def issue_decision(actor: User, data: DecisionInput, *, now: datetime) -> tuple[Decision, bool]:
    """Art. 18: record a decision and push it at once; returns (decision, created).

    A retry with the same document number and content returns the existing decision.
    """
    cleaned, errors = validate_decision(data, local_date(now))
    known = await _read_before_issuing(actor.department_id, data.item_id, cleaned.document_number)
    issuer = may_issue(actor, known.issuer)
    item = known.item
    if item is None or not item.is_active:
        errors.append(NotFound("审批事项不存在或已停用", field="itemId", code="ITEM_NOT_FOUND"))
    else:
        errors.extend(commitment_errors(item, cleaned.commitment_based))
    raise_all(errors)
    assert item is not None
    if known.existing is not None:
        existing_id, digest = known.existing
        if same_content(cleaned, digest):
            return await Decision.get(id=existing_id), False
        raise Duplicate(
            f"文书编号 {cleaned.document_number} 已用于另一份审批决定",
            field="documentNumber",
            code="DUPLICATE_DOCUMENT_NUMBER",
        )
    check_routable(item, issuer)
    departments = routed_somewhere(known.routed)
    calendar = await current_calendar(known.calendar_version)
    return await record_decision(actor, issuer, cleaned, departments, now=now, calendar=calendar), True


async def record_decision(
    actor: User,
    issuer: Department,
    data: DecisionInput,
    department_ids: list[int],
    *,
    now: datetime,
    calendar: WorkCalendar,
) -> Decision:
    """Art. 18: write a checked decision and its pushes (one per routed department) with their events.

    The caller has validated `data`, resolved its routing and ruled out its document number.
    """
    [row] = await record_decisions(actor, issuer, [(data, department_ids)], now=now, calendar=calendar)
    return stored(Decision, row)


async def record_decisions(
    actor: User,
    issuer: Department,
    batch: list[tuple[DecisionInput, list[int]]],
    *,
    now: datetime,
    calendar: WorkCalendar,
) -> list[dict[str, Any]]:
    """record_decision for many checked decisions at once, each with the departments it is routed to.

    Set-wise: the decisions, their pushes, the pushes' events and their recipients take one
    multi-row statement each, not one per row. Returns the decisions' rows as stored.
    """
    rows = [_decision_row(actor, issuer, data) for data, _ in batch]
    await insert_rows(Decision, rows)
    routed = [(row["id"], department_id) for row, (_, ids) in zip(rows, batch, strict=True) for department_id in ids]
    await _write_pushes(routed, now=now, calendar=calendar)
    for row, (data, department_ids) in zip(rows, batch, strict=True):
        if data.commitment_based:
            await open_verifications(stored(Decision, row), department_ids, now=now, calendar=calendar)
    return rows


def _decision_row(actor: User, issuer: Department, data: DecisionInput) -> dict[str, Any]:
    cp = data.counterparty
    return {
        "issuer_id": issuer.id,
        "item_id": data.item_id,
        "document_number": data.document_number,
        "content": data.content,
        "approved_on": data.approved_on,
        "valid_from": data.valid_from,
        "valid_until": data.valid_until,
        "channel": data.channel,
        "counterparty_name": cp.name,
        "counterparty_kind": cp.kind,
        "id_number": cp.id_number,
        "id_number_hash": id_number_lookup(cp.id_number) if cp.id_number else None,
        "credit_code": cp.credit_code,
        "contact_name": cp.contact_name,
        "phone": cp.phone,
        "address": cp.address,
        "content_hash": fingerprint(data),
        "commitment_based": data.commitment_based,
        "created_by_id": actor.id,
    }


async def create_push(
    decision: Decision,
    department_id: int,
    *,
    now: datetime,
    calendar: WorkCalendar,
    rerouted_from_id: int | None = None,
) -> DecisionPush:
    """Art. 20: a push with its claim deadline (3 working days, end of day) and its event."""
    [push] = await _write_pushes(
        [(decision.id, department_id)], now=now, calendar=calendar, rerouted_from_id=rerouted_from_id
    )
    return stored(DecisionPush, push)


async def _write_pushes(
    routed: list[tuple[int, int]],
    *,
    now: datetime,
    calendar: WorkCalendar,
    rerouted_from_id: int | None = None,
) -> list[dict[str, Any]]:
    """create_push for each (decision id, department id) pair, set-wise; returns the push rows as stored.

    All are pushed now, so all are due the same day.
    """
    today = local_date(now)
    due = calendar.add_working_days(today, CLAIM_WORKING_DAYS)
    common = {
        "pushed_at": now,
        "claim_due_on": due,
        "claim_deadline": deadline_at(due),
        "deadline_provisional": calendar.is_provisional(today, due),
        "rerouted_from_id": rerouted_from_id,
    }
    pushes: list[dict[str, Any]] = [
        {"decision_id": decision_id, "department_id": department_id, **common} for decision_id, department_id in routed
    ]
    await insert_rows(DecisionPush, pushes)
    await record_events(
        [
            NewEvent(
                EventKind.PUSH_CREATED,
                subject_type="DecisionPush",
                subject_id=push["id"],
                departments=[push["department_id"]],
                payload={"pushId": push["id"], "decisionId": push["decision_id"], "dueOn": due.isoformat()},
            )
            for push in pushes
        ]
    )
    return pushes
