"""Executing operations through the schema, as a signed-in user, with the real services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from starlette.requests import Request

from api.context import Context
from api.graphql.schema import schema
from api.services import Services
from models.account import User
from models.settings import Settings

Gql = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def services(db: str, redis: Any, settings: Settings) -> AsyncIterator[Services]:
    started = await Services.start(settings, poll_interval=0.2)
    yield started
    await started.stop()


def make_context(services: Services, user: User | None, now: datetime | None = None) -> Context:
    request = Request({"type": "http", "client": ("127.0.0.1", 5555), "headers": [], "method": "POST"})
    context = Context(request=request, response=None, services=services, user=user)
    if now is not None:
        context.clock = lambda: now
    return context


@pytest.fixture
def gql(services: Services) -> Gql:
    """Run an operation; returns {"data": …, "errors": [{message, code}]} like a client would see."""

    async def run(
        query: str, variables: dict[str, Any] | None = None, *, user: User | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        result = await schema.execute(query, variable_values=variables, context_value=make_context(services, user, now))
        errors = [
            {"message": e.message, "code": (e.extensions or {}).get("code"), "path": e.path}
            for e in result.errors or []
        ]
        return {"data": result.data, "errors": errors}

    return run
