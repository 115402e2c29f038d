"""What one API process holds for its lifetime: settings, Redis, the job queue and the hub."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import redis.asyncio as aioredis

from api.hub import Hub
from api.limits import SocketRegistry
from api.multiplex import Multiplexer
from models.settings import Settings
from workers.dispatch import OutboxFlusher
from workers.redis import JobQueue, arq_pool, redis_client

log = logging.getLogger(__name__)
PUBLISH_BUDGET_SECONDS = 1.0


@dataclass
class Services:
    settings: Settings
    redis: aioredis.Redis
    arq: JobQueue | None
    hub: Hub
    multiplexer: Multiplexer = field(default_factory=Multiplexer)
    sockets: SocketRegistry = field(default_factory=SocketRegistry)
    flusher: OutboxFlusher = field(init=False)

    def __post_init__(self) -> None:
        self.flusher = OutboxFlusher(self.redis, self.arq, budget=PUBLISH_BUDGET_SECONDS)

    async def after_commit(self, now: datetime) -> None:
        """Publish what the transaction committed; failures here never undo the commit.

        Bounded in time (workers.dispatch.OutboxFlusher): a Redis that accepts connections but never
        answers must not hold the mutation's answer. Sequencing comes first and needs only the
        database, so the hubs' database poll still delivers the events; the sweep publishes them later.
        """
        await self.flusher.flush(now)
        self.hub.kick()

    @classmethod
    async def start(cls, settings: Settings, *, poll_interval: float = 1.0) -> Services:
        redis = redis_client(settings)
        try:
            arq: JobQueue | None = await arq_pool(settings)
        except Exception:  # Redis may be down at start; deadlines are still swept from rows
            log.exception("无法连接任务队列 Redis，截止提醒将由定时清扫补做")
            arq = None
        hub = Hub(redis, poll_interval=poll_interval)
        await hub.start()
        return cls(settings=settings, redis=redis, arq=arq, hub=hub)

    async def stop(self) -> None:
        await self.flusher.close()
        await self.hub.stop()
        if self.arq is not None:
            await self.arq.aclose()
        await self.redis.aclose()
