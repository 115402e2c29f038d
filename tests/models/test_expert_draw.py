"""The expert draw is fair, honours its exclusions and replays from its recorded seed (Art. 22)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from models.expert_draw import EXCLUDED_CONFLICT, EXCLUDED_RECENT, DrawPlan, ExpertDraw, pick, plan_draw, replay

ELIGIBLE = [3, 5, 8, 13, 21, 34, 55, 89, 144, 233]
DRAWS = 500


def test_same_seed_same_result_whatever_the_input_order() -> None:
    assert pick(ELIGIBLE, 3, 42) == pick(list(reversed(ELIGIBLE)), 3, 42)
    assert pick(ELIGIBLE, 3, 42) == sorted(pick(ELIGIBLE, 3, 42))
    assert len({tuple(pick(ELIGIBLE, 3, seed)) for seed in range(50)}) > 1


def test_every_eligible_expert_is_drawn_and_none_dominates_over_500_seeded_draws() -> None:
    """Seeds 0..499 are fixed, so the bound cannot flake: expected 150 each, allowed 75..225."""
    counts: Counter[int] = Counter()
    for seed in range(DRAWS):
        result = pick(ELIGIBLE, 3, seed)
        assert len(set(result)) == 3 and set(result) <= set(ELIGIBLE)
        counts.update(result)
    assert set(counts) == set(ELIGIBLE)
    assert all(75 <= counts[e] <= 225 for e in ELIGIBLE), counts


def test_excluded_experts_are_never_drawn() -> None:
    plan = DrawPlan(
        candidates=ELIGIBLE,
        exclusions=[{"expertId": 5, "reason": EXCLUDED_CONFLICT}, {"expertId": 89, "reason": EXCLUDED_RECENT}],
    )
    assert plan.eligible == [3, 8, 13, 21, 34, 55, 144, 233]
    drawn = {e for seed in range(DRAWS) for e in pick(plan.eligible, 2, seed)}
    assert drawn == set(plan.eligible)


async def test_recorded_draws_replay_and_recent_ones_are_excluded(db: str) -> None:
    from models.enums import PoolStatus
    from models.pool import Expert
    from tests import factories as f

    now = f.at(2026, 9, 29)
    experts = [
        await Expert.create(
            pool_department_id=1,
            name=f"专家{n}",
            field="消防",
            title="工程师",
            employer="单位",
            phone="13953712345",
            conflicts=["91370800MA3C4D5E6X"] if n == 0 else [],
            status=PoolStatus.APPROVED if n != 4 else PoolStatus.SUSPENDED,
            proposed_at=now,
        )
        for n in range(6)
    ]
    ids = [e.id for e in experts]
    await ExpertDraw.create(
        task_id=7,
        field="消防",
        count=1,
        lookback_days=30,
        seed=1,
        candidates=ids,
        exclusions=[],
        result=[ids[1]],
        drawn_at=now - timedelta(days=40),
        drawn_by_id=1,
    )
    await ExpertDraw.create(
        task_id=8,
        field="消防",
        count=1,
        lookback_days=30,
        seed=2,
        candidates=ids,
        exclusions=[],
        result=[ids[2]],
        drawn_at=now - timedelta(days=10),
        drawn_by_id=1,
    )
    plan = await plan_draw(
        pool_department_id=1, field="消防", conflict_keys={"91370800MA3C4D5E6X"}, task_id=9, lookback_days=30, now=now
    )
    assert plan.candidates == [ids[0], ids[1], ids[2], ids[3], ids[5]]  # the suspended expert is no candidate
    assert plan.exclusions == [
        {"expertId": ids[0], "reason": EXCLUDED_CONFLICT},
        {"expertId": ids[2], "reason": EXCLUDED_RECENT},
    ]
    exclusions = [{"expertId": ids[0], "reason": EXCLUDED_CONFLICT}]
    made = await ExpertDraw.create(
        task_id=9,
        field="消防",
        count=2,
        lookback_days=30,
        seed=987654321,
        candidates=ids,
        exclusions=exclusions,
        result=pick(ids[1:], 2, 987654321),
        drawn_at=now,
        drawn_by_id=1,
    )
    stored = await ExpertDraw.get(id=made.id)
    assert replay(stored) == stored.result and ids[0] not in stored.result
