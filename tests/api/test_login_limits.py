"""Login abuse limits: lockout after repeated failures per account and per address; audited; in the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.auth import issue_token, user_for_token
from models.account import User, set_user_active
from models.audit import AuditRecord
from models.enums import Role
from models.login_guard import ACCOUNT_FAILURES, ADDRESS_FAILURES, LOCK_FOR, LoginAttempt, Outcome, sign_in
from tests import factories as f
from tests.api.conftest import Gql
from tests.conftest import SECRET

LOGIN = """mutation($u: String!, $p: String!) {
  login(username: $u, password: $p) { token retryAt user { username } errors { code field message } } }"""
T0 = f.at(2026, 3, 2, 9, 0)
WRONG = "Wrong-Pass-2026!"


async def login(gql: Gql, username: str, password: str, now: datetime) -> dict[str, Any]:
    result = await gql(LOGIN, {"u": username, "p": password}, now=now)
    assert result["errors"] == []
    payload: dict[str, Any] = result["data"]["login"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def officer() -> User:
    return await f.user(await f.department(), Role.OFFICER, username="zhang_wei")


async def test_five_failures_lock_the_account_for_fifteen_minutes(db: str, gql: Gql) -> None:
    await officer()
    for n in range(ACCOUNT_FAILURES - 1):
        assert codes(await login(gql, "zhang_wei", WRONG, T0 + timedelta(seconds=n))) == ["INVALID_CREDENTIALS"]
    fifth = T0 + timedelta(minutes=1)
    locked = await login(gql, "zhang_wei", WRONG, fifth)
    retry_at = fifth + LOCK_FOR
    assert codes(locked) == ["LOGIN_LOCKED"] and locked["token"] is None
    assert datetime.fromisoformat(locked["retryAt"]) == retry_at
    assert locked["errors"][0]["field"] == "username"
    assert f"{retry_at:%H:%M}" in locked["errors"][0]["message"] and "锁定" in locked["errors"][0]["message"]

    # The right password does not help while locked, and does not extend the lock either.
    still = await login(gql, "zhang_wei", f.PASSWORD, retry_at - timedelta(seconds=1))
    assert codes(still) == ["LOGIN_LOCKED"] and datetime.fromisoformat(still["retryAt"]) == retry_at
    after = await login(gql, "zhang_wei", f.PASSWORD, retry_at)
    assert after["errors"] == [] and after["token"] and after["user"] == {"username": "zhang_wei"}


async def test_a_successful_login_and_the_window_reset_the_account_count(db: str, gql: Gql) -> None:
    await officer()
    for n in range(ACCOUNT_FAILURES - 1):
        await login(gql, "zhang_wei", WRONG, T0 + timedelta(seconds=n))
    assert (await login(gql, "zhang_wei", f.PASSWORD, T0 + timedelta(seconds=10)))["token"]
    for n in range(ACCOUNT_FAILURES - 1):
        await login(gql, "zhang_wei", WRONG, T0 + timedelta(seconds=20 + n))
    # Four more after the success: not locked. Then, once those are older than the window, one more: not locked.
    assert (await login(gql, "zhang_wei", f.PASSWORD, T0 + timedelta(seconds=30)))["token"]
    for n in range(ACCOUNT_FAILURES - 1):
        await login(gql, "zhang_wei", WRONG, T0 + timedelta(minutes=1, seconds=n))
    late = await login(gql, "zhang_wei", WRONG, T0 + timedelta(minutes=17))
    assert codes(late) == ["INVALID_CREDENTIALS"]


async def test_an_unknown_account_name_locks_the_same_way(db: str, gql: Gql) -> None:
    """No difference between existing and unknown names: the lock does not reveal which accounts exist."""
    for n in range(ACCOUNT_FAILURES):
        payload = await login(gql, "no_such_user", WRONG, T0 + timedelta(seconds=n))
    assert codes(payload) == ["LOGIN_LOCKED"]


async def test_twenty_failures_from_one_address_lock_that_address_for_every_account(db: str, gql: Gql) -> None:
    await officer()
    for n in range(ADDRESS_FAILURES):
        # Spread over accounts so that no single account reaches its own limit.
        await login(gql, f"guess_{n % 5}", WRONG, T0 + timedelta(seconds=n))
    locked = await login(gql, "zhang_wei", f.PASSWORD, T0 + timedelta(minutes=2))
    assert codes(locked) == ["LOGIN_LOCKED"]
    assert datetime.fromisoformat(locked["retryAt"]) == T0 + timedelta(seconds=ADDRESS_FAILURES - 1) + LOCK_FOR
    # Another address is not locked (gql's requests come from 127.0.0.1).
    elsewhere = await sign_in("zhang_wei", f.PASSWORD, address="10.1.2.3", now=T0 + timedelta(minutes=2))
    assert elsewhere.user is not None and elsewhere.retry_at is None


async def test_attempts_and_lockouts_are_stored_and_audited(db: str, gql: Gql) -> None:
    user = await officer()
    assert (await login(gql, "zhang_wei", f.PASSWORD, T0))["token"]
    for n in range(ACCOUNT_FAILURES):
        await login(gql, "zhang_wei", WRONG, T0 + timedelta(seconds=1 + n))
    await login(gql, "zhang_wei", f.PASSWORD, T0 + timedelta(minutes=1))
    outcomes = await LoginAttempt.filter(username="zhang_wei").order_by("id").values_list("outcome", flat=True)
    assert outcomes == [Outcome.SUCCEEDED] + [Outcome.FAILED] * ACCOUNT_FAILURES + [Outcome.LOCKED]
    assert await LoginAttempt.filter(address="127.0.0.1").count() == ACCOUNT_FAILURES + 2
    actions = await AuditRecord.all().order_by("id").values_list("action", "actor_id", "object_type", "address")
    assert actions == [
        ("login", user.id, "User", "127.0.0.1"),
        *[("login_failed", None, "", "127.0.0.1")] * ACCOUNT_FAILURES,
        ("login_lockout", None, "", "127.0.0.1"),
        ("login_locked", None, "", "127.0.0.1"),
    ]
    lockout = await AuditRecord.get(action="login_lockout")
    assert lockout.detail["username"] == "zhang_wei" and "retryAt" in lockout.detail


async def test_a_disabled_accounts_token_stops_at_once(db: str) -> None:
    dept = await f.department()
    admin = await f.user(dept, Role.ADMIN)
    user = await f.user(dept, Role.OFFICER)
    token = issue_token(user, secret=SECRET, ttl_minutes=60, now=datetime.now(tz=T0.tzinfo))
    assert (await user_for_token(token, secret=SECRET))[0] is not None
    await set_user_active(admin, user.id, active=False)
    assert await user_for_token(token, secret=SECRET) == (None, None)


async def test_attempts_older_than_a_day_are_dropped_at_the_next_sign_in(db: str) -> None:
    await sign_in("old_name", WRONG, address="10.0.0.1", now=T0)
    await sign_in("old_name", WRONG, address="10.0.0.1", now=T0 + timedelta(hours=23))
    await sign_in("other_name", WRONG, address="10.0.0.2", now=T0 + timedelta(hours=25))
    kept = await LoginAttempt.all().order_by("id").values_list("username", flat=True)
    assert kept == ["old_name", "other_name"]
    assert await AuditRecord.filter(action="login_failed").count() == 3  # the trail keeps every attempt
