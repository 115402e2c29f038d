"""Faults with real processes: racing API processes, a paused Redis, a worker killed mid-sweep.

The in-process races are in test_concurrency.py and Redis killed and restarted mid-burst in
test_live_faults.py; these run the same promises through several `shenguan serve` / `shenguan
worker` processes at once. FAULT_SCALE (default 1) multiplies the sizes; `make faults` runs them big.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from api.graphql.base import to_global_id
from models.calendar import SHANGHAI
from models.decision import Decision, DecisionPush
from models.enums import DepartmentKind, PushStatus, Role
from models.event import Event, EventKind, last_sequence
from models.settings import Settings
from tests import factories as f
from tests.api.test_concurrency import CLAIM
from tests.api.test_decisions import ISSUE, issue_input
from tests.api.test_decisions import world as decision_world
from tests.api.test_live_faults import Received, committed_pushes, own_redis, until
from tests.api.test_subscriptions import PUSHED, WAIT, LiveSocket, issue, token_for, world
from tests.conftest import ROOT
from workers.redis import EmbeddedRedis

SCALE = int(os.environ.get("FAULT_SCALE", "1"))
__all__ = ["own_redis"]  # the fixture, imported for this module's tests


async def post_all(calls: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """POST every (server url, token, body) at once; the JSON answers in the same order."""
    async with httpx.AsyncClient(timeout=WAIT * 4, limits=httpx.Limits(max_connections=100)) as client:

        async def one(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
            response = await client.post(url + "/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            answer: dict[str, Any] = response.json()
            return answer

        return await asyncio.gather(*(one(*call) for call in calls))


@pytest.mark.slow
async def test_fifty_concurrent_claims_across_two_api_processes_have_one_winner(
    db: str, redis: aioredis.Redis, server_factory: Any
) -> None:
    market = await f.department()
    issuer = await f.user(await f.department(DepartmentKind.APPROVAL), Role.OFFICER)
    decision = await f.decision(issuer, await f.item(market), now=datetime.now(SHANGHAI) - timedelta(days=1))
    push = await DecisionPush.get(decision_id=decision.id)
    officers = [await f.user(market, Role.OFFICER, username=f"racer{i:02d}") for i in range(50)]
    servers = [server_factory(), server_factory()]
    body = {"query": CLAIM, "variables": {"id": to_global_id("DecisionPush", push.id)}}
    answers = await post_all([(servers[i % 2].url, token_for(o), body) for i, o in enumerate(officers)])
    assert [a.get("errors") for a in answers] == [None] * 50
    payloads = [a["data"]["claimPush"] for a in answers]
    outcomes = Counter(p["errors"][0]["code"] if p["errors"] else "CLAIMED" for p in payloads)
    assert outcomes == {"CLAIMED": 1, "ALREADY_CLAIMED": 49}
    winner = next(p["push"]["claimedBy"]["username"] for p in payloads if not p["errors"])
    row = await DecisionPush.get(id=push.id).prefetch_related("claimed_by")
    assert row.status is PushStatus.CLAIMED and row.claimed_by is not None and row.claimed_by.username == winner
    assert await Event.filter(kind=EventKind.PUSH_CLAIMED).count() == 1


@pytest.mark.slow
async def test_twenty_identical_integrator_retries_across_two_api_processes_make_one_decision(
    db: str, redis: aioredis.Redis, server_factory: Any
) -> None:
    w = await decision_world()
    system = await f.user(w.city, Role.INTEGRATION, username="legacy_system")
    servers = [server_factory(), server_factory()]
    data = issue_input(w.item)
    data["approvedOn"] = datetime.now(SHANGHAI).date().isoformat()
    body = {"query": ISSUE, "variables": {"input": data}}
    token = token_for(system)
    answers = await post_all([(servers[i % 2].url, token, body) for i in range(20)])
    assert [a.get("errors") for a in answers] == [None] * 20
    payloads = [a["data"]["issueDecision"] for a in answers]
    assert [p["errors"] for p in payloads] == [[]] * 20
    assert len({p["decision"]["id"] for p in payloads}) == 1
    assert await Decision.all().count() == 1
    assert sorted(p.department_id for p in await DecisionPush.all()) == sorted([w.market.id, w.health.id])
    assert await Event.filter(kind=EventKind.PUSH_CREATED).count() == 2
    assert await Event.all().count() == 2


@pytest.mark.slow
async def test_with_redis_paused_mutations_answer_and_subscribers_miss_nothing(
    db: str, own_redis: EmbeddedRedis, server_factory: Any
) -> None:
    """SIGSTOP: Redis accepts connections and never answers, the worst kind of away."""
    w = await world()
    url = f"unix://{own_redis.socket}"
    subscriber_side, mutation_side = server_factory(REDIS_URL=url), server_factory(REDIS_URL=url)
    live = await LiveSocket.open(subscriber_side.url, token_for(w.supervisor_a))
    await live.subscribe(PUSHED, {"a": str(await last_sequence())})
    received = Received()
    reader = asyncio.ensure_future(received.read(live))
    issuer, sent = token_for(w.issuer), []
    assert own_redis.process is not None
    async with httpx.AsyncClient(timeout=WAIT) as client:  # a bound: a hung request fails the test
        sent.append(await issue(client, mutation_side.url, issuer, w.item_a))
        own_redis.process.send_signal(signal.SIGSTOP)
        try:
            for _ in range(3 * SCALE):
                sent.append(await issue(client, mutation_side.url, issuer, w.item_a))
            # the database poll delivers them while Redis is paused
            await until(lambda: set(sent) <= received.numbers(), "the pushes made while Redis was paused")
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        sent.append(await issue(client, mutation_side.url, issuer, w.item_a))
    await until(lambda: set(sent) <= received.numbers(), "every push")
    reader.cancel()
    await live.close()
    assert [n for _, n in received.distinct()] == sent
    assert received.distinct() == await committed_pushes(w)
    await until_published()


async def until_published() -> None:
    """The outbox drains once Redis answers again (the next flush publishes the backlog)."""
    for _ in range(int(WAIT / 0.1)):
        if await Event.filter(published_at=None).count() == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("events stayed unpublished after Redis came back")


class WorkerProcess:
    """A real `shenguan worker` process (arq), its log in the var directory."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.log = Path(settings.var_dir) / f"worker-{name}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url or "",
            "SHENGUAN_VAR_DIR": str(settings.var_dir),
            "SHENGUAN_SECRET_KEY": settings.secret_key,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "worker"], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def workers(settings: Settings) -> Iterator[Any]:
    started: list[WorkerProcess] = []

    def start(name: str) -> WorkerProcess:
        worker = WorkerProcess(settings, name).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


