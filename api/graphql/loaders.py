"""Per-request DataLoaders: every relation is loaded in one query per kind, never per row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Hashable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.utils.await_maybe import AwaitableOrValue
from tortoise.backends.base.client import BaseDBAsyncClient
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
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


def load_then(loader: DataLoader[K, V], key: K, wrap: Callable[[V], R]) -> AwaitableOrValue[R]:
    """`wrap` of the loader's value: at once when the request already holds it, else once it is loaded.

    A resolver that returns a plain value lets the executor complete the field where it stands;
    an awaitable costs a task and a round through the event loop per field, which on a page of
    twenty pushes, each with its decision, item and issuer, was most of the execution time.
    """
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return wrap(future.result())

    async def later() -> R:
        return wrap(await loader.load(key))

    return later()


# A decision with its item and issuing department, as lists of pushes show it.
_JOINED: tuple[tuple[type[Model], str], ...] = ((Decision, "d"), (ApprovalItem, "i"), (Department, "s"))


def _columns(model: type[Model]) -> tuple[str, ...]:
    return tuple(model._meta.fields_db_projection.values())


def _id_list(conn: BaseDBAsyncClient, count: int) -> str:
    """`count` query parameters, comma-separated, in the connection's dialect."""
    if conn.capabilities.dialect == "sqlite":
        return ", ".join("?" * count)
    return ", ".join(f"${n}" for n in range(1, count + 1))


async def _decisions_with_item_and_issuer(ids: Sequence[int]) -> list[tuple[Decision, ApprovalItem, Department]]:
    """Decisions by id, each with its item and issuer, in one statement.

    tortoise's select_related over decision__item and decision__issuer reads the decision's columns
    once per path and builds each decision once per path; on a page of pushes that cost more than
    everything else the request did. The join here reads every column once, and the rows are built
    by the ORM's own row constructor, so field conversions (sealed personal data, timestamps) are
    the ones every other read applies.
    """
    conn = Decision._meta.db
    columns = [_columns(model) for model, _ in _JOINED]
    select = ", ".join(f'{alias}."{c}"' for (_, alias), names in zip(_JOINED, columns, strict=True) for c in names)
    sql = (
        f"SELECT {select} FROM decision d JOIN approval_item i ON i.id = d.item_id "
        f"JOIN department s ON s.id = d.issuer_id WHERE d.id IN ({_id_list(conn, len(ids))})"
    )
    _, rows = await conn.execute_query(sql, list(ids))
    out: list[tuple[Decision, ApprovalItem, Department]] = []
    for row in rows:
        values = list(row.values()) if isinstance(row, dict) else list(row)
        built: list[Any] = []
        start = 0
        for (model, _), names in zip(_JOINED, columns, strict=True):
            built.append(model._init_from_db(**dict(zip(names, values[start : start + len(names)], strict=True))))
            start += len(names)
        out.append((built[0], built[1], built[2]))
    return out


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

    async def prime_decisions(self, ids: Collection[int]) -> None:
        """Load the decisions not yet loaded, with their items and issuers, into the three loaders at once."""
        missing = sorted({k for k in ids if self.decision.cache_map.get(k) is None})
        if not missing:
            return
        for decision, item, issuer in await _decisions_with_item_and_issuer(missing):
            self.decision.prime(decision.id, decision)
            self.item.prime(item.id, item)
            self.department.prime(issuer.id, issuer)

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
