"""The schema object, with its limits and caches."""

from __future__ import annotations

from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry import Schema
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.config import StrawberryConfig

from api.graphql.base import Node
from api.graphql.mutation import Mutation
from api.graphql.query import Query
from api.graphql.subscription import Subscription
from api.graphql.types import ApprovalDecision, ApprovalItem, DecisionPush, Department, Liaison, User
from api.limits import OperationGuard
from api.unavailable import MaskCrashes

MASKED_MESSAGE = "服务器内部错误，请稍后重试"


def is_unexpected(error: GraphQLError) -> bool:
    """Mask resolver crashes only; validation, auth and limit errors stay readable."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


# Rule classes made once: QueryDepthLimiter and MaxAliasesLimiter build a new class per instance,
# and ValidationCache is keyed by the rules, so with per-request factories it never hit.
MAX_TOKENS = 2000
LIMIT_RULES: list[type[ASTValidationRule]] = [max_depth_rule(12, None, None), max_aliases_rule(30)]

schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Node, Department, User, Liaison, ApprovalItem, ApprovalDecision, DecisionPush],
    extensions=[
        lambda: AddValidationRules(LIMIT_RULES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        OperationGuard,
        lambda: MaskCrashes(should_mask_error=is_unexpected, error_message=MASKED_MESSAGE),
    ],
    config=StrawberryConfig(auto_camel_case=True),
)
