"""Working-day obligations other than decision claims: one row per "department X must act by day D".

Every flow that gives a department a deadline (claim a pushed-back penalty, reply to a notice, answer an
inquiry, give an inspection opinion, finish an action item...) opens an obligation row here. The row
is the deadline (architecture rule 6): reminders and overdue marks are recorded on it exactly once by
arq wake-ups and the sweep, and a calendar change moves it (rule 7). The flow itself only opens the
obligation and fulfils or cancels it when the work is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.calendar import current_calendar, deadline_at, local_date, reminder_moment, reminders_due_through
from models.decision import is_past, past_cutoff
from models.enums import ObligationStatus
from models.errors import InvalidInput
from models.event import EventKind, record_event
from models.workdays import WorkCalendar


@dataclass(frozen=True)
class ObligationRule:
    """What an obligation kind means: its Chinese title and its default term in working days."""

    kind: str
    title: str
    working_days: int


RULES: dict[str, ObligationRule] = {}


def obligation_kind(kind: str, title: str, working_days: int) -> ObligationRule:
    """Declare an obligation kind (once, at import of the flow that uses it)."""
    rule = ObligationRule(kind, title, working_days)
    if RULES.setdefault(kind, rule) != rule:
        raise ValueError(f"obligation kind {kind} declared twice with different rules")
    return rule


class Obligation(Model):
    """A department must act on a record by the end of a working day. Never deleted."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    subject_type = fields.CharField(max_length=32)
    subject_id = fields.BigIntField()
    department_id = fields.IntField()
    watchers: list[int] = fields.JSONField(default=list)
    started_on = fields.DateField()
    working_days = fields.IntField()
    due_on = fields.DateField()
    deadline = fields.DatetimeField()
    provisional = fields.BooleanField(default=False)
    status = fields.CharEnumField(ObligationStatus, max_length=16, default=ObligationStatus.OPEN)
    created_at = fields.DatetimeField(auto_now_add=True)
    done_at = fields.DatetimeField(null=True)
    done_late = fields.BooleanField(default=False)
    reminded_at = fields.DatetimeField(null=True)
    overdue_at = fields.DatetimeField(null=True)

    class Meta:
        table = "obligation"
        indexes = (
            ("status", "deadline"),
            ("subject_type", "subject_id"),
            ("department_id", "status", "deadline", "id"),
        )

    @property
    def title(self) -> str:
        rule = RULES.get(self.kind)
        return rule.title if rule else self.kind

    def is_overdue(self, now: datetime) -> bool:
        return self.status is ObligationStatus.OPEN and is_past(self.deadline, now)

    def payload(self) -> dict[str, Any]:
        """What every event about this obligation carries (the dispatcher schedules wake-ups from it)."""
        return {"obligationId": self.id, "obligationKind": self.kind, "dueOn": self.due_on.isoformat()}


def term_of(kind: str, working_days: int | None) -> int:
    if kind not in RULES:
        raise ValueError(f"undeclared obligation kind {kind}")
    days = RULES[kind].working_days if working_days is None else working_days
    if not 1 <= days <= 60:
        raise InvalidInput("期限必须在 1 到 60 个工作日之间", field="workingDays", code="INVALID_TERM")
    return days


async def open_obligation(
    kind: str,
    *,
    subject_type: str,
    subject_id: int,
    department_id: int,
    start: date | datetime,
    watchers: list[int] | None = None,
    working_days: int | None = None,
    calendar: WorkCalendar | None = None,
) -> Obligation:
    """Open a deadline of `working_days` (the kind's default if None) counted from `start` (not counted).

    Call in the flow's transaction and put `obligation.payload()` into the flow's event: the event
    is what schedules the reminder and overdue wake-ups.
    """
    days = term_of(kind, working_days)
    calendar = calendar or await current_calendar()
    started = local_date(start) if isinstance(start, datetime) else start
    due = calendar.add_working_days(started, days)
    return await Obligation.create(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        department_id=department_id,
        watchers=sorted(set(watchers or []) - {department_id}),
        started_on=started,
        working_days=days,
        due_on=due,
        deadline=deadline_at(due),
        provisional=calendar.is_provisional(started, due),
    )


