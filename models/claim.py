"""Claiming, returning and re-routing pushes; reminders and overdue marking (Art. 19, 20)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime

from models.account import Department, User, check_length
from models.calendar import (
    current_calendar,
    deadline_at,
    local_date,
    publish_year,
    reminder_moment,
    reminders_due_through,
)
from models.decision import CLAIM_WORKING_DAYS, Decision, DecisionPush, is_past, past_cutoff
from models.enums import DepartmentKind, PushStatus, Role
from models.errors import Forbidden, InvalidInput, NotFound, PushAlreadyClaimed
from models.event import EventKind, record_event
from models.issuance import create_push
from models.obligation import recompute_open_obligations
from models.statistics import claim_hours_for

HANDLER_ROLES = (Role.OFFICER, Role.LIAISON)


async def _with_decision(push_id: int) -> DecisionPush | None:
    """The push with its decision (one query): events go to the issuer too."""
    return await DecisionPush.filter(id=push_id).select_related("decision").first()


async def _receiving_push(actor: User, push_id: int) -> DecisionPush:
    """The push, if it is addressed to the actor's department and the actor handles pushes."""
    push = await _with_decision(push_id)
    if push is None or push.department_id != actor.department_id:
        raise NotFound("推送记录不存在", field="id", code="PUSH_NOT_FOUND")
    if not actor.has_role(*HANDLER_ROLES):
        raise Forbidden("只有本部门的经办人或联络员可以认领或退回", field="id")
    return push


def _not_pending(push: DecisionPush) -> Exception:
    if push.status is PushStatus.CLAIMED:
        return PushAlreadyClaimed("该推送已被认领", field="id")
    return InvalidInput("该推送已退回，不能再操作", field="id", code="ALREADY_RETURNED")


async def _settle(
    push: DecisionPush, to: PushStatus, kind: EventKind, detail: dict[str, object], **changes: object
) -> DecisionPush:
    """Move a pending push to CLAIMED or RETURNED once (a conditional update), and record the event."""
    if not await DecisionPush.filter(id=push.id, status=PushStatus.PENDING).update(status=to, **changes):
        await push.refresh_from_db()
        raise _not_pending(push)
    push.status = to
    for name, value in changes.items():
        setattr(push, name, value)
    await record_event(
        kind,
        subject_type="DecisionPush",
        subject_id=push.id,
        departments=[push.decision.issuer_id, push.department_id],
        payload={"pushId": push.id, "decisionId": push.decision_id, **detail},
    )
    return push


async def claim_push(actor: User, push_id: int, *, now: datetime) -> DecisionPush:
    """Art. 20: the receiving department claims the push; a late claim stays recorded as late."""
    push = await _receiving_push(actor, push_id)
    late = is_past(push.claim_deadline, now)
    return await _settle(
        push,
        PushStatus.CLAIMED,
        EventKind.PUSH_CLAIMED,
        {"late": late},
        claimed_at=now,
        claimed_by_id=actor.id,
        claimed_late=late,
        claim_hours=await claim_hours_for(push, now),
    )


async def return_push(actor: User, push_id: int, reason: str, *, now: datetime) -> DecisionPush:
    """Art. 20: "not our business" — returned with a reason so the approval side re-routes it."""
    reason = check_length(reason, "reason", 500)
    return await _settle(
        await _receiving_push(actor, push_id),
        PushStatus.RETURNED,
        EventKind.PUSH_RETURNED,
        {"reason": reason},
        returned_at=now,
        returned_by_id=actor.id,
        return_reason=reason,
    )


async def reroute_push(actor: User, push_id: int, department_id: int, *, now: datetime) -> DecisionPush:
    """Art. 20: the approval side sends a returned push to another department, with a new deadline."""
    # Locked so that two officers re-routing the same returned push at once cannot both succeed
    # (PostgreSQL; SQLite serialises writers anyway).
    push = await DecisionPush.filter(id=push_id).select_for_update().first()
    decision = await Decision.get_or_none(id=push.decision_id) if push else None
    if push is None or decision is None or decision.issuer_id != actor.department_id:
        raise NotFound("推送记录不存在", field="id", code="PUSH_NOT_FOUND")
    if not actor.has_role(*HANDLER_ROLES):
        raise Forbidden("只有审批部门的经办人或联络员可以改派", field="id")
    if push.status is not PushStatus.RETURNED:
        raise InvalidInput("只有被退回的推送可以改派", field="id", code="NOT_RETURNED")
    if await DecisionPush.filter(rerouted_from_id=push.id).exists():
        raise InvalidInput("该推送已改派，请在改派后的推送上继续处理", field="id", code="ALREADY_REROUTED")
    target = await Department.get_or_none(id=department_id)
    if target is None or target.kind is not DepartmentKind.SUPERVISION:
        raise NotFound("目标监管部门不存在", field="departmentId", code="DEPARTMENT_NOT_FOUND")
    if await DecisionPush.filter(decision_id=decision.id, department_id=department_id).exists():
        raise InvalidInput("该决定已推送给该部门", field="departmentId", code="ALREADY_PUSHED")
    return await create_push(
        decision, department_id, now=now, calendar=await current_calendar(), rerouted_from_id=push.id
    )


