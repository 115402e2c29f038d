"""/metrics: restricted to configured networks or a bearer token, and its figures follow real activity.

Every scrape is parsed with prometheus_client's own text parser, as Prometheus would read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.hub import Subscriber
from api.metrics import operation_label
from models.calendar import SHANGHAI
from models.enums import AdminLevel, DepartmentKind, Role
from models.settings import Settings
from tests import factories as f
from tests.api.test_subscriptions import ISSUE, PUSHED, LiveSocket, document_number, issue_input, token_for
from tests.conftest import ROOT, free_port
from workers.redis import arq_pool
from workers.settings import build_worker

TOKEN = "scrape-token-0123456789abcdef"
LOOPBACK = ("127.0.0.1", 40000)
OUTSIDE = ("10.20.30.40", 40000)

Client = Callable[..., Any]


@asynccontextmanager
async def app_client(settings: Settings, client: tuple[str, int] = LOOPBACK) -> AsyncIterator[httpx.AsyncClient]:
    """The real application in this process (its lifespan run), reached from the given address."""
    app = create_app(settings, poll_interval=0.2, own_database=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://shenguan.test") as http:
            yield http


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape: (name, labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_metrics_answer_loopback_by_default_and_refuse_other_networks(
    db: str, redis: Any, settings: Settings
) -> None:
    async with app_client(settings, LOOPBACK) as http:
        assert (await http.get("/metrics")).status_code == 200
    async with app_client(settings, OUTSIDE) as http:
        response = await http.get("/metrics")
        assert response.status_code == 403
        assert response.json() == {"errors": [{"message": "无权读取监控指标", "extensions": {"code": "FORBIDDEN"}}]}
        assert (await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 403


async def test_a_configured_token_admits_any_network_and_a_wrong_one_is_refused(
    db: str, redis: Any, settings: Settings
) -> None:
    token_only = dataclasses.replace(settings, metrics_token=TOKEN, metrics_networks=())
    async with app_client(token_only, OUTSIDE) as http:
        assert (await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200
        assert (
            await http.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"})
        ).status_code == 403
        assert (await http.get("/metrics")).status_code == 403
    async with app_client(token_only, LOOPBACK) as http:  # an empty allow-list admits no address at all
        assert (await http.get("/metrics")).status_code == 403
    networks = dataclasses.replace(settings, metrics_networks=(ipaddress.ip_network("10.20.0.0/16"),))
    async with app_client(networks, OUTSIDE) as http:
        assert (await http.get("/metrics")).status_code == 200


async def test_operations_events_backlog_and_queue_move_after_real_requests(
    db: str, redis: Any, settings: Settings
) -> None:
    approval = await f.department(DepartmentKind.APPROVAL)
    city = await f.department(level=AdminLevel.CITY)
    county = await f.department(level=AdminLevel.COUNTY, region="370811")
    county_approval = await f.department(DepartmentKind.APPROVAL, level=AdminLevel.COUNTY, region="370811")
    issuer = await f.user(approval, Role.OFFICER)
    item_city, item_county = await f.item(city), await f.item(county)
    old = datetime.now(SHANGHAI) - timedelta(days=30)
    await f.decision(
        await f.user(county_approval, Role.OFFICER), item_county, now=old
    )  # its push to the county department is long overdue
    headers = {"Authorization": f"Bearer {token_for(issuer)}"}

    async with app_client(settings) as http:
        hub = http._transport.app.state.services.hub  # type: ignore[attr-defined]
        watcher = Subscriber(user_id=0, department_id=city.id, roles=frozenset())
        hub.register(watcher)
        before = await scrape(http)

        login = {"query": 'mutation Login { login(username: "nobody", password: "x") { token errors { code } } }'}
        assert (await http.post("/graphql", json=login)).json()["data"]["login"]["errors"]
        anonymous = await http.post("/graphql", json={"query": "query Bad { noSuchField }"})
        assert anonymous.json()["errors"]
        issued = await http.post(
            "/graphql",
            json={"query": ISSUE, "variables": {"i": issue_input(item_city, document_number())}, "operationName": None},
            headers=headers,
        )
        assert issued.json()["data"]["issueDecision"]["errors"] == []
        for _ in range(200):  # the hub delivers after the stream entry or the kick: wait for it, bounded
            if watcher.queue:
                break
            await hub.catch_up()
        assert [e.kind for e in watcher.queue] == ["PUSH_CREATED"]

        after = await scrape(http)
        hub.unregister(watcher)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("shenguan_graphql_requests_total", operation="Login", outcome="user_error") == 1
    assert moved("shenguan_graphql_requests_total", operation="Bad", outcome="error") == 1
    assert moved("shenguan_graphql_requests_total", operation="anonymous", outcome="ok") == 1
    assert moved("shenguan_graphql_request_duration_seconds_count", operation="Login", outcome="user_error") == 1
    assert moved("shenguan_http_requests_total", route="/graphql", status="200") == 3
    assert moved("shenguan_events_committed_total") >= 1
    assert moved("shenguan_events_published_total") >= 1
    assert moved("shenguan_event_commit_publish_lag_seconds_count") >= 1
    assert moved("shenguan_events_delivered_total") >= 1
    assert value(after, "shenguan_pushes_pending", level="CITY") == 1
    assert value(after, "shenguan_pushes_overdue", level="CITY") == 0
    assert value(after, "shenguan_pushes_pending", level="COUNTY") == 1
    assert value(after, "shenguan_pushes_overdue", level="COUNTY") == 1
    assert value(after, "shenguan_arq_queue_depth") >= 2  # the new push's reminder and deadline wake-ups


async def test_job_runs_and_failures_are_counted_per_job(db: str, redis: Any, settings: Settings) -> None:
    pool = await arq_pool(settings)
    try:
        await pool.enqueue_job("mark_push_overdue", 999_999, _job_id="overdue:missing")
        await pool.enqueue_job("remind_push", "not-a-number", _job_id="remind:broken")
        async with app_client(settings) as http:
            before = await scrape(http)
            worker = build_worker(
                settings,
                burst=True,
                poll_delay=0.01,
                handle_signals=False,
                open_db=False,
                redis_pool=pool,
                cron_jobs=[],
                max_tries=1,
            )
            await worker.main()
            after = await scrape(http)
    finally:
        await pool.aclose()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("shenguan_job_runs_total", job="mark_push_overdue") == 1
    assert moved("shenguan_job_failures_total", job="mark_push_overdue") == 0
    assert moved("shenguan_job_runs_total", job="remind_push") == 1
    assert moved("shenguan_job_failures_total", job="remind_push") == 1
    assert moved("shenguan_job_duration_seconds_count", job="remind_push") == 1


@pytest.mark.slow
async def test_open_sockets_and_subscriptions_are_reported_by_a_real_server(
    db: str, redis: Any, server_factory: Any
) -> None:
    supervisor = await f.user(await f.department(), Role.LEADER)
    server = server_factory()
    live = await LiveSocket.open(server.url, token_for(supervisor))
    try:
        await live.subscribe(PUSHED, {"a": None})
        async with httpx.AsyncClient(base_url=server.url) as http:
            for _ in range(100):  # graphql-transport-ws never acknowledges subscribe: poll, bounded
                scraped = samples((await http.get("/metrics")).text)
                if value(scraped, "shenguan_subscriptions_active") == 1:
                    break
            assert value(scraped, "shenguan_websocket_connections") == 1
            assert value(scraped, "shenguan_subscriptions_active") == 1
            await live.close()
            for _ in range(100):
                scraped = samples((await http.get("/metrics")).text)
                if value(scraped, "shenguan_websocket_connections") == 0:
                    break
            assert value(scraped, "shenguan_websocket_connections") == 0
            assert value(scraped, "shenguan_subscriptions_active") == 0
    finally:
        await live.close()


def test_operation_names_from_clients_are_bounded_label_values() -> None:
    assert operation_label(None) == "anonymous"
    assert operation_label("Inbox") == "Inbox"
    assert operation_label("drop table; --") == "invalid"
    assert operation_label("x" * 65) == "invalid"


@pytest.mark.slow
async def test_a_worker_serves_its_job_metrics_on_its_own_port_and_stops_on_sigterm(
    db: str, redis: Any, settings: Settings
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "SHENGUAN_VAR_DIR": str(settings.var_dir),
        "SHENGUAN_SECRET_KEY": settings.secret_key,
        "SHENGUAN_WORKER_METRICS_PORT": str(port),
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "worker",
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        scraped: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        async with httpx.AsyncClient() as http:
            for _ in range(150):  # the start-up sweep runs as the worker starts: poll, bounded
                with contextlib.suppress(httpx.HTTPError):
                    scraped = samples((await http.get(f"http://127.0.0.1:{port}/metrics", timeout=2)).text)
                    if value(scraped, "shenguan_job_runs_total", job="sweep") >= 1:
                        break
                await asyncio.sleep(0.1)
        assert value(scraped, "shenguan_job_runs_total", job="sweep") >= 1
        assert value(scraped, "shenguan_job_failures_total", job="sweep") == 0
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 30)
