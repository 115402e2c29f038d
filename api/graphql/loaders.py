"""Per-request DataLoaders: every relation is loaded in one query per kind, never per row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from models.account import Department, LiaisonAppointment, User
from models.catalogue import ApprovalItem
from models.decision import Decision, DecisionPush


async def _by_id(model: Any, keys: Sequence[int]) -> list[Any]:
    rows = {r.id: r for r in await model.filter(id__in=list(keys))}
    return [rows.get(k) for k in keys]


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


M = TypeVar("M", bound=Model)


async def _grouped(model: type[M], column: str, keys: Sequence[Hashable]) -> list[list[M]]:
    grouped: dict[Hashable, list[M]] = {k: [] for k in keys}
    for row in await model.filter(**{f"{column}__in": list(keys)}).order_by("id"):
        grouped[getattr(row, column)].append(row)
    return [grouped[k] for k in keys]


class Loaders:
    """One set per request (per event on a socket); each loader is made on first use.

    Lazily, because a socket holds a context for its whole life and most never need most loaders.
    """

    def __init__(self) -> None:
        self._by_model: dict[type[Model], DataLoader[int, Any]] = {}
        self._by_column: dict[tuple[type[Model], str], DataLoader[Any, Any]] = {}
        self._keyed: dict[str, DataLoader[Any, Any]] = {}

    def keyed(self, name: str, batch: Callable[[Sequence[Any]], Awaitable[list[Any]]]) -> DataLoader[Any, Any]:
        """A flow's own batched loader (e.g. the decisions of each action), made once per request under `name`."""
        loader = self._keyed.get(name)
        if loader is None:
            loader = self._keyed[name] = DataLoader(batch)
        return loader

    def children(self, model: type[M], column: str) -> DataLoader[Hashable, list[M]]:
        """Rows of `model` whose `column` equals the key, oldest first, batched over the whole request."""
        loader = self._by_column.get((model, column))
        if loader is None:
            loader = self._by_column[model, column] = DataLoader(lambda k: _grouped(model, column, k))
        return loader

    def of(self, model: type[M]) -> DataLoader[int, M | None]:
        """Rows of any model by id, batched: the later flows' types load through this."""
        loader = self._by_model.get(model)
        if loader is None:
            loader = self._by_model[model] = DataLoader(lambda k: _by_id(model, k))
        return loader

    @cached_property
    def department(self) -> DataLoader[int, Department | None]:
        return DataLoader(lambda k: _by_id(Department, k))

    @cached_property
    def user(self) -> DataLoader[int, User | None]:
        return DataLoader(lambda k: _by_id(User, k))

    @cached_property
    def item(self) -> DataLoader[int, ApprovalItem | None]:
        return DataLoader(lambda k: _by_id(ApprovalItem, k))

    @cached_property
    def decision(self) -> DataLoader[int, Decision | None]:
        return DataLoader(lambda k: _by_id(Decision, k))

    @cached_property
    def push(self) -> DataLoader[int, DecisionPush | None]:
        return DataLoader(lambda k: _by_id(DecisionPush, k))

    @cached_property
    def pushes_of_decision(self) -> DataLoader[Hashable, list[DecisionPush]]:
        return self.children(DecisionPush, "decision_id")

    @cached_property
    def liaisons_of_department(self) -> DataLoader[int, list[LiaisonAppointment]]:
        return DataLoader(_liaisons_by_department)

    @cached_property
    def supervisors_of_item(self) -> DataLoader[int, list[Department]]:
        return DataLoader(_supervisors_by_item)
