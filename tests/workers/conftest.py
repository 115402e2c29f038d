"""A real arq worker in burst mode on the test's Redis and database, with a clock the test sets.

arq decides *when* a job is due by its own wall clock (time.time()); the jobs decide *what* to do
by ctx["clock"]. Tests therefore make chosen jobs due on arq's clock (score 1 in the queue) and set
our clock to the moment the wake-up stands for, whatever today's real date is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.constants import default_queue_name, job_key_prefix
from arq.worker import Worker

from models.account import Department, User
from models.catalogue import ApprovalItem
from models.enums import DepartmentKind, Role
from models.settings import Settings
from tests import factories as f
from workers.redis import arq_pool
from workers.settings import build_worker, fresh_cron_jobs

QUEUE = default_queue_name


class Clock:
    """What the jobs read as "now"; the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def pool(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[ArqRedis]:
    """An arq pool on the (emptied) test Redis."""
    arq = await arq_pool(settings)
    yield arq
    await arq.aclose()


RunJobs = Callable[..., Awaitable[Worker]]


@pytest.fixture
def run_jobs(settings: Settings, pool: ArqRedis, db: str) -> RunJobs:
    """Run the named queued jobs (or, with cron=True, the start-up sweep) in a burst worker at `now`.

    Other queued jobs are held out of the queue meanwhile and put back afterwards, so a test runs
    exactly the wake-ups it means to. Returns the finished worker (for its job counters).
    """

    async def run(now: datetime, *job_ids: str, cron: bool = False) -> Worker:
        queued = {key.decode(): score for key, score in await pool.zrange(QUEUE, 0, -1, withscores=True)}
        missing = set(job_ids) - set(queued)
        assert not missing, f"not queued: {sorted(missing)}"
        held = {job_id: score for job_id, score in queued.items() if job_id not in job_ids}
        if held:
            await pool.zrem(QUEUE, *held)
        if job_ids:
            await pool.zadd(QUEUE, dict.fromkeys(job_ids, 1))  # due on arq's wall clock
        # With cron, exactly one start-up sweep runs; without, none (it would do the jobs' work for them).
        sweep_only = [job for job in fresh_cron_jobs() if job.name == "sweep"]
        overrides: dict[str, object] = (
            {"max_burst_jobs": len(job_ids) + 1, "cron_jobs": sweep_only} if cron else {"cron_jobs": []}
        )
        worker = build_worker(
            settings,
            burst=True,
            poll_delay=0.01,
            handle_signals=False,
            ctx={"clock": Clock(now)},
            open_db=False,
            redis_pool=pool,
            **overrides,
        )
        await worker.main()
        # The worker may already have queued its next cron slot (deferred): not this test's business.
        for key in await pool.zrange(QUEUE, 0, -1):
            if key.startswith(b"sweep:"):
                await pool.zrem(QUEUE, key)
                await pool.delete(job_key_prefix + key.decode())
        if held:
            await pool.zadd(QUEUE, held)
        return worker

    return run


@dataclass
class World:
    approval: Department
    supervision: Department
    issuer: User
    receiver: User
    admin: User
    item: ApprovalItem


@pytest.fixture
async def world(db: str) -> World:
    """An approval department issuing an item that one city-level supervision department supervises."""
    approval = await f.department(DepartmentKind.APPROVAL)
    supervision = await f.department()
    return World(
        approval=approval,
        supervision=supervision,
        issuer=await f.user(approval, Role.OFFICER),
        receiver=await f.user(supervision, Role.LIAISON),
        admin=await f.user(approval, Role.ADMIN),
        item=await f.item(supervision),
    )
