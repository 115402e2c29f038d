"""Signed tokens (JWT, HS256) and the user they stand for."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import jwt

from models.account import User
from models.db import from_row, parameter, row_values, select_list

ALGORITHM = "HS256"
MAX_USER_ID = 2**31 - 1


def issue_token(user: User, *, secret: str, ttl_minutes: int, now: datetime) -> str:
    """A token naming the user and the version of their access; it expires after the TTL."""
    claims = {
        "sub": str(user.id),
        "tv": user.token_version,
        "dep": user.department_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=ttl_minutes)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def bearer(value: object) -> str | None:
    """The token of an ``Authorization: Bearer …`` value, or None."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def user_for_token(token: str | None, *, secret: str) -> tuple[User | None, int | None]:
    """The active user a token stands for and when it expires; (None, None) if it is no good.

    Disabled users and tokens issued before a role or department change are refused at once,
    because every check reads the account's current ``token_version``.
    """
    if not token:
        return None, None
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "tv"]})
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None, None
    if not 0 < user_id <= MAX_USER_ID:  # a key the column cannot hold would fail in the query, not here
        return None, None
    user = await _user(user_id)
    if user is None or not user.is_active or user.token_version != claims.get("tv"):
        return None, None
    return user, int(claims["exp"])


async def _user(user_id: int) -> User | None:
    """The account by id, in a hand-written statement: every request and socket asks, and building the
    ORM's query each time cost more than running it."""
    conn = User._meta.db
    _, rows = await conn.execute_query(_user_sql(parameter(conn, 1)), [user_id])
    return from_row(User, row_values(rows[0])) if rows else None


@functools.cache
def _user_sql(by_id: str) -> str:
    return f'SELECT {select_list(User, "u")} FROM "{User._meta.db_table}" u WHERE u.id = {by_id}'