async def _mark_once(
    push_id: int,
    now: datetime,
    *,
    column: str,
    kind: EventKind,
    is_due: Callable[[DecisionPush], Awaitable[bool]],
    tell_issuer: bool,
) -> bool:
    """Record a reminder or an overdue mark on a pending push exactly once, with its event.

    Re-checked against the row, not the job: a wake-up for a deadline that has since moved does nothing.
    The conditional update is the once-only guard: concurrent runs and a claim racing in both lose there.
    """
    push = await _with_decision(push_id)
    if push is None or push.status is not PushStatus.PENDING or getattr(push, column) is not None:
        return False
    if not await is_due(push):
        return False
    # The deadline is part of the guard: a calendar change that moved it meanwhile makes this a no-op.
    guard = {"id": push.id, "status": PushStatus.PENDING, "claim_deadline": push.claim_deadline, column: None}
    if not await DecisionPush.filter(**guard).update(**{column: now}):
        return False
    await record_event(
        kind,
        subject_type="DecisionPush",
        subject_id=push.id,
        departments=[push.decision.issuer_id, push.department_id] if tell_issuer else [push.department_id],
        payload={"pushId": push.id, "decisionId": push.decision_id, "dueOn": push.claim_due_on.isoformat()},
    )
    return True


async def remind_push(push_id: int, *, now: datetime) -> bool:
    """Art. 20: at 09:00 of the working day before the claim day, remind the receiving department once."""

    async def is_due(push: DecisionPush) -> bool:
        moment = reminder_moment(await current_calendar(), push.claim_due_on)
        return moment <= now and not is_past(push.claim_deadline, now)

    return await _mark_once(
        push_id, now, column="reminded_at", kind=EventKind.PUSH_REMINDER, is_due=is_due, tell_issuer=False
    )


async def mark_overdue(push_id: int, *, now: datetime) -> bool:
    """Art. 20: after the claim deadline an unclaimed push is recorded overdue once; receiver and issuer are told."""

    async def is_due(push: DecisionPush) -> bool:
        return is_past(push.claim_deadline, now)

    return await _mark_once(
        push_id, now, column="overdue_at", kind=EventKind.PUSH_OVERDUE, is_due=is_due, tell_issuer=True
    )


async def due_for_sweep(now: datetime, limit: int = 500) -> tuple[list[int], list[int]]:
    """Pushes whose overdue or reminder moment passed unrecorded (lost wake-ups), earliest deadline first."""
    overdue = (
        await DecisionPush.filter(status=PushStatus.PENDING, overdue_at=None, claim_deadline__lte=past_cutoff(now))
        .order_by("claim_deadline", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    through = reminders_due_through(await current_calendar(), now)
    remind = (
        await DecisionPush.filter(
            status=PushStatus.PENDING,
            reminded_at=None,
            claim_due_on__lte=through,
            claim_deadline__gt=past_cutoff(now),
        )
        .order_by("claim_deadline", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    return [int(i) for i in overdue], [int(i) for i in remind]  # type: ignore[call-overload]


async def recompute_open_deadlines(since: date, now: datetime) -> int:
    """Rule 7: after a calendar change, move every open deadline it shifts and tell both sides.

    A deadline moved later than a reminder or an overdue mark already recorded takes them back,
    so the new deadline gets its own reminder and is not reported overdue before it passes.
    """
    calendar = await current_calendar()
    moved = 0
    pending = await DecisionPush.filter(status=PushStatus.PENDING, claim_due_on__gte=since).select_related("decision")
    for push in pending:
        start = local_date(push.pushed_at)
        due = calendar.add_working_days(start, CLAIM_WORKING_DAYS)
        provisional = calendar.is_provisional(start, due)
        if due == push.claim_due_on and provisional == push.deadline_provisional:
            continue
        old = push.claim_due_on
        changes: dict[str, object] = {
            "claim_due_on": due,
            "claim_deadline": deadline_at(due),
            "deadline_provisional": provisional,
        }
        if push.reminded_at is not None and now < reminder_moment(calendar, due):
            changes["reminded_at"] = None
        if push.overdue_at is not None and not is_past(deadline_at(due), now):
            changes["overdue_at"] = None
        # Still pending: one claimed or returned meanwhile keeps the deadline it was judged against.
        if not await DecisionPush.filter(id=push.id, status=PushStatus.PENDING).update(**changes):
            continue
        if due != old:
            moved += 1
            await record_event(
                EventKind.DEADLINE_MOVED,
                subject_type="DecisionPush",
                subject_id=push.id,
                departments=[push.decision.issuer_id, push.department_id],
                payload={"pushId": push.id, "from": old.isoformat(), "to": due.isoformat()},
            )
    return moved


async def publish_calendar_year(
    actor: User, year: int, holidays: list[tuple[date, str]], workdays: list[tuple[date, str]], *, now: datetime
) -> int:
    """Rule 7: an administrator enters a year's official schedule; open deadlines move with it."""
    if not actor.is_admin:
        raise Forbidden("只有平台管理员可以发布工作日历", field=None)
    await publish_year(year, holidays, workdays)
    since = date(year - 1, 12, 1)
    moved = await recompute_open_deadlines(since, now) + await recompute_open_obligations(since, now)
    departments = await Department.all().values_list("id", flat=True)
    await record_event(
        EventKind.CALENDAR_CHANGED,
        subject_type="CalendarYear",
        subject_id=year,
        departments=[int(d) for d in departments],  # type: ignore[call-overload]
        payload={"year": year, "moved": moved},
    )
    return moved
