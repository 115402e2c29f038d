"""Per-request DataLoaders: every relation is loaded in one query per kind, never per row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from models.account import Department, LiaisonAppointment, User
from models.catalogue import ApprovalItem
from models.decision import Decision, DecisionPush


async def _by_id(model: Any, keys: Sequence[int]) -> list[Any]:
    rows = {r.id: r for r in await model.filter(id__in=list(keys))}
    return [rows.get(k) for k in keys]


async def _pushes_by_decision(keys: Sequence[int]) -> list[list[DecisionPush]]:
    grouped: dict[int, list[DecisionPush]] = {k: [] for k in keys}
    for push in await DecisionPush.filter(decision_id__in=list(keys)).order_by("id"):
        grouped[push.decision_id].append(push)
    return [grouped[k] for k in keys]


async def _liaisons_by_department(keys: Sequence[int]) -> list[list[LiaisonAppointment]]:
    grouped: dict[int, list[LiaisonAppointment]] = {k: [] for k in keys}
    for term in await LiaisonAppointment.filter(department_id__in=list(keys)).order_by("started_at", "id"):
        grouped[term.department_id].append(term)
    return [grouped[k] for k in keys]


async def _supervisors_by_item(keys: Sequence[int]) -> list[list[Department]]:
    grouped: dict[int, list[Department]] = {k: [] for k in keys}
    items = await ApprovalItem.filter(id__in=list(keys)).prefetch_related("supervisors")
    for item in items:
        grouped[item.id] = sorted(item.supervisors, key=lambda d: d.id)
    return [grouped[k] for k in keys]


@dataclass
class Loaders:
    department: DataLoader[int, Department | None] = field(
        default_factory=lambda: DataLoader(lambda k: _by_id(Department, k))
    )
    user: DataLoader[int, User | None] = field(default_factory=lambda: DataLoader(lambda k: _by_id(User, k)))
    item: DataLoader[int, ApprovalItem | None] = field(
        default_factory=lambda: DataLoader(lambda k: _by_id(ApprovalItem, k))
    )
    decision: DataLoader[int, Decision | None] = field(
        default_factory=lambda: DataLoader(lambda k: _by_id(Decision, k))
    )
    push: DataLoader[int, DecisionPush | None] = field(
        default_factory=lambda: DataLoader(lambda k: _by_id(DecisionPush, k))
    )
    pushes_of_decision: DataLoader[int, list[DecisionPush]] = field(
        default_factory=lambda: DataLoader(_pushes_by_decision)
    )
    liaisons_of_department: DataLoader[int, list[LiaisonAppointment]] = field(
        default_factory=lambda: DataLoader(_liaisons_by_department)
    )
    supervisors_of_item: DataLoader[int, list[Department]] = field(
        default_factory=lambda: DataLoader(_supervisors_by_item)
    )
