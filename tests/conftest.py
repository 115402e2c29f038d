"""Real parts only: a migrated SQLite file (or PostgreSQL at TEST_DATABASE_URL) and a real Redis.

Redis is REDIS_URL when set, else the embedded redis-server the platform itself uses.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from models import calendar as calendar_module
from models import crypto
from models.db import close_database, migrate_database, open_database
from models.settings import Settings
from workers.redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
# Every model's table except the calendar (seeded by a migration), children before parents.
KEPT_TABLES = {"calendar_day", "calendar_year", "calendar_state"}
SECRET = "test-secret-key-that-is-long-enough-0123456789"
# A fixed data key for every test (a real deployment's comes from SHENGUAN_DATA_KEY or var/).
DATA_KEY = bytes(range(32))
crypto.configure([DATA_KEY])
# Commands run in-process or as children read their settings: they get the same key.
os.environ.setdefault("SHENGUAN_DATA_KEY", base64.b64encode(DATA_KEY).decode())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TEST_DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def database_url(var_dir: Path) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite://{var_dir / 'test.sqlite3'}"

    async def prepare() -> None:
        await migrate_database(url)
        await close_database()

    asyncio.run(prepare())
    return url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    embedded.start()
    asyncio.run(embedded.wait_ready())
    yield f"unix://{embedded.socket}"
    embedded.stop()


@pytest.fixture(scope="session")
def settings(var_dir: Path, database_url: str, redis_url: str) -> Settings:
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        redis_url=redis_url,
        host="127.0.0.1",
        port=0,
        token_ttl_minutes=60,
        secret_key=SECRET,
        data_keys=(DATA_KEY,),
    )


def data_tables() -> tuple[list[str], list[tuple[str, str]]]:
    """Every model's table, children before parents, and the self-references to clear first.

    Derived from the models, so a new model needs no list kept by hand.
    """
    from graphlib import TopologicalSorter

    from tortoise import Tortoise

    parents: dict[str, set[str]] = {}
    self_refs: list[tuple[str, str]] = []
    for app in Tortoise.apps.values():
        for model in app.values():
            table = model._meta.db_table
            parents.setdefault(table, set())
            for name in model._meta.fk_fields:
                field = model._meta.fields_map[name]
                target = field.related_model._meta.db_table  # type: ignore[attr-defined]
                if target == table:
                    self_refs.append((table, field.source_field or f"{name}_id"))  # type: ignore[attr-defined]
                else:
                    parents[table].add(target)
            for name in model._meta.m2m_fields:
                through = model._meta.fields_map[name].through  # type: ignore[attr-defined]
                parents.setdefault(through, set()).add(table)
    # static_order yields parents first; children must go first.
    order = list(TopologicalSorter(parents).static_order())[::-1]
    return [t for t in order if t not in KEPT_TABLES], self_refs


async def truncate(url: str) -> None:
    from tortoise import connections

    conn = connections.get("default")
    tables, self_refs = data_tables()
    if url.startswith("postgres"):
        await conn.execute_script(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        # PRAGMA foreign_keys is a no-op inside a transaction: delete children first and clear
        # self-references, so the order alone never breaks a reference.
        for table, column in self_refs:
            await conn.execute_script(f"UPDATE {table} SET {column} = NULL")
        await conn.execute_script("PRAGMA foreign_keys = OFF")
        try:
            for table in tables:
                await conn.execute_script(f"DELETE FROM {table}")
            await conn.execute_script("DELETE FROM sqlite_sequence")
        finally:
            await conn.execute_script("PRAGMA foreign_keys = ON")
    # Tests may publish 2027: put the calendar back to the seeded 2004–2026.
    await conn.execute_script("DELETE FROM calendar_day WHERE day >= '2027-01-01'")
    await conn.execute_script("DELETE FROM calendar_year WHERE year >= 2027")
    await calendar_module.bump_version()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """A connected ORM over an emptied, migrated database."""
    await open_database(database_url)
    try:
        await truncate(database_url)
        yield database_url
    finally:
        await close_database()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the real Redis, emptied before the test."""
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A real `shenguan serve` process on a free port."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url or "",
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "SHENGUAN_VAR_DIR": str(settings.var_dir),
            "SHENGUAN_SECRET_KEY": settings.secret_key,
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> None:
        # The server's log goes to a file: a pipe nobody reads would block a chatty server.
        self.log = Path(self.env["SHENGUAN_VAR_DIR"]) / f"server-{self.port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace")[-4000:])
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(timeout=15)


@pytest.fixture
def server_factory(settings: Settings) -> Iterator[Any]:
    """Start real API processes; all are stopped at the end of the test."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        proc = ServerProcess(settings, env)
        proc.start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
