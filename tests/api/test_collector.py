"""The API process's garbage-collector rhythm (api/collector.py): freeze survivors, reclaim in a full step."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from api.collector import CHURN, PAUSES, THRESHOLDS, CollectorUpkeep
from api.metrics import RequestContextMiddleware


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


@pytest.fixture
def upkeep() -> Iterator[CollectorUpkeep]:
    gc.freeze()  # as start() does
    keeper = CollectorUpkeep(freeze_every=3600, full_every=100)
    yield keeper
    gc.unfreeze()


def pauses(generation: str) -> float:
    return REGISTRY.get_sample_value("shenguan_gc_pause_seconds_count", {"generation": generation}) or 0.0


async def test_the_first_start_sets_the_collector_up_and_the_last_stop_gives_it_back() -> None:
    """Two applications in one process (as in tests), stopped in the order they started."""
    before = gc.get_threshold()
    first, second = CollectorUpkeep(), CollectorUpkeep()
    first.start()
    second.start()
    assert gc.get_threshold() == THRESHOLDS and gc.get_freeze_count() > 0

    await first.stop()
    assert gc.get_threshold() == THRESHOLDS  # the second one still runs
    assert PAUSES.observe in gc.callbacks and gc.get_freeze_count() > 0

    await second.stop()
    assert gc.get_threshold() == before
    assert PAUSES.observe not in gc.callbacks and gc.get_freeze_count() == 0


def test_a_frozen_cycle_outlives_collections_until_the_full_step_reclaims_it(upkeep: CollectorUpkeep) -> None:
    node, alive = cycle()
    assert upkeep.tick(now=upkeep._last_full + 1) == "freeze"  # the cycle is in use: frozen with the rest
    del node  # now garbage, but frozen: ordinary collections do not look at it
    gc.collect()
    assert alive() is not None

    assert upkeep.tick(now=upkeep._last_full + 100) == "full"  # FULL_EVERY has passed

    assert alive() is None
    assert gc.get_freeze_count() > 0  # what is still alive is frozen again


def test_the_full_step_comes_early_once_as_many_sockets_have_closed_as_are_open() -> None:
    keeper = CollectorUpkeep(freeze_every=3600, full_every=3600, full_churn=10)
    opened, closed = CHURN.opened, CHURN.closed
    try:
        CHURN.opened += 30  # thirty sockets open ...
        assert keeper.tick(now=keeper._last_full + 1) == "freeze"
        CHURN.closed += 14  # ... fourteen closed: fewer than the sixteen still open
        assert keeper.tick(now=keeper._last_full + 2) == "freeze"
        CHURN.closed += 1  # fifteen closed, fifteen open
        assert keeper.tick(now=keeper._last_full + 3) == "full"
        CHURN.closed += 1  # counted afresh after a full step
        assert keeper.tick(now=keeper._last_full + 4) == "freeze"
    finally:
        CHURN.opened, CHURN.closed = opened, closed
        gc.unfreeze()


async def test_each_collection_pause_is_counted_by_generation_while_started() -> None:
    keeper = CollectorUpkeep(freeze_every=3600)
    keeper.start()
    try:
        before = pauses("2")
        gc.collect()
        assert pauses("2") == before + 1
        assert (REGISTRY.get_sample_value("shenguan_gc_pause_seconds_sum", {"generation": "2"}) or 0) > 0
    finally:
        await keeper.stop()
    gc.collect()  # stopped: no longer counted
    assert pauses("2") == before + 1


async def test_only_accepted_sockets_count_towards_the_full_step() -> None:
    """A refused handshake (bad origin, token or limit) leaves no frozen garbage: it must not bring a full step."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def accepting(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    async def refusing(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.close", "code": 4403})

    scope = {"type": "websocket", "path": "/graphql", "headers": [], "client": ("127.0.0.1", 5000)}
    for app, counted in ((refusing, 0), (accepting, 1)):
        before = (CHURN.opened, CHURN.closed)
        await RequestContextMiddleware(app)(scope, receive, send)
        assert (CHURN.opened - before[0], CHURN.closed - before[1]) == (counted, counted)
    assert [m["type"] for m in sent] == ["websocket.close", "websocket.accept", "websocket.close"]
