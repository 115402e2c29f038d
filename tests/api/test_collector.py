"""The API process's garbage-collector rhythm (api/collector.py): freeze survivors, reclaim on the hour."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from api.collector import THRESHOLDS, CollectorUpkeep


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


@pytest.fixture
def upkeep() -> Iterator[CollectorUpkeep]:
    keeper = CollectorUpkeep(freeze_every=3600, full_every=100)
    yield keeper
    gc.unfreeze()


def pauses(generation: str) -> float:
    return REGISTRY.get_sample_value("shenguan_gc_pause_seconds_count", {"generation": generation}) or 0.0


async def test_start_freezes_start_up_sets_the_thresholds_and_stop_gives_both_back(upkeep: CollectorUpkeep) -> None:
    before = gc.get_threshold()
    upkeep.start()
    try:
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        await upkeep.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_frozen_cycle_outlives_collections_until_the_full_step_reclaims_it(upkeep: CollectorUpkeep) -> None:
    node, alive = cycle()
    assert upkeep.tick(now=upkeep._last_full + 1) == "freeze"  # the cycle is in use: frozen with the rest
    del node  # now garbage, but frozen: ordinary collections do not look at it
    gc.collect()
    assert alive() is not None

    assert upkeep.tick(now=upkeep._last_full + 100) == "full"

    assert alive() is None
    assert gc.get_freeze_count() > 0  # what is still alive is frozen again


async def test_each_collection_pause_is_observed_by_generation(upkeep: CollectorUpkeep) -> None:
    upkeep.start()
    try:
        before = pauses("2")
        gc.collect()
        assert pauses("2") == before + 1
    finally:
        await upkeep.stop()
    gc.collect()  # stopped: no longer observed
    assert pauses("2") == before + 1
