"""Keyset pagination: cursors carry the sort key, so deep pages cost the same as the first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from graphql import GraphQLError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from api.graphql.base import Connection, Edge, PageInfo, decode_cursor, encode_cursor, page_size

M = TypeVar("M")
N = TypeVar("N")


def _parse(value: str, sample: Any) -> Any:
    """A cursor part back in the key's type; anything else is a readable input error."""
    try:
        parsed: Any = datetime.fromisoformat(value) if isinstance(sample, datetime) else int(value)
    except ValueError:
        raise GraphQLError("无效的分页游标", extensions={"code": "BAD_USER_INPUT", "field": "after"}) from None
    if isinstance(parsed, int) and not 0 <= parsed < 2**63:
        raise GraphQLError("无效的分页游标", extensions={"code": "BAD_USER_INPUT", "field": "after"})
    return parsed


async def paginate(
    query: QuerySet[Any],
    *,
    keys: tuple[str, ...],
    samples: tuple[Any, ...],
    first: int | None,
    after: str | None,
    wrap: Callable[[Any], N],
    prepare: Callable[[list[Any]], Awaitable[None]] | None = None,
) -> Connection[N]:
    """A Relay page of `query` ordered by `keys` (the last key unique), after the cursor.

    `prepare` receives the page's rows before they are wrapped (to load what they refer to at once).
    """
    size = page_size(first)
    page = query
    if after:
        values = [_parse(v, s) for v, s in zip(decode_cursor(after, len(keys)), samples, strict=True)]
        # k1 >= v1 is implied by the tuple comparison; stated alone it lets the index seek to the
        # cursor instead of reading every earlier row of the department and filtering them out.
        page = page.filter(Q(**{f"{keys[0]}__gte": values[0]}) & _after(keys, values))
    rows = await page.order_by(*keys).limit(size + 1)
    more = len(rows) > size
    rows = rows[:size]
    if prepare is not None and rows:
        await prepare(rows)
    edges = [Edge(cursor=encode_cursor([_cursor_value(getattr(r, k)) for k in keys]), node=wrap(r)) for r in rows]

    async def count() -> int:
        return await query.count()

    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        _count=count,
    )


def _cursor_value(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _after(keys: tuple[str, ...], values: list[Any]) -> Q:
    """(k1, k2) > (v1, v2) spelled out so that any database can use the composite index."""
    if len(keys) == 1:
        return Q(**{f"{keys[0]}__gt": values[0]})
    head, rest = keys[0], keys[1:]
    return Q(**{f"{head}__gt": values[0]}) | (Q(**{head: values[0]}) & _after(rest, values[1:]))
