"""Keeping CPython's full garbage collections off the live path of an API process.

A process serving 10,000 subscriptions holds millions of objects that live as long as their
sockets, and a full collection walks every one of them with the event loop stopped: about half a
second each, several times a minute under load (bench/RESULTS.md: the per-department delivery p99
was those pauses). Three measures, for the API process only:

- The young generations are collected less often (THRESHOLDS). Objects still in flight at a young
  collection (frames being written, requests waiting on the database) are promoted to the old
  generation, and promotions are what make full collections come due.
- Every FREEZE_EVERY seconds, after a young collection, whatever survives is frozen (gc.freeze):
  full collections stop walking the long-lived objects, so they become short as well as rare.
- Frozen objects are never collected, so cyclic garbage frozen meanwhile (what a closed socket
  leaves) waits for the full step: everything is unfrozen, collected once and frozen again, once
  as many sockets have closed since the last full step as are open now (at least FULL_CHURN), or
  FULL_EVERY seconds have passed. What closed sockets leave frozen stays about the size of what
  the open ones hold, and the pauses come at a known rhythm instead of unannounced. (Growth of
  the frozen objects is no sign of garbage: it is mostly new subscriptions.)

Every collection's pause is observed in `shenguan_gc_pause_seconds` (by generation). The gc
callback only adds to plain counters: it runs wherever an allocation starts a collection, even
inside prometheus_client while that holds a metric's lock, so it must take no lock itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import REGISTRY, Collector

log = logging.getLogger("shenguan.collector")

THRESHOLDS = (10_000, 10, 100)
FREEZE_EVERY = 10.0
FULL_EVERY = 3600.0
FULL_CHURN = 1000  # closed sockets, at the least, before the full step comes early
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class PauseRecorder(Collector):
    """Collection pauses per generation, counted without locks, exported as a histogram at scrape time."""

    def __init__(self) -> None:
        self.started = 0.0
        # per generation: a count per bucket (the last one is +Inf), and the sum of the pauses
        self.counts = [[0] * (len(BUCKETS) + 1) for _ in range(3)]
        self.sums = [0.0, 0.0, 0.0]

    def observe(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        pause, generation = time.perf_counter() - self.started, int(info["generation"])
        slot = next((n for n, bound in enumerate(BUCKETS) if pause <= bound), len(BUCKETS))
        self.counts[generation][slot] += 1
        self.sums[generation] += pause

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "shenguan_gc_pause_seconds",
            "Garbage collection pauses in this process (the event loop stands still meanwhile), by generation",
            labels=["generation"],
        )
        for generation in range(3):
            running, cumulative = 0, []
            for bound, count in zip([*map(str, BUCKETS), "+Inf"], self.counts[generation], strict=True):
                running += count
                cumulative.append((bound, running))
            family.add_metric([str(generation)], cumulative, self.sums[generation])
        yield family


PAUSES = PauseRecorder()
REGISTRY.register(PAUSES)


class SocketChurn:
    """WebSockets accepted and closed again by this process (api/metrics.py counts them)."""

    opened = 0
    closed = 0


CHURN = SocketChurn()


class CollectorUpkeep:
    """The policy above, as a task of the API process's lifespan.

    The thresholds, the callback and the frozen objects belong to the process: with several
    applications in one process (tests), the first start sets them and the last stop gives them back.
    """

    active = 0
    previous_thresholds = gc.get_threshold()

    def __init__(
        self, *, freeze_every: float = FREEZE_EVERY, full_every: float = FULL_EVERY, full_churn: int = FULL_CHURN
    ) -> None:
        self.freeze_every = freeze_every
        self.full_every = full_every
        self.full_churn = max(full_churn, 1)
        self._last_full = time.monotonic()
        self._closed_at_full = CHURN.closed
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Freeze what start-up made (modules, the schema, ORM metadata) and begin the rhythm."""
        if self._task is not None:
            return
        if CollectorUpkeep.active == 0:
            CollectorUpkeep.previous_thresholds = gc.get_threshold()
            gc.set_threshold(*THRESHOLDS)
            gc.callbacks.append(PAUSES.observe)
        CollectorUpkeep.active += 1
        gc.freeze()
        self._last_full = time.monotonic()
        self._closed_at_full = CHURN.closed
        self._task = asyncio.create_task(self._run(), name="gc-upkeep")

    async def stop(self) -> None:
        """Stop the rhythm; the last one stopped gives the collector back its defaults and frozen objects."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            CollectorUpkeep.active -= 1
            if CollectorUpkeep.active == 0:
                gc.set_threshold(*CollectorUpkeep.previous_thresholds)
                with contextlib.suppress(ValueError):
                    gc.callbacks.remove(PAUSES.observe)
                gc.unfreeze()

    def tick(self, now: float) -> str:
        """One step of the rhythm; returns which ("full" or "freeze")."""
        closed = CHURN.closed - self._closed_at_full
        churned = closed >= max(self.full_churn, CHURN.opened - CHURN.closed)
        if not churned and now - self._last_full < self.full_every:
            gc.collect(1)
            gc.freeze()
            return "freeze"
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        self._last_full = now
        self._closed_at_full = CHURN.closed
        pause_ms = (time.perf_counter() - started) * 1000
        log.info("完整垃圾回收：回收 %d 个对象，用时 %.0f 毫秒", collected, pause_ms)
        return "full"

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.freeze_every)
            try:
                self.tick(time.monotonic())
            except Exception:  # the rhythm must outlive one bad step; the collector runs on regardless
                log.exception("垃圾回收维护步骤失败")
