"""Login abuse limits: repeated failures lock an account, and a client address, for a while.

Attempts are rows in the database, so every API process sees the same counts. An account is locked
after ACCOUNT_FAILURES failures within the window since its last successful login; an address after
ADDRESS_FAILURES failures within the window, whichever accounts they tried. A lock lasts LOCK_FOR
from the failure that set it; attempts refused while locked are recorded but do not extend it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.account import User, authenticate, storable
from models.audit import record_audit
from models.calendar import SHANGHAI
from models.db import write_transaction
from models.errors import DomainError

ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
MAX_READ = 200
# Attempts are kept a day (the audit trail keeps every one for good); older ones decide nothing.
KEEP_FOR = timedelta(days=1)


class Outcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    LOCKED = "LOCKED"


class LoginAttempt(Model):
    """One sign-in attempt: which account name, from where, when, and how it ended."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    username = fields.CharField(max_length=64)
    address = fields.CharField(max_length=64, default="")
    outcome = fields.CharEnumField(Outcome, max_length=16)

    class Meta:
        table = "login_attempt"
        indexes = (("username", "at"), ("address", "at"), ("at",))


class LoginLocked(DomainError):
    """Too many failed sign-ins: the account or the address may try again at `retry_at`."""

    def __init__(self, retry_at: datetime) -> None:
        local = retry_at.astimezone(SHANGHAI)
        super().__init__(
            f"登录失败次数过多，已暂时锁定，请于 {local:%H:%M} 后重试", field="username", code="LOGIN_LOCKED"
        )
        self.retry_at = retry_at


@dataclass(frozen=True)
class SignIn:
    user: User | None
    retry_at: datetime | None = None


async def locked_until(username: str, address: str, *, now: datetime) -> datetime | None:
    """When the account name or the address may try again, or None if neither is locked."""
    since = now - WINDOW - LOCK_FOR  # the oldest failure that can still be part of a running lock
    last_success = (
        await LoginAttempt.filter(username=username, outcome=Outcome.SUCCEEDED, at__gte=since).order_by("-at").first()
    )
    account = LoginAttempt.filter(username=username, outcome=Outcome.FAILED, at__gte=since)
    if last_success is not None:
        account = account.filter(at__gt=last_success.at)
    candidates = [await _lock_end(account, ACCOUNT_FAILURES, now)]
    if address:
        by_address = LoginAttempt.filter(address=address, outcome=Outcome.FAILED, at__gte=since)
        candidates.append(await _lock_end(by_address, ADDRESS_FAILURES, now))
    ends = [end for end in candidates if end is not None]
    return max(ends) if ends else None


async def _lock_end(failures: QuerySet[LoginAttempt], limit: int, now: datetime) -> datetime | None:
    """The end of a running lock: `limit` failures within WINDOW lock for LOCK_FOR after the last of them.

    Attempts refused while locked are not failures, so few rows are ever read (bounded all the same).
    """
    times = [row.at for row in await failures.order_by("-at").limit(MAX_READ).only("at")]
    for start in range(len(times) - limit + 1):
        latest, earliest = times[start], times[start + limit - 1]
        if latest - earliest <= WINDOW and latest + LOCK_FOR > now:
            return latest + LOCK_FOR
    return None


async def sign_in(username: str, password: str, *, address: str, now: datetime) -> SignIn:
    """Check the limits, then the credentials; every attempt is recorded and audited.

    The password is verified outside the writing transaction (it takes tens of milliseconds).
    """
    name = storable(username.strip()[:64])
    retry_at = await locked_until(name, address, now=now)
    user = None if retry_at is not None else await authenticate(username, password)
    outcome = Outcome.LOCKED if retry_at else Outcome.SUCCEEDED if user else Outcome.FAILED
    async with write_transaction():
        await LoginAttempt.filter(at__lt=now - KEEP_FOR).delete()
        await LoginAttempt.create(at=now, username=name, address=address[:64], outcome=outcome)
        await record_audit(
            {Outcome.LOCKED: "login_locked", Outcome.SUCCEEDED: "login", Outcome.FAILED: "login_failed"}[outcome],
            actor_id=user.id if user else None,
            department_id=user.department_id if user else None,
            object_type="User" if user else "",
            object_id=user.id if user else "",
            address=address,
            detail={"username": name} | ({"retryAt": retry_at.isoformat()} if retry_at else {}),
        )
    if outcome is Outcome.FAILED:  # this failure may be the one that sets a lock
        retry_at = await locked_until(name, address, now=now)
        if retry_at is not None:
            detail = {"username": name, "retryAt": retry_at.isoformat()}
            await record_audit("login_lockout", actor_id=None, department_id=None, address=address, detail=detail)
    return SignIn(user=user, retry_at=retry_at if outcome is not Outcome.SUCCEEDED else None)
