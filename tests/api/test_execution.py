"""The execution context's shortcut for plain scalars returns exactly what graphql-core would."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.graphql.execution import ExecutionContext


@strawberry.type
class Thing:
    name: str
    code: strawberry.ID
    flag: bool
    maybe: str | None
    count: int

    @strawberry.field
    def number_as_text(self) -> str:
        return 5  # type: ignore[return-value]  # a value of another type: serialized as before

    @strawberry.field
    def missing(self) -> str:
        return None  # type: ignore[return-value]  # null for a non-null field: an error as before

    @strawberry.field
    def names(self) -> list[str]:
        return ["甲", "乙"]


@strawberry.type
class Query:
    @strawberry.field
    def thing(self) -> Thing:
        return Thing(name="审批", code=strawberry.ID("VGhpbmc6MQ"), flag=True, maybe=None, count=3)


QUERY = "{ thing { name code flag maybe count numberAsText names } }"


async def run(context_class: type[StrawberryGraphQLCoreExecutionContext], query: str = QUERY) -> Any:
    schema = strawberry.Schema(query=Query, execution_context_class=context_class)
    result = await schema.execute(query)
    return result.data, [e.message for e in result.errors or []]


async def test_plain_scalars_come_out_as_graphql_core_serializes_them() -> None:
    ours = await run(ExecutionContext)
    assert ours == await run(StrawberryGraphQLCoreExecutionContext)
    assert ours[0] == {
        "thing": {
            "name": "审批",
            "code": "VGhpbmc6MQ",
            "flag": True,
            "maybe": None,
            "count": 3,
            "numberAsText": "5",
            "names": ["甲", "乙"],
        }
    }


@pytest.mark.parametrize("query", ["{ thing { missing } }", "{ thing { name missing } }"])
async def test_a_null_for_a_non_null_string_is_the_same_error(query: str) -> None:
    data, errors = await run(ExecutionContext, query)
    assert (data, errors) == await run(StrawberryGraphQLCoreExecutionContext, query)
    assert data is None and errors == ["Cannot return null for non-nullable field Thing.missing."]
