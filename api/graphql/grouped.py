"""Batched child lists for the flows' types: rows of a model grouped by one column, one query per request.

Kept beside the request's Loaders (weakly, so they go with it) instead of growing the shared Loaders class.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from api.context import Context
from api.graphql.loaders import Loaders

M = TypeVar("M", bound=Model)
_BY_REQUEST: WeakKeyDictionary[Loaders, dict[tuple[type[Model], str], DataLoader[Any, Any]]] = WeakKeyDictionary()


def _grouping(model: type[M], column: str) -> DataLoader[Hashable, list[M]]:
    async def load(keys: Sequence[Hashable]) -> list[list[M]]:
        grouped: dict[Hashable, list[M]] = {k: [] for k in keys}
        for row in await model.filter(**{f"{column}__in": list(keys)}).order_by("id"):
            grouped[getattr(row, column)].append(row)
        return [grouped[k] for k in keys]

    return DataLoader(load)


def children(context: Context, model: type[M], column: str) -> DataLoader[Hashable, list[M]]:
    """Rows of `model` whose `column` equals the key, oldest first, batched over the whole request."""
    per_request = _BY_REQUEST.setdefault(context.loaders, {})
    loader = per_request.get((model, column))
    if loader is None:
        loader = per_request[(model, column)] = _grouping(model, column)
    return loader
