"""The execution context: graphql-core's, with plain scalars completed where they stand."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLBoolean, GraphQLID, GraphQLNonNull, GraphQLString
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# The Python type a value of these scalars already has when graphql-core's serialize would return
# it unchanged (a str for String and ID, a bool for Boolean).
PLAIN = ((GraphQLString, str), (GraphQLID, str), (GraphQLBoolean, bool))


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Completes a String, ID or Boolean field whose value is already that Python type at once.

    graphql-core completes every leaf through its Non-Null wrapper, a list check, a leaf check and
    the scalar's serialize; for these three scalars and values of their own type, all of that
    returns the value unchanged. An inbox page of 20 has about 160 leaves, a third of them such.
    Anything else (other scalars, enums, None, a value of another type) takes the usual way.
    """

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        inner = return_type.of_type if type(return_type) is GraphQLNonNull else return_type
        kind = type(result)
        for scalar, python_type in PLAIN:
            if inner is scalar and kind is python_type:
                return result
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)
