"""The schema object, with its limits and caches."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry import Schema
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.config import StrawberryConfig

from api.graphql.backflow import BackflowMutation, BackflowQuery, EvidenceFile, Notice, SupervisionAction
from api.graphql.base import Node, use_loaded_fields
from api.graphql.commitment import CommitmentOutcome, CommitmentQuery, CreditRecord, VerificationTask
from api.graphql.commitment_mutation import CommitmentMutation
from api.graphql.denials import AuditDenials
from api.graphql.execution import ExecutionContext
from api.graphql.inspection import InspectionInvitation, InspectionQuery, InspectionTask
from api.graphql.inspection_mutation import InspectionMutation
from api.graphql.liaison import LIAISON_TYPES, LiaisonMutation, LiaisonQuery
from api.graphql.mutation import Mutation as CoreMutation
from api.graphql.obligations import Obligation, ObligationQuery
from api.graphql.pool import Agency, Expert, PoolMutation, PoolQuery
from api.graphql.query import Query as CoreQuery
from api.graphql.reports import ReportMutation, ReportQuery, TimelinessReport
from api.graphql.subscription import Subscription
from api.graphql.types import ApprovalDecision, ApprovalItem, DecisionPush, Department, Liaison, User
from api.limits import OperationGuard
from api.metrics import OperationMetrics
from api.unavailable import MaskCrashes

MASKED_MESSAGE = "服务器内部错误，请稍后重试"


def is_unexpected(error: GraphQLError) -> bool:
    """Mask resolver crashes only; validation, auth and limit errors stay readable."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


# Rule classes made once: QueryDepthLimiter and MaxAliasesLimiter build a new class per instance,
# and ValidationCache is keyed by the rules, so with per-request factories it never hit.
MAX_TOKENS = 2000
LIMIT_RULES: list[type[ASTValidationRule]] = [max_depth_rule(12, None, None), max_aliases_rule(30)]


@strawberry.type
class Query(
    CoreQuery, ObligationQuery, ReportQuery, BackflowQuery, LiaisonQuery, PoolQuery, InspectionQuery, CommitmentQuery
):
    """Every query: the core's, then each flow's, merged into one root type."""


@strawberry.type
class Mutation(
    CoreMutation,
    ReportMutation,
    BackflowMutation,
    LiaisonMutation,
    PoolMutation,
    InspectionMutation,
    CommitmentMutation,
):
    """Every mutation: the core's, then each flow's (add a flow's mixin to the bases)."""


schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[
        *(Node, Department, User, Liaison, ApprovalItem, ApprovalDecision, DecisionPush, Obligation),
        TimelinessReport,
        *LIAISON_TYPES,
        *(Expert, Agency, InspectionTask, InspectionInvitation, VerificationTask, CommitmentOutcome, CreditRecord),
        *(SupervisionAction, Notice, EvidenceFile),
    ],
    extensions=[
        lambda: AddValidationRules(LIMIT_RULES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        OperationGuard,
        lambda: MaskCrashes(should_mask_error=is_unexpected, error_message=MASKED_MESSAGE),
        OperationMetrics,
        AuditDenials,
    ],
    config=StrawberryConfig(auto_camel_case=True),
    execution_context_class=ExecutionContext,
)
use_loaded_fields(schema)
