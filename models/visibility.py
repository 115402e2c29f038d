"""Who may see what: every list and every object is scoped to the viewer's department."""

from __future__ import annotations

from datetime import date, datetime

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from models.account import User
from models.decision import Decision, DecisionPush, past_cutoff
from models.enums import PushStatus


def can_see_user(viewer: User, user: User) -> bool:
    return viewer.is_admin or viewer.department_id == user.department_id


def can_see_push(viewer: User, push: DecisionPush, issuer_id: int) -> bool:
    """The receiving and the issuing department see a push; nobody else but an admin."""
    return viewer.is_admin or viewer.department_id in (push.department_id, issuer_id)


def visible_decisions(viewer: User) -> QuerySet[Decision]:
    """Decisions the viewer's department issued or received a push of."""
    if viewer.is_admin:
        return Decision.all()
    received = DecisionPush.filter(department_id=viewer.department_id).values_list("decision_id", flat=True)
    # A subquery, not a list: a busy department has received far too many decisions to inline.
    return Decision.filter(Q(issuer_id=viewer.department_id) | Q(id__in=Subquery(received)))


async def can_see_decision(viewer: User, decision: Decision) -> bool:
    if viewer.is_admin or decision.issuer_id == viewer.department_id:
        return True
    return await DecisionPush.filter(decision_id=decision.id, department_id=viewer.department_id).exists()


def visible_pushes_of(viewer: User, decision: Decision, pushes: list[DecisionPush]) -> list[DecisionPush]:
    """The issuer sees every push of its decision; a receiver sees only its own."""
    return [p for p in pushes if can_see_push(viewer, p, decision.issuer_id)]


def visible_users(viewer: User) -> QuerySet[User]:
    return User.all() if viewer.is_admin else User.filter(department_id=viewer.department_id)


def inbox(
    viewer: User,
    *,
    now: datetime | None = None,
    status: PushStatus | None = None,
    overdue: bool | None = None,
    due_before: date | None = None,
) -> QuerySet[DecisionPush]:
    """Art. 20: pushes addressed to the viewer's department; overdue = still PENDING after its deadline."""
    query = DecisionPush.filter(department_id=viewer.department_id)
    if status is not None:
        query = query.filter(status=status)
    if overdue is not None:
        if now is None:
            raise ValueError("filtering on overdue needs the current time")
        # Spelled out with Q: tortoise's exclude(a=…, b=…) means NOT a AND NOT b, not NOT (a AND b).
        late = Q(status=PushStatus.PENDING) & Q(claim_deadline__lte=past_cutoff(now))
        settled_or_in_time = Q(status__not=PushStatus.PENDING) | Q(claim_deadline__gt=past_cutoff(now))
        query = query.filter(late if overdue else settled_or_in_time)
    if due_before is not None:
        query = query.filter(claim_due_on__lt=due_before)
    return query