async def due_pushes(count: int) -> tuple[list[int], list[int]]:
    """`count` pushes past their claim deadline and `count` whose reminder moment has passed."""
    from models.calendar import current_calendar, deadline_at
    from models.claim import reminder_moment

    now = datetime.now(SHANGHAI)
    calendar = await current_calendar()
    remind_on = calendar.add_working_days(now.date() - timedelta(days=1), 1)  # the first working day from today
    assert reminder_moment(calendar, remind_on) <= now < deadline_at(remind_on)
    late_on = now.date() - timedelta(days=20)
    market = await f.department()
    issuer = await f.user(await f.department(DepartmentKind.APPROVAL), Role.OFFICER)
    item = await f.item(market)
    ids: list[int] = []
    for n in range(2 * count):
        decision = await f.decision(issuer, item, now=now - timedelta(minutes=1), seq=n + 1)
        ids.append((await DecisionPush.get(decision_id=decision.id)).id)
    late, soon = ids[:count], ids[count:]
    await DecisionPush.filter(id__in=late).update(claim_due_on=late_on, claim_deadline=deadline_at(late_on))
    await DecisionPush.filter(id__in=soon).update(claim_due_on=remind_on, claim_deadline=deadline_at(remind_on))
    return late, soon


async def marked() -> int:
    return await Event.filter(kind__in=[EventKind.PUSH_OVERDUE, EventKind.PUSH_REMINDER]).count()


@pytest.mark.slow
async def test_a_worker_killed_mid_sweep_leaves_every_reminder_and_overdue_recorded_exactly_once(
    db: str, redis: aioredis.Redis, settings: Settings, workers: Any
) -> None:
    count = min(120 * SCALE, 500)  # one sweep handles up to 500 of each
    late, soon = await due_pushes(count)
    # Wake-up jobs for every push as well, all due now: they race the start-up sweep.
    from workers.redis import arq_pool

    arq = await arq_pool(settings)
    try:
        for push_id in late:
            await arq.enqueue_job("mark_push_overdue", push_id, _job_id=f"fault:overdue:{push_id}")
        for push_id in soon:
            await arq.enqueue_job("remind_push", push_id, _job_id=f"fault:remind:{push_id}")
    finally:
        await arq.aclose()

    victim = workers("victim")
    for _ in range(int(WAIT * 4 / 0.01)):  # until it is under way
        if await marked() >= 5:
            break
        await asyncio.sleep(0.01)
    assert victim.process is not None
    victim.process.kill()  # SIGKILL: no shutdown, jobs and transactions cut mid-way
    victim.process.wait()
    at_kill = await marked()
    assert 5 <= at_kill < 2 * count, "the kill did not land while the deadline work was running"

    workers("after-1"), workers("after-2")  # two at once: their start-up sweeps race each other too
    for _ in range(int(WAIT * 4 / 0.05)):
        if await DecisionPush.filter(id__in=late, overdue_at=None).count() == 0 and (
            await DecisionPush.filter(id__in=soon, reminded_at=None).count() == 0
        ):
            break
        await asyncio.sleep(0.05)
    overdue = await Event.filter(kind=EventKind.PUSH_OVERDUE).values_list("subject_id", flat=True)
    reminded = await Event.filter(kind=EventKind.PUSH_REMINDER).values_list("subject_id", flat=True)
    assert sorted(overdue) == sorted(late)  # each once: no push missing, none twice
    assert sorted(reminded) == sorted(soon)
    assert await DecisionPush.filter(id__in=late, overdue_at=None).count() == 0
    assert await DecisionPush.filter(id__in=soon, reminded_at=None).count() == 0
