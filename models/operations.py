"""Figures for operators: the claim backlog per department level, read in one aggregate query."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q
from tortoise.functions import Count

from models.decision import DecisionPush
from models.enums import AdminLevel, PushStatus


async def push_backlog(now: datetime) -> dict[str, tuple[int, int]]:
    """Per department level: (pending pushes, of which overdue). Every level appears, zero when empty."""
    rows = (
        await DecisionPush.filter(status=PushStatus.PENDING)
        .annotate(pending=Count("id"), overdue=Count("id", _filter=Q(claim_deadline__lt=now)))
        .group_by("department__level")
        .values("department__level", "pending", "overdue")
    )
    backlog = {level.value: (0, 0) for level in AdminLevel}
    for row in rows:
        backlog[str(row["department__level"])] = (int(row["pending"]), int(row["overdue"]))
    return backlog
