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
- Every FULL_EVERY seconds everything is unfrozen and collected once, then frozen again, so that
  cyclic garbage frozen meanwhile (what a closed socket leaves) is reclaimed: one pause at a known
  rhythm, instead of several unannounced ones.

Every collection's pause is observed in `shenguan_gc_pause_seconds` (by generation).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from typing import Any

from prometheus_client import Histogram

log = logging.getLogger("shenguan.collector")

THRESHOLDS = (10_000, 10, 100)
FREEZE_EVERY = 10.0
FULL_EVERY = 3600.0

GC_PAUSE = Histogram(
    "shenguan_gc_pause_seconds",
    "Garbage collection pauses in this process (the event loop stands still meanwhile), by generation",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


class CollectorUpkeep:
    """The policy above, as a task of the API process's lifespan."""

    def __init__(self, *, freeze_every: float = FREEZE_EVERY, full_every: float = FULL_EVERY) -> None:
        self.freeze_every = freeze_every
        self.full_every = full_every
        self._previous = gc.get_threshold()
        self._last_full = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Freeze what start-up made (modules, the schema, ORM metadata) and begin the rhythm."""
        self._previous = gc.get_threshold()
        gc.set_threshold(*THRESHOLDS)
        if _observe not in gc.callbacks:
            gc.callbacks.append(_observe)
        gc.freeze()
        self._last_full = time.monotonic()
        self._task = asyncio.create_task(self._run(), name="gc-upkeep")

    async def stop(self) -> None:
        """Stop the rhythm and give the collector back its defaults and every frozen object."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        gc.set_threshold(*self._previous)
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(_observe)
        gc.unfreeze()

    def tick(self, now: float) -> str:
        """One step of the rhythm; returns which ("full" or "freeze")."""
        if now - self._last_full >= self.full_every:
            started = time.perf_counter()
            gc.unfreeze()
            collected = gc.collect()
            gc.freeze()
            self._last_full = now
            pause_ms = (time.perf_counter() - started) * 1000
            log.info("定时完整垃圾回收：回收 %d 个对象，用时 %.0f 毫秒", collected, pause_ms)
            return "full"
        gc.collect(1)
        gc.freeze()
        return "freeze"

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.freeze_every)
            self.tick(time.monotonic())


_pause_started: list[float] = [0.0]


def _observe(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _pause_started[0] = time.perf_counter()
    else:
        GC_PAUSE.labels(str(info["generation"])).observe(time.perf_counter() - _pause_started[0])
