"""Who may see what: every list and every object is scoped to the viewer's department."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from models.account import User
from models.decision import Decision, DecisionPush


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
    return Decision.filter(Q(issuer_id=viewer.department_id) | Q(id__in=received))


async def can_see_decision(viewer: User, decision: Decision) -> bool:
    if viewer.is_admin or decision.issuer_id == viewer.department_id:
        return True
    return await DecisionPush.filter(decision_id=decision.id, department_id=viewer.department_id).exists()


def visible_pushes_of(viewer: User, decision: Decision, pushes: list[DecisionPush]) -> list[DecisionPush]:
    """The issuer sees every push of its decision; a receiver sees only its own."""
    return [p for p in pushes if can_see_push(viewer, p, decision.issuer_id)]


def visible_users(viewer: User) -> QuerySet[User]:
    return User.all() if viewer.is_admin else User.filter(department_id=viewer.department_id)


def inbox(viewer: User, **filters: Any) -> QuerySet[DecisionPush]:
    """Pushes addressed to the viewer's department."""
    return DecisionPush.filter(department_id=viewer.department_id, **filters)
