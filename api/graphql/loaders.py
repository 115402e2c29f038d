"""Per-request DataLoaders: every relation is loaded in one query per kind, never per row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.account import Department, LiaisonAppointment, User
from models.catalogue import ApprovalItem
from models.db import columns, from_row, row_values, select_list
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
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


def load_then(loader: DataLoader[K, V], key: K, wrap: Callable[[V], R]) -> R | Awaitable[R]:
    """`wrap` of the loader's value: at once when the request already holds it, else once it is loaded.

    A resolver that returns a plain value lets the executor complete the field where it stands; an
    awaitable costs a coroutine and a trip through the event loop per field, sixty of them on a page
    of twenty pushes shown with their decisions, items and issuers.
    """
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return wrap(future.result())

    async def later() -> R:
        return wrap(await loader.load(key))

    return later()


def _id_list(conn: BaseDBAsyncClient, count: int) -> str:
    """`count` query parameters, comma-separated, in the connection's dialect."""
    if conn.capabilities.dialect == "sqlite":
        return ", ".join("?" * count)
    return ", ".join(f"${n}" for n in range(1, count + 1))


async def _decision_rows(ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """The columns of each decision, then of its item, then of its issuer (columns() of each), one row each."""
    conn = Decision._meta.db
    select = ", ".join(select_list(m, alias) for m, alias in ((Decision, "d"), (ApprovalItem, "i"), (Department, "s")))
    decision, item, issuer = (m._meta.db_table for m in (Decision, ApprovalItem, Department))
    sql = (
        f"SELECT {select} FROM {decision} d JOIN {item} i ON i.id = d.item_id "
        f"JOIN {issuer} s ON s.id = d.issuer_id WHERE d.id IN ({_id_list(conn, len(ids))})"
    )
    _, rows = await conn.execute_query(sql, list(ids))
    return [row_values(r) for r in rows]


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
        """Decisions by id, each read with its item and issuer, which it puts into their loaders."""
        return DataLoader(self._decisions)

    async def _decisions(self, keys: Sequence[int]) -> list[Decision | None]:
        """One hand-written join, because lists of decisions and of pushes show each with its item and issuer.

        tortoise's select_related over a push's decision__item and decision__issuer reads the decision's
        columns once per path and builds each decision once per path, which on a page of pushes cost
        more than everything else the request did. An item or issuer shared by several decisions is
        built once.
        """
        item_at = len(columns(Decision))
        issuer_at = item_at + len(columns(ApprovalItem))
        found: dict[int, Decision] = {}
        for values in await _decision_rows(keys):
            decision = from_row(Decision, values[:item_at])
            found[decision.id] = decision
            if self.item.cache_map.get(decision.item_id) is None:
                self.item.prime(decision.item_id, from_row(ApprovalItem, values[item_at:issuer_at]))
            if self.department.cache_map.get(decision.issuer_id) is None:
                self.department.prime(decision.issuer_id, from_row(Department, values[issuer_at:]))
        return [found.get(k) for k in keys]

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
