"""Art. 22: drawing experts at random from the pool, recorded so that anyone can audit and reproduce it."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.enums import PoolStatus
from models.pool import Expert, conflicts_of

EXCLUDED_CONFLICT = "CONFLICT_OF_INTEREST"
EXCLUDED_RECENT = "DRAWN_RECENTLY"
EXCLUDED_ON_TASK = "ALREADY_ON_TASK"


class ExpertDraw(Model):
    """One draw: the seed, the sorted candidates, the exclusions with reasons and the result. Never changed."""

    id = fields.BigIntField(primary_key=True)
    task_id = fields.BigIntField(db_index=True)
    field = fields.CharField(max_length=64)
    count = fields.IntField()
    lookback_days = fields.IntField()
    seed = fields.BigIntField()
    candidates: list[int] = fields.JSONField(default=list)
    exclusions: list[dict[str, Any]] = fields.JSONField(default=list)
    result: list[int] = fields.JSONField(default=list)
    drawn_at = fields.DatetimeField()
    drawn_by_id = fields.IntField()

    class Meta:
        table = "expert_draw"


@dataclass(frozen=True)
class DrawPlan:
    """What a draw is made from: sorted candidates and the exclusions, each with its reason."""

    candidates: list[int]
    exclusions: list[dict[str, Any]]

    @property
    def eligible(self) -> list[int]:
        excluded = {e["expertId"] for e in self.exclusions}
        return [c for c in self.candidates if c not in excluded]


def pick(eligible: list[int], count: int, seed: int) -> list[int]:
    """The draw itself: random.Random(seed) over the sorted eligible ids, so a recorded seed replays it."""
    return sorted(random.Random(seed).sample(sorted(eligible), count))


def new_seed() -> int:
    """A fresh seed nobody chose (fits a signed 64-bit column)."""
    return secrets.randbits(62)


def replay(draw: ExpertDraw) -> list[int]:
    """Recompute a recorded draw from its seed, candidates and exclusions (equals draw.result if untouched)."""
    plan = DrawPlan(candidates=list(draw.candidates), exclusions=list(draw.exclusions))
    return pick(plan.eligible, draw.count, draw.seed)


async def plan_draw(
    *, pool_department_id: int, field: str, conflict_keys: set[str], task_id: int, lookback_days: int, now: datetime
) -> DrawPlan:
    """Approved, available experts of the field, less conflicts of interest, recent draws and the task's own."""
    experts = await Expert.filter(
        pool_department_id=pool_department_id, field=field, status=PoolStatus.APPROVED, is_available=True
    ).order_by("id")
    recent = await _drawn_since(now - timedelta(days=lookback_days))
    on_task = {e for draw in await ExpertDraw.filter(task_id=task_id) for e in draw.result}
    exclusions: list[dict[str, Any]] = []
    for expert in experts:
        if conflict_keys & set(conflicts_of(expert)):
            exclusions.append({"expertId": expert.id, "reason": EXCLUDED_CONFLICT})
        elif expert.id in on_task:
            exclusions.append({"expertId": expert.id, "reason": EXCLUDED_ON_TASK})
        elif expert.id in recent:
            exclusions.append({"expertId": expert.id, "reason": EXCLUDED_RECENT})
    return DrawPlan(candidates=[e.id for e in experts], exclusions=exclusions)


async def _drawn_since(moment: datetime) -> set[int]:
    return {e for draw in await ExpertDraw.filter(drawn_at__gte=moment) for e in draw.result}
