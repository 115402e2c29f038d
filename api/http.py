"""Plain-HTTP routes beside /graphql (files, reports, exports, metrics): one error shape, one sign-in, one audit.

Refusals use the GraphQL error shape, `{"errors": [{"message", "extensions": {"code", ...}}]}`, so a
client reads every error of the platform the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from api.auth import bearer, user_for_token
from models.account import User
from models.audit import record_audit
from models.db import write_transaction

if TYPE_CHECKING:  # api.services imports the hub, which imports metrics, which imports this module
    from api.services import Services


def error_body(code: str, message: str, **extensions: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def error_response(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extensions: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extensions), status_code=status, headers=headers)


async def request_user(request: Request) -> User | None:
    """The active user of the request's bearer token (the same token as /graphql), or None."""
    services: Services = request.app.state.services
    user, _ = await user_for_token(bearer(request.headers.get("authorization")), secret=services.settings.secret_key)
    return user


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


async def audit_read(
    request: Request,
    user: User,
    action: str,
    object_type: str,
    object_id: str | int,
    detail: dict[str, Any] | None = None,
) -> None:
    """A download or export is recorded like a mutation (Art. 9), in its own transaction."""
    async with write_transaction():
        await record_audit(
            action,
            actor_id=user.id,
            department_id=user.department_id,
            object_type=object_type,
            object_id=object_id,
            address=client_address(request),
            detail=detail,
        )
