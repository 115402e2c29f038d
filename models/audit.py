"""The audit trail (Art. 9): append-only record of who did what to which record, when, from where."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class AuditRecord(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True)
    actor_id = fields.IntField(null=True)
    department_id = fields.IntField(null=True)
    action = fields.CharField(max_length=64)
    object_type = fields.CharField(max_length=32, default="")
    object_id = fields.CharField(max_length=64, default="")
    address = fields.CharField(max_length=64, default="")
    detail: dict[str, Any] = fields.JSONField(default=dict)

    class Meta:
        table = "audit_record"
        indexes = (("object_type", "object_id"), ("actor_id", "at"))


async def record_audit(
    action: str,
    *,
    actor_id: int | None,
    department_id: int | None,
    object_type: str = "",
    object_id: str | int = "",
    address: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one audit record in the caller's transaction."""
    return await AuditRecord.create(
        action=action,
        actor_id=actor_id,
        department_id=department_id,
        object_type=object_type,
        object_id=str(object_id),
        address=address[:64],
        detail=detail or {},
    )
