"""Approval decisions and their pushes to supervising departments (Art. 18–20)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

from models.account import Department
from models.catalogue import ApprovalItem
from models.crypto import SealedField, lookup_hash, lookup_hashes
from models.enums import Channel, CounterpartyKind, DecisionStatus, PushStatus
from models.errors import InvalidTransition

CLAIM_WORKING_DAYS = 3
# claim_deadline is stored as 23:59:59 of the claim day (the contract's shape); the day itself
# lasts until 24:00, so a moment is past the deadline only from one second after it.
DAY_END_GRACE = timedelta(seconds=1)


def is_past(deadline: datetime, now: datetime) -> bool:
    """Art. 20: the claim day has ended (24:00 Asia/Shanghai) at `now`."""
    return now >= deadline + DAY_END_GRACE


def past_cutoff(now: datetime) -> datetime:
    """Deadlines at or before this moment have passed (for queries: claim_deadline__lte)."""
    return now - DAY_END_GRACE


class Decision(Model):
    """An issued licence (审批决定), with its counterparty (行政相对人)."""

    id = fields.BigIntField(primary_key=True)
    issuer: fields.ForeignKeyRelation[Department] = fields.ForeignKeyField(
        "shenguan.Department", related_name="decisions", on_delete=fields.RESTRICT
    )
    issuer_id: int
    item: fields.ForeignKeyRelation[ApprovalItem] = fields.ForeignKeyField(
        "shenguan.ApprovalItem", related_name="decisions", on_delete=fields.RESTRICT
    )
    item_id: int
    document_number = fields.CharField(max_length=64)
    content = fields.TextField()
    approved_on = fields.DateField()
    valid_from = fields.DateField(null=True)
    valid_until = fields.DateField(null=True)
    channel = fields.CharEnumField(Channel, max_length=16, default=Channel.PLATFORM)
    status = fields.CharEnumField(DecisionStatus, max_length=16, default=DecisionStatus.VALID)
    counterparty_name = fields.CharField(max_length=128)
    counterparty_kind = fields.CharEnumField(CounterpartyKind, max_length=16)
    # PIPL: stored sealed (models/crypto.py), found by its keyed hash (find_by_id_number).
    id_number = SealedField("decision.id_number", null=True)
    id_number_hash = fields.CharField(max_length=64, null=True)
    credit_code = fields.CharField(max_length=18, null=True)
    contact_name = fields.CharField(max_length=64, null=True)
    phone = SealedField("decision.phone", null=True)
    address = fields.CharField(max_length=256, null=True)
    content_hash = fields.CharField(max_length=64)
    commitment_based = fields.BooleanField(default=False, db_default=False)  # Art. 24: granted on a written commitment
    created_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "shenguan.User", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    created_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "decision"
        unique_together = (("issuer_id", "document_number"),)
        # Also (status, valid_until) for the daily expiry: migration 0006 (a plain index, no SQLite rebuild).
        indexes = (("issuer_id", "created_at"), ("id_number_hash",))


class DecisionPush(Model):
    """A decision pushed to one supervising department, to be claimed within 3 working days."""

    id = fields.BigIntField(primary_key=True)
    decision: fields.ForeignKeyRelation[Decision] = fields.ForeignKeyField(
        "shenguan.Decision", related_name="pushes", on_delete=fields.RESTRICT
    )
    decision_id: int
    department: fields.ForeignKeyRelation[Department] = fields.ForeignKeyField(
        "shenguan.Department", related_name="pushes", on_delete=fields.RESTRICT
    )
    department_id: int
    status = fields.CharEnumField(PushStatus, max_length=16, default=PushStatus.PENDING)
    pushed_at = fields.DatetimeField()
    claim_due_on = fields.DateField()
    claim_deadline = fields.DatetimeField()
    deadline_provisional = fields.BooleanField(default=False)
    claimed_at = fields.DatetimeField(null=True)
    claimed_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "shenguan.User", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    claimed_by_id: int | None
    claimed_late = fields.BooleanField(default=False)
    claim_hours = fields.FloatField(null=True)  # working hours from push to claim (statistics)
    return_reason = fields.CharField(max_length=500, null=True)
    returned_at = fields.DatetimeField(null=True)
    returned_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "shenguan.User", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    returned_by_id: int | None
    rerouted_from: fields.ForeignKeyNullableRelation[DecisionPush] = fields.ForeignKeyField(
        "shenguan.DecisionPush", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    rerouted_from_id: int | None
    reminded_at = fields.DatetimeField(null=True)
    overdue_at = fields.DatetimeField(null=True)

    class Meta:
        table = "decision_push"
        # Also unique (decision_id, department_id): migration 0004 (an index, so SQLite needs no rebuild).
        # (department_id, claim_deadline, id) serves every inbox page in order, at any depth;
        # decision_id serves a decision's pushes (loaders, visibility).
        indexes = (
            ("department_id", "status", "claim_deadline", "id"),
            ("department_id", "claim_deadline", "id"),
            ("status", "claim_deadline"),
            ("decision_id",),
        )

    def is_overdue(self, now: datetime) -> bool:
        """Art. 20: a push still unclaimed after the end of its claim day is overdue."""
        return self.status is PushStatus.PENDING and is_past(self.claim_deadline, now)


def _content_blob(fields_: dict[str, Any]) -> str:
    return json.dumps(fields_, sort_keys=True, default=str, ensure_ascii=False)


def content_fingerprint(fields_: dict[str, Any]) -> str:
    """A stable digest of a decision's content, so an integrator's retry is recognised.

    Keyed (HMAC under the data keyring's lookup key): the content includes the ID number and
    phone, and a plain hash of it would let anyone holding the table confirm a guessed number.
    """
    return lookup_hash(_content_blob(fields_))


def content_fingerprint_matches(fields_: dict[str, Any], digest: str) -> bool:
    """The digest is this content's under any key of the ring (rows a rotation has not reached yet)."""
    return digest in lookup_hashes(_content_blob(fields_))


def id_number_lookup(id_number: str) -> str:
    """The keyed hash stored beside a sealed ID number (normalised form) for exact lookups."""
    return lookup_hash(id_number)


def with_id_number(id_number: str) -> Q:
    """A filter for decisions whose counterparty has this ID number, without decrypting any row."""
    return Q(id_number_hash__in=lookup_hashes(id_number))


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# Art. 21 (3), 34: how a decision's status may change. A decision still in force (VALID, or AMENDED
# and so still in force in its amended form) may be amended again, withdrawn, revoked, cancelled or
# expire; WITHDRAWN, REVOKED, CANCELLED and EXPIRED are final.
IN_FORCE = (DecisionStatus.VALID, DecisionStatus.AMENDED)
ALLOWED_TRANSITIONS: dict[DecisionStatus, frozenset[DecisionStatus]] = {
    DecisionStatus.VALID: frozenset(
        {
            DecisionStatus.AMENDED,
            DecisionStatus.WITHDRAWN,
            DecisionStatus.REVOKED,
            DecisionStatus.CANCELLED,
            DecisionStatus.EXPIRED,
        }
    ),
    DecisionStatus.AMENDED: frozenset(
        {
            DecisionStatus.AMENDED,
            DecisionStatus.WITHDRAWN,
            DecisionStatus.REVOKED,
            DecisionStatus.CANCELLED,
            DecisionStatus.EXPIRED,
        }
    ),
    DecisionStatus.WITHDRAWN: frozenset(),
    DecisionStatus.REVOKED: frozenset(),
    DecisionStatus.CANCELLED: frozenset(),
    DecisionStatus.EXPIRED: frozenset(),
}
STATUS_NAMES = {
    DecisionStatus.VALID: "有效",
    DecisionStatus.AMENDED: "已变更",
    DecisionStatus.WITHDRAWN: "已撤回",
    DecisionStatus.REVOKED: "已撤销",
    DecisionStatus.CANCELLED: "已注销",
    DecisionStatus.EXPIRED: "已过期",
}


def transition(decision: Decision, to: DecisionStatus, *, field: str = "status") -> DecisionStatus:
    """Check that the decision may move to `to`; returns the status it moves from.

    An illegal move is a typed ILLEGAL_TRANSITION error naming `field`. The caller writes the change
    with a conditional update on the returned status, so a concurrent change is caught too.
    """
    current = decision.status
    if to not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(
            f"审批决定当前为“{STATUS_NAMES[current]}”，不能改为“{STATUS_NAMES[to]}”",
            field=field,
            code="ILLEGAL_TRANSITION",
        )
    return current
