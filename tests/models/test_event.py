"""The outbox and its cursors (architecture rules 2 and 3), on the real database."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import datetime

import pytest
from tortoise.transactions import in_transaction

from models.calendar import SHANGHAI, bump_version, calendar_version
from models.event import (
    PUBLISH_BATCH,
    SEQUENCE_BATCH,
    Event,
    EventKind,
    EventRecipient,
    NewEvent,
    first_retained_sequence,
    last_sequence,
    load_for_department,
    load_sequenced,
    mark_published,
    record_event,
    record_events,
    sequence_for_publishing,
    sequence_pending,
    unpublished,
)

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)


async def pushed(subject_id: int, *departments: int) -> Event:
    return await record_event(
        EventKind.PUSH_CREATED,
        subject_type="DecisionPush",
        subject_id=subject_id,
        departments=list(departments),
        payload={"pushId": subject_id},
    )


async def test_record_event_writes_one_audience_row_per_department_and_no_cursor(db: str) -> None:
    async with in_transaction():
        event = await pushed(7, 3, 1, 3)
    assert (event.seq, event.sequenced_at, event.published_at) == (None, None, None)
    rows = (
        await EventRecipient.filter(event_id=event.id).order_by("department_id").values_list("department_id", flat=True)
    )
    assert rows == [1, 3]


async def test_sequencing_numbers_committed_events_gap_free_in_id_order(db: str) -> None:
    ids = [(await pushed(n, 1)).id for n in range(3)]
    assert await sequence_pending(NOW) == 3
    assert await sequence_pending(NOW) == 0
    ids += [(await pushed(n, 1)).id for n in range(3, 5)]
    assert await sequence_pending(NOW) == 2
    rows = await Event.all().order_by("id").values_list("id", "seq")
    assert rows == [(event_id, n) for n, event_id in enumerate(ids, start=1)]
    assert (await first_retained_sequence(), await last_sequence()) == (1, 5)


async def test_replay_reads_a_departments_events_between_two_cursors_with_their_audience(db: str) -> None:
    for n, departments in enumerate([(1,), (2,), (1, 2), (1,)], start=1):
        await pushed(n, *departments)
    await sequence_pending(NOW)
    replay = await load_for_department(1, after=1, upto=3)
    assert [(e.seq, e.subject_id, e.departments) for e in replay] == [(3, 3, (1, 2))]
    assert [e.seq for e in await load_sequenced(0, limit=10)] == [1, 2, 3, 4]
    assert [e.seq for e in await load_sequenced(1, upto=3)] == [2, 3]


async def test_unpublished_lists_sequenced_events_until_they_are_marked_published(db: str) -> None:
    await pushed(1, 1)
    assert await unpublished() == []  # not sequenced yet: not publishable either
    await sequence_pending(NOW)
    await pushed(2, 1)
    await sequence_pending(NOW)
    assert [e.seq for e in await unpublished()] == [1, 2]
    await mark_published([1], NOW)
    assert [e.seq for e in await unpublished()] == [2]
    await mark_published([1, 2], NOW)
    assert await unpublished() == []
    assert await Event.filter(published_at=None).count() == 0


async def test_events_recorded_together_get_ids_in_their_order_each_with_its_audience(db: str) -> None:
    async with in_transaction():
        rows = await record_events([NewEvent(EventKind.PUSH_CREATED, "DecisionPush", n, [n, 9, n]) for n in (3, 1, 2)])
    assert [r["subject_id"] for r in sorted(rows, key=lambda r: r["id"])] == [3, 1, 2]
    audience = await EventRecipient.all().order_by("event_id", "department_id").values_list("event_id", "department_id")
    assert audience == [(r["id"], d) for r in rows for d in sorted({r["subject_id"], 9})]


async def test_a_pass_numbers_new_events_and_returns_them_after_those_still_unpublished(db: str) -> None:
    await pushed(1, 1, 2)
    await sequence_pending(NOW)  # numbered by an earlier pass whose publishing failed
    await pushed(2, 3)
    await pushed(3)  # an event nobody is addressed to (a role-only audience)
    outgoing = await sequence_for_publishing(NOW)
    assert outgoing.sequenced == 2 and not outgoing.more
    assert [(e.seq, e.subject_id, e.departments) for e in outgoing.events] == [(1, 1, (1, 2)), (2, 2, (3,)), (3, 3, ())]
    assert await Event.filter(seq=None).count() == 0
    again = await sequence_for_publishing(NOW)  # nothing new; the three still wait for publishing
    assert (again.sequenced, [e.seq for e in again.events], again.more) == (0, [1, 2, 3], False)


async def test_a_pass_says_when_more_wait_than_it_took(db: str) -> None:
    await record_events([NewEvent(EventKind.PUSH_CREATED, "DecisionPush", n, [1]) for n in range(SEQUENCE_BATCH + 1)])
    first = await sequence_for_publishing(NOW)
    assert (first.sequenced, first.more) == (SEQUENCE_BATCH, True)
    second = await sequence_for_publishing(NOW)
    assert second.sequenced == 1 and second.more  # a full batch of the backlog is still unpublished
    seqs = [e.seq for e in second.events]  # the oldest unpublished first, in cursor order
    assert seqs[:PUBLISH_BATCH] == list(range(1, PUBLISH_BATCH + 1)) and seqs == sorted(set(seqs))


async def test_concurrent_commits_and_passes_number_every_event_once_without_gaps(db: str) -> None:
    """Each pass takes the lock before it reads the highest cursor: a read from before it waited would
    hand out a cursor twice (PostgreSQL refuses the second) or leave a gap."""

    async def commit_then_pass(n: int) -> int:
        async with in_transaction():
            await pushed(n, 1)
        return (await sequence_for_publishing(NOW)).sequenced

    counts = await asyncio.gather(*(commit_then_pass(n) for n in range(30)))

    assert sum(counts) == 30
    assert [e.seq for e in await Event.all().order_by("seq")] == list(range(1, 31))


@pytest.mark.postgres
async def test_a_pass_brings_back_the_calendar_version_its_wakeups_are_timed_by(db: str) -> None:
    before = await calendar_version()
    await bump_version()
    await bump_version()
    await pushed(1, 1)
    outgoing = await sequence_for_publishing(NOW)
    assert outgoing.sequenced == 1
    assert outgoing.calendar_version == before + 2


@pytest.mark.postgres
async def test_an_event_committed_after_a_later_numbered_one_is_sequenced_after_it_and_never_skipped(
    db: str,
) -> None:
    """Rule 3: PostgreSQL hands out ids at insert; the earlier insert commits later."""
    first_inserted = asyncio.Event()
    release_first = asyncio.Event()
    ids: dict[str, int] = {}

    async def slow_transaction() -> None:
        async with in_transaction():
            ids["early"] = (await pushed(1, 1)).id
            first_inserted.set()
            await release_first.wait()

    slow = asyncio.ensure_future(slow_transaction())
    await asyncio.wait_for(first_inserted.wait(), 10)
    async with in_transaction():  # another connection: inserts after, commits first
        ids["late"] = (await pushed(2, 1)).id
    assert ids["early"] < ids["late"]

    assert await sequence_pending(NOW) == 1
    [seen] = await load_sequenced(0)
    assert (seen.id, seen.seq) == (ids["late"], 1)
    reader_cursor = seen.seq  # a client got this one, then resumed after it

    release_first.set()
    await asyncio.wait_for(slow, 10)
    assert await sequence_pending(NOW) == 1

    resumed = await load_sequenced(reader_cursor)
    assert [(e.id, e.seq) for e in resumed] == [(ids["early"], 2)]
    assert [e.seq for e in await load_for_department(1, reader_cursor, await last_sequence())] == [2]
    # A replay by id (`id > the id behind the cursor`) would have lost it for good.
    assert await Event.filter(id__gt=seen.id).count() == 0


async def test_sqlite_sequencer_waits_for_another_processs_write_instead_of_failing(db: str) -> None:
    """SQLite: the API and the worker (or two APIs) both sequence; one must wait, not fail."""
    if not db.startswith("sqlite://"):
        pytest.skip("SQLite file locking only")
    await pushed(1, 1)
    holding = threading.Event()

    def other_process() -> None:
        conn = sqlite3.connect(db.removeprefix("sqlite://"), isolation_level=None, timeout=10)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO event (kind, subject_type, subject_id, roles, payload, created_at)"
                " VALUES ('PUSH_CREATED', 'DecisionPush', 2, '[]', '{\"pushId\":2}', '2026-10-12 10:00:00+08:00')"
            )
            holding.set()
            threading.Event().wait(0.3)  # the write lock is held while our sequencer starts
            conn.execute("COMMIT")
        finally:
            conn.close()

    writer = threading.Thread(target=other_process)
    writer.start()
    await asyncio.to_thread(holding.wait, 10)
    try:
        sequenced = await sequence_pending(NOW)
    finally:
        await asyncio.to_thread(writer.join, 10)
    assert sequenced == 2  # it waited for the other commit, then saw and numbered both
    assert await Event.all().order_by("id").values_list("subject_id", "seq") == [(1, 1), (2, 2)]
