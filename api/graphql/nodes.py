"""`node(id:)` for every type: each type registers how to load one of its rows for a viewer.

A flow's module registers its own types (`@node_loader("Notice")`), so adding a type never
touches a shared dispatch chain. A loader returns None when the row is missing or not visible.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from api.context import Context, Info
from api.graphql.base import Node, from_global_id
from models.errors import DomainError

NodeLoader = Callable[[Context, int], Awaitable[Node | None]]
_LOADERS: dict[str, NodeLoader] = {}


def node_loader(type_name: str) -> Callable[[NodeLoader], NodeLoader]:
    """Register the loader of one GraphQL type's global ids."""

    def register(loader: NodeLoader) -> NodeLoader:
        if type_name in _LOADERS:
            raise ValueError(f"node loader for {type_name} registered twice")
        _LOADERS[type_name] = loader
        return loader

    return register


def registered_types() -> frozenset[str]:
    return frozenset(_LOADERS)


async def load_node(context: Context, type_name: str, pk: int) -> Node | None:
    """One object by type and key, if the viewer may see it."""
    loader = _LOADERS.get(type_name)
    return await loader(context, pk) if loader else None


async def resolve_node(info: Info, id: str) -> Node | None:
    """Any object by global id, with the same scoping as the lists (None when not visible)."""
    info.context.require_user()
    try:
        type_name, pk = from_global_id(id)
    except DomainError:
        return None
    return await load_node(info.context, type_name, pk)
