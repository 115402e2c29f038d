"""What the benchmarks run against: a throw-away PostgreSQL database, a Redis, and real server processes.

Everything listens on 127.0.0.1 only. PostgreSQL comes from BENCH_PG_ADMIN_URL (default
postgres://postgres@127.0.0.1:5432/postgres, trust auth); the suite creates and drops its own
`shenguan_bench` database. Redis is REDIS_URL when set, else the embedded redis-server the
platform itself ships (workers.redis.EmbeddedRedis).
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_PG_DATABASE", "shenguan_bench")
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def database_url(name: str = BENCH_DB) -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def postgres_problem() -> str | None:
    """None when PostgreSQL answers, else why not (the scenarios that need it are skipped)."""
    try:
        conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL unreachable at {ADMIN_URL}: {error}"
    await conn.close()
    return None


async def postgres_version() -> str:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def recreate_database() -> str:
    """Drop and create the bench database, then apply the platform's migrations to it."""
    from models.db import close_database, migrate_database

    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()
    url = database_url()
    await migrate_database(url)
    await close_database()
    return url


async def drop_database() -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> None:
    """Thousands of WebSockets need thousands of descriptors: take the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Redis:
    """REDIS_URL when set; else an embedded redis-server in a temporary directory."""

    def __init__(self) -> None:
        self.url = os.environ.get("REDIS_URL") or ""
        self._embedded: object | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    async def start(self) -> str:
        if self.url:
            return self.url
        from workers.redis import EmbeddedRedis

        self._tmp = tempfile.TemporaryDirectory(prefix="shenguan-bench-redis-")
        embedded = EmbeddedRedis(Path(self._tmp.name))
        embedded.start()
        await embedded.wait_ready()
        self._embedded = embedded
        self.url = f"unix://{embedded.socket}"
        return self.url

    def stop(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()  # type: ignore[attr-defined]
            self._embedded = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


@dataclass
class Process:
    """A child process serving HTTP on 127.0.0.1:port; its log goes to a file, never to a pipe.

    A pipe that nobody reads fills after 64 KiB of access log and then blocks the server.
    """

    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, ready_path: str = "/healthz", timeout: float = 30) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv} exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(self.url + ready_path, timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv} did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


def shenguan_server(db_url: str, redis_url: str, var_dir: Path, name: str = "shenguan") -> Process:
    """A real `shenguan serve` process, started as tests/conftest.py's ServerProcess does."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SHENGUAN_VAR_DIR": str(var_dir),
        "SHENGUAN_SECRET_KEY": SECRET,
        "SHENGUAN_RATE_LIMIT": "0",  # the load comes from a handful of accounts on purpose
    }
    return Process([sys.executable, "-m", "api.cli", "serve"], env, port, var_dir / f"{name}.log")


def python_module(module: str, var_dir: Path, *args: str, env: dict[str, str] | None = None) -> Process:
    """A bench module run as its own process (`python -m module --port N ...`)."""
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    argv = [sys.executable, "-m", module, "--port", str(port), *args]
    return Process(argv, full_env, port, var_dir / f"{module.rsplit('.', 1)[-1]}.log")
