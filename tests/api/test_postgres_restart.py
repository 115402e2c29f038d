"""PostgreSQL restarted under load, on a throwaway cluster of the test's own (initdb / pg_ctl).

While the database is away, requests fail with a readable error (never a hang, never a masked
crash); afterwards the API recovers by itself, and every decision in the database is whole:
its pushes and their events, nothing half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from models.db import close_database, open_database
from models.decision import Decision, DecisionPush
from models.event import Event, EventKind
from models.settings import Settings
from tests.api.test_live_faults import until
from tests.api.test_subscriptions import ISSUE, WAIT, document_number, issue_input, token_for, world
from tests.conftest import ROOT, ServerProcess, free_port

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


class Cluster:
    """A PostgreSQL cluster in a temporary directory on a spare port, run as the `postgres` user if we are root."""

    def __init__(self, base: Path) -> None:
        self.bin = Path(BIN[-1])
        self.data = base / "data"
        self.sockets = base / "sockets"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/shenguan"

    def run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        for path in (self.data.parent, self.sockets):
            path.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(path, "postgres", "postgres")
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "shenguan")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.data.parent / "pg.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


def can_run_a_cluster() -> bool:
    if not BIN or not (Path(BIN[-1]) / "initdb").exists():
        return False
    return os.geteuid() != 0 or shutil.which("runuser") is not None


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not can_run_a_cluster():
        pytest.skip("needs PostgreSQL's initdb and pg_ctl (and runuser when run as root)")
    # Not under pytest's own temporary directory: that one is private to us, and the server runs as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="shenguan-pg-"))
    made = Cluster(base)
    try:
        made.init()
        yield made
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            made.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def on_cluster(cluster: Cluster, settings: Settings) -> AsyncIterator[str]:
    # Migrated by the command operators use, in its own process: this one has the SQLite test database's
    # models loaded, and tortoise's migration runner keeps the first dialect it saw.
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api.cli", "migrate"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": cluster.url, "SHENGUAN_VAR_DIR": str(settings.var_dir)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    # tortoise caches each model's INSERT by connection name, not by dialect: this test switches a
    # process that ran SQLite tests to PostgreSQL and back, so the cache is emptied both ways.
    EXECUTOR_CACHE.clear()
    await open_database(cluster.url)
    try:
        yield cluster.url
    finally:
        await close_database()
        EXECUTOR_CACHE.clear()


async def issue_one(client: httpx.AsyncClient, url: str, token: str, item: Any) -> tuple[str, str]:
    """("ok", number) / ("error", message) / ("transport", exception name) for one issueDecision."""
    number = document_number()
    try:
        response = await client.post(
            url + "/graphql",
            json={"query": ISSUE, "variables": {"i": issue_input(item, number)}},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as error:
        return "transport", type(error).__name__
    body = response.json()  # JSON either way: a crash would be a plain-text 500
    if response.status_code == 503:  # the database was away before the operation began
        assert response.headers["retry-after"] == "5"
        return "error", body["errors"][0]["message"]
    assert response.status_code == 200, response.text
    if body.get("errors"):
        return "error", body["errors"][0]["message"]
    payload = body["data"]["issueDecision"]
    if payload["errors"]:
        return "error", payload["errors"][0]["message"]
    return "ok", number


@pytest.mark.slow
async def test_a_postgresql_restart_under_load_fails_requests_readably_and_leaves_no_partial_write(
    cluster: Cluster, on_cluster: str, settings: Settings, redis: Any
) -> None:
    w = await world()
    server = ServerProcess(settings, {"DATABASE_URL": on_cluster})
    server.start()
    token = token_for(w.issuer)
    outcomes: list[tuple[str, str]] = []
    stop = asyncio.Event()

    async def load(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            outcomes.append(await issue_one(client, server.url, token, w.item_a))

    try:
        await close_database()  # the test's own pool must not hold the cluster during the restart
        async with httpx.AsyncClient(timeout=WAIT) as client:
            runners = [asyncio.ensure_future(load(client)) for _ in range(3)]
            await until(lambda: sum(o[0] == "ok" for o in outcomes) >= 5, "decisions before the crash")
            await asyncio.to_thread(cluster.stop, "immediate")  # a crash, not a polite shutdown
            down_from = len(outcomes)
            await until(lambda: len(outcomes) >= down_from + 6, "requests while the database is away")
            await asyncio.to_thread(cluster.start)
            recovered_from = len(outcomes)
            for _ in range(int(WAIT * 4 / 0.1)):  # the API recovers by itself: no restart, no operator
                if any(o[0] == "ok" for o in outcomes[recovered_from:]):
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.gather(*runners)
    finally:
        server.stop()
        await open_database(on_cluster)

    failures = [o for o in outcomes if o[0] != "ok"]
    assert failures, "no request met the database away"
    assert all(kind == "error" for kind, _ in failures), failures  # answered, not dropped
    assert all("服务器内部错误" not in message for _, message in failures), failures  # readable, not a crash
    assert any(o[0] == "ok" for o in outcomes[recovered_from:]), "the API did not recover by itself"

    answered = {number for kind, number in outcomes if kind == "ok"}
    decisions = await Decision.all()
    assert answered <= {d.document_number for d in decisions}
    created = Counter(e.payload["decisionId"] for e in await Event.filter(kind=EventKind.PUSH_CREATED))
    pushes = Counter(await DecisionPush.all().values_list("decision_id", flat=True))
    # whole or absent: each decision with its one push and the push's event, written together
    assert {d.id: (pushes[d.id], created[d.id]) for d in decisions} == {d.id: (1, 1) for d in decisions}
    assert sum(pushes.values()) == sum(created.values()) == len(decisions)
