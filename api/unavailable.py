"""The database away (restarting, failing over, unreachable): a readable 503, never a masked crash.

Requests that meet the database away cannot be served; what they can do is say so, so that a
client retries instead of reporting a bug. Nothing is half-written: every change runs in one
transaction, which the database rolls back when the connection drops.
"""

from __future__ import annotations

import asyncpg
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse
from strawberry.extensions import MaskErrors
from tortoise.exceptions import DBConnectionError, OperationalError

from api.http import error_response

MESSAGE = "数据库暂不可用，请稍后重试"
CODE = "SERVICE_UNAVAILABLE"
RETRY_AFTER_SECONDS = 5
# Connection refused or reset, the server shutting down or starting up, a pooled connection gone.
DOWN: tuple[type[BaseException], ...] = (
    OSError,
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
)
# What an exception handler is registered for: the DOWN types and tortoise's wrapper around them.
HANDLED: tuple[type[Exception], ...] = (
    OSError,
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
    OperationalError,
)


def is_database_down(error: BaseException | None) -> bool:
    """Whether the error, or one it was raised from, says the database could not be reached."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, DOWN):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def unavailable_error() -> GraphQLError:
    return GraphQLError(MESSAGE, extensions={"code": CODE, "retryAfter": RETRY_AFTER_SECONDS})


class MaskCrashes(MaskErrors):
    """MaskErrors, except that the database being away is said plainly (the client should retry)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if is_database_down(error.original_error):
            return GraphQLError(
                MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": CODE, "retryAfter": RETRY_AFTER_SECONDS},
            )
        return super().anonymise_error(error)


async def database_down(request: Request, error: Exception) -> JSONResponse:
    """Starlette exception handler: the database failed outside GraphQL execution (signing in a token)."""
    if not is_database_down(error):
        raise error
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return error_response(503, CODE, MESSAGE, headers=retry, retryAfter=RETRY_AFTER_SECONDS)
