"""The schema object, with its limits and caches."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from api.graphql.base import Node
from api.graphql.mutation import Mutation
from api.graphql.query import Query
from api.graphql.subscription import Subscription
from api.graphql.types import ApprovalDecision, ApprovalItem, DecisionPush, Department, Liaison, User


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask resolver crashes only; validation, auth and limit errors stay readable."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Node, Department, User, Liaison, ApprovalItem, ApprovalDecision, DecisionPush],
    extensions=[
        lambda: QueryDepthLimiter(max_depth=12),
        lambda: MaxAliasesLimiter(max_alias_count=30),
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: MaskErrors(should_mask_error=_is_unexpected, error_message="服务器内部错误，请稍后重试"),
    ],
    config=StrawberryConfig(auto_camel_case=True),
)
