"""The database away is said plainly: 503 before execution, SERVICE_UNAVAILABLE inside it, never a masked crash.

The end-to-end proof is test_postgres_restart.py (a real cluster restarted under load); these pin
the pieces on any machine.
"""

from __future__ import annotations

import asyncpg
import httpx
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise.exceptions import IntegrityError, OperationalError

from api.graphql.schema import MASKED_MESSAGE, is_unexpected
from api.unavailable import HANDLED, MaskCrashes, database_down, is_database_down


def raised_from(cause: BaseException) -> OperationalError:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise OperationalError(inner) from inner
    except OperationalError as outer:
        return outer


def test_the_database_away_is_recognised_through_tortoises_wrapping() -> None:
    assert is_database_down(ConnectionRefusedError(111, "Connection refused"))
    assert is_database_down(raised_from(asyncpg.exceptions.ConnectionDoesNotExistError("closed")))
    assert is_database_down(raised_from(asyncpg.exceptions.CannotConnectNowError("starting up")))
    assert not is_database_down(IntegrityError("duplicate key"))
    assert not is_database_down(raised_from(ValueError("a bug")))
    assert not is_database_down(None)


def test_a_resolver_meeting_the_database_away_gets_a_readable_error_and_a_bug_stays_masked() -> None:
    mask = MaskCrashes(should_mask_error=is_unexpected, error_message=MASKED_MESSAGE)
    down = GraphQLError("boom", original_error=raised_from(ConnectionResetError()), path=["decisions"])
    bug = GraphQLError("boom", original_error=ZeroDivisionError(), path=["decisions"])
    [readable, masked] = mask._process_errors([down, bug])
    assert (readable.message, readable.extensions, readable.path) == (
        "数据库暂不可用，请稍后重试",
        {"code": "SERVICE_UNAVAILABLE", "retryAfter": 5},
        ["decisions"],
    )
    assert (masked.message, masked.extensions or None) == (MASKED_MESSAGE, None)


async def test_outside_execution_the_database_away_is_a_503_with_json_and_retry_after() -> None:
    async def down(request: Request) -> Response:
        raise raised_from(ConnectionRefusedError(111, "Connection refused"))

    app = Starlette(routes=[Route("/graphql", down)], exception_handlers=dict.fromkeys(HANDLED, database_down))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/graphql")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "errors": [
            {"message": "数据库暂不可用，请稍后重试", "extensions": {"code": "SERVICE_UNAVAILABLE", "retryAfter": 5}}
        ]
    }