async def close_obligations(
    subject_type: str,
    subject_id: int,
    *,
    now: datetime,
    kind: str | None = None,
    department_id: int | None = None,
    cancel: bool = False,
) -> list[Obligation]:
    """Fulfil (or cancel) the open obligations on a record; returns those this call closed.

    A conditional update per row: of two concurrent closers only one closes it, and a fulfilment
    after the deadline is recorded as late.
    """
    query = Obligation.filter(subject_type=subject_type, subject_id=subject_id, status=ObligationStatus.OPEN)
    if kind is not None:
        query = query.filter(kind=kind)
    if department_id is not None:
        query = query.filter(department_id=department_id)
    closed: list[Obligation] = []
    for row in await query.order_by("id"):
        late = not cancel and is_past(row.deadline, now)
        status = ObligationStatus.CANCELLED if cancel else ObligationStatus.DONE
        changes = {"status": status, "done_at": now, "done_late": late}
        if await Obligation.filter(id=row.id, status=ObligationStatus.OPEN).update(**changes):
            row.status, row.done_at, row.done_late = status, now, late
            closed.append(row)
    return closed


async def _record_once(obligation_id: int, now: datetime, *, column: str, kind: EventKind) -> bool:
    row = await Obligation.get_or_none(id=obligation_id)
    if row is None or row.status is not ObligationStatus.OPEN or getattr(row, column) is not None:
        return False
    if column == "overdue_at":
        due = is_past(row.deadline, now)
    else:
        due = reminder_moment(await current_calendar(), row.due_on) <= now and not is_past(row.deadline, now)
    if not due:
        return False
    # The deadline is part of the guard: a calendar change that moved it meanwhile makes this a no-op.
    guard = {"id": row.id, "status": ObligationStatus.OPEN, "deadline": row.deadline, column: None}
    if not await Obligation.filter(**guard).update(**{column: now}):
        return False
    departments = [row.department_id, *row.watchers] if column == "overdue_at" else [row.department_id]
    await record_event(
        kind,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        departments=departments,
        payload=row.payload(),
    )
    return True


async def remind_obligation(obligation_id: int, *, now: datetime) -> bool:
    """The working day before the due day, remind the responsible department once."""
    return await _record_once(obligation_id, now, column="reminded_at", kind=EventKind.OBLIGATION_REMINDER)


async def mark_obligation_overdue(obligation_id: int, *, now: datetime) -> bool:
    """After the due day, record the obligation overdue once; the department and its watchers are told."""
    return await _record_once(obligation_id, now, column="overdue_at", kind=EventKind.OBLIGATION_OVERDUE)


async def obligations_due_for_sweep(now: datetime, limit: int = 500) -> tuple[list[int], list[int]]:
    """Open obligations whose overdue or reminder moment passed unrecorded, earliest deadline first."""
    overdue = (
        await Obligation.filter(status=ObligationStatus.OPEN, overdue_at=None, deadline__lte=past_cutoff(now))
        .order_by("deadline", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    through = reminders_due_through(await current_calendar(), now)
    remind = (
        await Obligation.filter(
            status=ObligationStatus.OPEN,
            reminded_at=None,
            due_on__lte=through,
            deadline__gt=past_cutoff(now),
        )
        .order_by("deadline", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    return [int(i) for i in overdue], [int(i) for i in remind]  # type: ignore[call-overload]


async def recompute_open_obligations(since: date, now: datetime) -> int:
    """Rule 7: after a calendar change, move every open obligation it shifts and tell the department."""
    calendar = await current_calendar()
    moved = 0
    for row in await Obligation.filter(status=ObligationStatus.OPEN, due_on__gte=since).order_by("id"):
        due = calendar.add_working_days(row.started_on, row.working_days)
        provisional = calendar.is_provisional(row.started_on, due)
        if due == row.due_on and provisional == row.provisional:
            continue
        old = row.due_on
        changes: dict[str, Any] = {"due_on": due, "deadline": deadline_at(due), "provisional": provisional}
        if row.reminded_at is not None and now < reminder_moment(calendar, due):
            changes["reminded_at"] = None
        if row.overdue_at is not None and not is_past(deadline_at(due), now):
            changes["overdue_at"] = None
        # Still open: one closed meanwhile keeps the deadline it was judged against, and no event goes out.
        if not await Obligation.filter(id=row.id, status=ObligationStatus.OPEN).update(**changes):
            continue
        if due != old:
            moved += 1
            row.due_on = due
            await record_event(
                EventKind.DEADLINE_MOVED,
                subject_type=row.subject_type,
                subject_id=row.subject_id,
                departments=[row.department_id, *row.watchers],
                payload={**row.payload(), "from": old.isoformat(), "to": due.isoformat()},
            )
    return moved
