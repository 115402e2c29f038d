"""Building blocks: global ids, typed user errors, Relay connections with keyset cursors."""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from models.errors import DomainError, ValidationErrors

T = TypeVar("T")
MAX_PAGE = 100
DEFAULT_PAGE = 20


class RowField(StrawberryField):
    """A field that is an attribute of the wrapped ORM row (`row`), read without a resolver.

    strawberry runs every field that has a resolver through argument parsing, an Info object and
    its extension chain, about a third of the time such a field takes; a plain read skips all of
    it. The value lives on the row, so the field is no argument of the type's constructor.
    """

    def __init__(self, attribute: str | None = None, description: str | None = None) -> None:
        super().__init__(description=description)
        self.init = self.repr = self.compare = False
        self.attribute = attribute

    def get_result(self, source: Any, info: Any, args: list[Any], kwargs: Any) -> Any:
        return getattr(source.row, self.attribute or self.python_name)


def row_field(attribute: str | None = None, *, description: str | None = None) -> Any:
    """The row's attribute of the field's own name (or `attribute`) as a GraphQL field."""
    return RowField(attribute, description)


class DerivedField(StrawberryField):
    """A field computed from the object alone (no arguments, no context), read without a resolver.

    As RowField, for values that are a small function of the wrapped row rather than one of its
    attributes: a global id, a sub-object over the same row. A field that needs the viewer or a
    loader keeps its resolver.
    """

    def __init__(self, compute: Callable[[Any], Any], description: str | None = None) -> None:
        super().__init__(description=description)
        self.init = self.repr = self.compare = False
        self.compute = compute

    def get_result(self, source: Any, info: Any, args: list[Any], kwargs: Any) -> Any:
        return self.compute(source)


def derived_field(compute: Callable[[Any], Any], *, description: str | None = None) -> Any:
    """`compute(obj)` as a GraphQL field of the object (see DerivedField)."""
    return DerivedField(compute, description)


class LoadedField(StrawberryField):
    """A field read through the request's context (a loader), resolved by graphql-core directly.

    strawberry gives every field with a resolver an Info object, argument parsing and its extension
    chain; for a sub-object that a page has usually loaded already (a push's decision, a decision's
    item and issuer) that machinery is most of what the field costs, sixty times on an inbox page.
    `resolve(source, info)` gets graphql-core's own info (`info.context` is the request's context)
    and may return the value or an awaitable. use_loaded_fields() puts it in place once the schema
    is built; until then the field has no resolver of its own and is not usable.
    """

    def __init__(self, resolve: Callable[[Any, Any], Any], description: str | None = None) -> None:
        super().__init__(description=description)
        self.init = self.repr = self.compare = False
        self.resolve = resolve

    def get_result(self, source: Any, info: Any, args: list[Any], kwargs: Any) -> Any:
        raise RuntimeError(f"{self.python_name}: use_loaded_fields() was not applied to the schema")


def loaded_field(resolve: Callable[[Any, Any], Any], *, description: str | None = None) -> Any:
    """`resolve(obj, info)` as a GraphQL field of the object, without strawberry's resolver wrapping."""
    return LoadedField(resolve, description)


def use_loaded_fields(schema: strawberry.Schema) -> int:
    """Give every LoadedField of the built schema its own resolve function; returns how many."""
    installed = 0
    for graphql_type in schema._schema.type_map.values():
        for graphql_field in getattr(graphql_type, "fields", {}).values():
            definition = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if isinstance(definition, LoadedField):
                graphql_field.resolve = definition.resolve
                installed += 1
    return installed


def global_id(type_name: str) -> Any:
    """The `id` field of a row-backed Node: the global id of `type_name` and the row's key."""
    return DerivedField(lambda source: to_global_id(type_name, source.row.id))


@strawberry.interface(description="An object with a global id; `node(id:)` fetches any of them.")
class Node:
    @strawberry.field(description="The global id.")
    def id(self) -> strawberry.ID:
        raise NotImplementedError


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("="))


MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1
INT_KEYED = {"Department", "User", "Liaison", "ApprovalItem", "Expert", "Agency"}


class BadId(DomainError):
    code = "INVALID_ID"


def from_global_id(value: str, expected: str | None = None, *, field: str = "id") -> tuple[str, int]:
    """Decode a global id; a malformed one or one of another type is a typed error naming the field."""
    try:
        padded = value + "=" * (-len(value) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        pk = int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadId("无效的ID", field=field) from None
    if expected is not None and type_name != expected:
        raise BadId(f"ID 不是 {expected} 类型", field=field)
    if not 0 < pk <= (MAX_INT if type_name in INT_KEYED else MAX_BIGINT):
        raise BadId("无效的ID", field=field)
    return type_name, pk


@strawberry.type(description="Invalid input or a broken business rule; `field` names the input path.")
class UserError:
    code: str
    field: str | None
    message: str


def user_errors(error: DomainError) -> list[UserError]:
    """The one place where domain errors become the payload's `errors` list."""
    items = error.errors if isinstance(error, ValidationErrors) else [error]
    return [UserError(code=e.code, field=e.field, message=e.message) for e in items]


@contextlib.contextmanager
def query_errors() -> Iterator[None]:
    """Domain errors met by a query (no payload to carry them) become readable input errors.

    The same shape as the other argument errors (`first`, `after`): BAD_USER_INPUT with the field,
    and the domain's own code as `reason`.
    """
    try:
        yield
    except DomainError as error:
        extensions = {"code": "BAD_USER_INPUT", "field": error.field, "reason": error.code}
        raise GraphQLError(error.message, extensions=extensions) from None


def forbidden(message: str = "没有权限执行此操作") -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


def unauthenticated() -> GraphQLError:
    return GraphQLError("请先登录", extensions={"code": "UNAUTHENTICATED"})


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items match, over all pages.")
    async def total_count(self) -> int:
        return await self._count()


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode("|".join(str(v) for v in values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    parts = raw.split("|")
    if len(parts) != arity:
        raise GraphQLError("无效的分页游标", extensions={"code": "BAD_USER_INPUT", "field": "after"})
    return parts


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise GraphQLError(
            f"first 必须在 0 到 {MAX_PAGE} 之间", extensions={"code": "BAD_USER_INPUT", "field": "first"}
        )
    return first


def given(value: T | None) -> T | None:
    """An optional argument's value, with "not given" (UNSET) read as None."""
    return None if value is strawberry.UNSET else value
