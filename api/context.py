"""The per-request (or per-socket) context every resolver receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from api.graphql.base import forbidden, unauthenticated
from api.graphql.loaders import Loaders
from models.account import User
from models.calendar import SHANGHAI
from models.enums import Role
from models.settings import Settings

if TYPE_CHECKING:
    from api.services import Services


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    services: Services
    user: User | None = None
    token_expires: int | None = None
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None
    clock: Callable[[], datetime] = shanghai_now

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def address(self) -> str:
        client = self.request.client
        return client.host if client else ""

    def require_user(self) -> User:
        """The signed-in user, or an UNAUTHENTICATED error."""
        if self.user is None:
            raise unauthenticated()
        return self.user

    def require_role(self, *roles: Role) -> User:
        """The signed-in user if they hold one of the roles, else FORBIDDEN."""
        user = self.require_user()
        if not user.has_role(*roles):
            raise forbidden()
        return user

    def now(self) -> datetime:
        return self.clock()


Info = StrawberryInfo[Context, None]
