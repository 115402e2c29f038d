"""The outbox: events written in the same transaction as the change they describe.

Cursors are gap-free: an event gets its sequence number only after its transaction has
committed, from one sequencer under a lock, so a reader that resumes after sequence C can
never skip an event whose transaction committed later than one numbered after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.models import Model

from models.db import db_value, insert_rows, parameter, stored, write_transaction

SEQUENCER_LOCK_KEY = 0x5347_4E31  # pg_advisory_xact_lock key of the one sequencer


class EventKind(StrEnum):
    PUSH_CREATED = "PUSH_CREATED"
    PUSH_CLAIMED = "PUSH_CLAIMED"
    PUSH_RETURNED = "PUSH_RETURNED"
    PUSH_REMINDER = "PUSH_REMINDER"
    PUSH_OVERDUE = "PUSH_OVERDUE"
    DECISION_STATUS_CHANGED = "DECISION_STATUS_CHANGED"
    CALENDAR_CHANGED = "CALENDAR_CHANGED"
    DEADLINE_MOVED = "DEADLINE_MOVED"
    ACCESS_CHANGED = "ACCESS_CHANGED"
    OBLIGATION_REMINDER = "OBLIGATION_REMINDER"
    OBLIGATION_OVERDUE = "OBLIGATION_OVERDUE"
    REPORT_RELEASED = "REPORT_RELEASED"
    INQUIRY_SENT = "INQUIRY_SENT"
    INQUIRY_ANSWERED = "INQUIRY_ANSWERED"
    INQUIRY_FOLLOWED_UP = "INQUIRY_FOLLOWED_UP"
    INQUIRY_CLOSED = "INQUIRY_CLOSED"
    MEETING_REQUESTED = "MEETING_REQUESTED"
    MEETING_CONVENED = "MEETING_CONVENED"
    MEETING_TOPIC_SUBMITTED = "MEETING_TOPIC_SUBMITTED"
    MEETING_AGENDA_SET = "MEETING_AGENDA_SET"
    MEETING_INVITED = "MEETING_INVITED"
    MEETING_INVITATION_REPLIED = "MEETING_INVITATION_REPLIED"
    MEETING_MINUTES_RECORDED = "MEETING_MINUTES_RECORDED"
    MEETING_ESCALATED = "MEETING_ESCALATED"
    ACTION_ITEM_ASSIGNED = "ACTION_ITEM_ASSIGNED"
    ACTION_ITEM_COMPLETED = "ACTION_ITEM_COMPLETED"
    JOINT_CONFERENCE_DECIDED = "JOINT_CONFERENCE_DECIDED"
    PUBLIC_SUBMISSION_RECEIVED = "PUBLIC_SUBMISSION_RECEIVED"
    PUBLIC_SUBMISSION_ROUTED = "PUBLIC_SUBMISSION_ROUTED"
    PUBLIC_SUBMISSION_REPLIED = "PUBLIC_SUBMISSION_REPLIED"
    EXPERT_PROPOSED = "EXPERT_PROPOSED"
    EXPERT_STATUS_CHANGED = "EXPERT_STATUS_CHANGED"
    AGENCY_PROPOSED = "AGENCY_PROPOSED"
    AGENCY_STATUS_CHANGED = "AGENCY_STATUS_CHANGED"
    INSPECTION_INVITED = "INSPECTION_INVITED"
    INSPECTION_INVITATION_REPLIED = "INSPECTION_INVITATION_REPLIED"
    INSPECTION_EXPERTS_DRAWN = "INSPECTION_EXPERTS_DRAWN"
    INSPECTION_OPINION_RECORDED = "INSPECTION_OPINION_RECORDED"
    INSPECTION_CLOSED = "INSPECTION_CLOSED"
    INSPECTION_LINKED = "INSPECTION_LINKED"
    VERIFICATION_ASSIGNED = "VERIFICATION_ASSIGNED"
    VERIFICATION_RECORDED = "VERIFICATION_RECORDED"
    COMMITMENT_OUTCOME_REQUESTED = "COMMITMENT_OUTCOME_REQUESTED"
    COMMITMENT_OUTCOME_DONE = "COMMITMENT_OUTCOME_DONE"
    CREDIT_RECORDED = "CREDIT_RECORDED"
    SUPERVISION_ACTION_PUSHED = "SUPERVISION_ACTION_PUSHED"
    SUPERVISION_ACTION_CLAIMED = "SUPERVISION_ACTION_CLAIMED"
    SUPERVISION_ACTION_RETURNED = "SUPERVISION_ACTION_RETURNED"
    NOTICE_SENT = "NOTICE_SENT"
    NOTICE_STATUS_CHANGED = "NOTICE_STATUS_CHANGED"
    NOTICE_DECIDED = "NOTICE_DECIDED"


class Event(Model):
    """One thing someone must hear about, with seq as its cursor (set after commit)."""

    id = fields.BigIntField(primary_key=True)
    seq = fields.BigIntField(null=True, unique=True)
    kind = fields.CharField(max_length=32)  # an EventKind value: a plain column, so new kinds need no migration
    subject_type = fields.CharField(max_length=32)
    subject_id = fields.BigIntField()
    roles: list[str] = fields.JSONField(default=list)
    payload: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    sequenced_at = fields.DatetimeField(null=True)
    published_at = fields.DatetimeField(null=True)

    class Meta:
        table = "event"
        indexes = (("published_at", "seq"),)


class EventRecipient(Model):
    """The audience of an event: one row per department that may see it."""

    id = fields.BigIntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "shenguan.Event", related_name="recipients", on_delete=fields.RESTRICT
    )
    event_id: int
    department_id = fields.IntField()

    class Meta:
        table = "event_recipient"
        unique_together = (("department_id", "event_id"),)
        # with_audience() looks recipients up by event: without this, a seq scan per flush.
        indexes = (("event_id",),)


@dataclass(frozen=True)
class SequencedEvent:
    """An event as it travels after commit: the cursor, the audience and the payload."""

    seq: int
    id: int
    kind: str
    subject_type: str
    subject_id: int
    departments: tuple[int, ...]
    roles: tuple[str, ...]
    payload: dict[str, Any]
    created_at: datetime | None = None  # when it was written: the start of its commit→publish lag


@dataclass(frozen=True)
class NewEvent:
    """An event to append to the outbox: what happened to which subject, and who may see it."""

    kind: EventKind
    subject_type: str
    subject_id: int
    departments: list[int]
    payload: dict[str, Any] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)


async def record_event(
    kind: EventKind,
    *,
    subject_type: str,
    subject_id: int,
    departments: list[int],
    payload: dict[str, Any] | None = None,
    roles: list[str] | None = None,
) -> Event:
    """Append an event to the outbox inside the caller's transaction."""
    [event] = await record_events([NewEvent(kind, subject_type, subject_id, departments, payload or {}, roles or [])])
    return stored(Event, event)


async def record_events(new: list[NewEvent]) -> list[dict[str, Any]]:
    """Append events to the outbox inside the caller's transaction: two statements however many.

    Returns the rows as stored. Their ids follow the list's order, and so will their cursors.
    """
    events: list[dict[str, Any]] = [
        {
            "kind": e.kind.value,
            "subject_type": e.subject_type,
            "subject_id": e.subject_id,
            "payload": e.payload,
            "roles": e.roles,
        }
        for e in new
    ]
    await insert_rows(Event, events)
    recipients: list[dict[str, Any]] = [
        {"event_id": event["id"], "department_id": d}
        for event, e in zip(events, new, strict=True)
        for d in sorted(set(e.departments))
    ]
    await insert_rows(EventRecipient, recipients, returning_ids=False)
    return events


SEQUENCE_BATCH = 1000
PUBLISH_BATCH = 500
# The next cursors follow the highest one given so far, in id order. Every statement that numbers
# runs under the sequencer's lock and after it was taken, so that its snapshot sees every earlier
# batch (PostgreSQL takes a statement's snapshot when the statement starts).
_SEQUENCE = """
UPDATE event SET seq = edge.top + numbered.n, sequenced_at = {now}
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n
      FROM (SELECT id FROM event WHERE seq IS NULL ORDER BY id LIMIT {limit}) AS pending) AS numbered,
     (SELECT COALESCE(MAX(seq), 0) AS top FROM event) AS edge
WHERE event.id = numbered.id
"""
_WAITING = "SELECT * FROM event WHERE seq IS NOT NULL AND published_at IS NULL ORDER BY seq LIMIT {waiting}"
# Events with their audiences: a row per event and recipient department (one, with NULL, for none).
_WITH_AUDIENCE = """
SELECT e.*, r.department_id AS audience FROM {events} AS e LEFT JOIN event_recipient AS r ON r.event_id = e.id
ORDER BY e.seq, r.department_id
"""
# PostgreSQL, in one round trip (migration 0016): take the sequencer's lock, say whether events
# numbered by earlier passes still wait to be published, number a batch and return it with its
# audiences, then commit; with the calendar's version, which the wake-ups of the batch are timed by.
_SEQUENCE_AND_RETURN = (
    "SELECT (s.o_event).*, s.o_audience AS audience, s.o_older_waiting AS older_waiting,"
    " s.o_calendar_version AS calendar_version FROM shenguan_sequence_events($1, $2) AS s"
)
_UNPUBLISHED = _WITH_AUDIENCE.format(events=f"({_WAITING})")


@dataclass(frozen=True)
class Outgoing:
    """One pass of the sequencer: what it numbered, and what is to be published next."""

    sequenced: int
    events: list[SequencedEvent]  # the oldest sequenced, unpublished events, in cursor order
    more: bool  # more events wait to be numbered or published than this pass took
    calendar_version: int | None = None  # calendar_state's version when read in the same round trip


async def sequence_pending(now: datetime, limit: int = SEQUENCE_BATCH) -> int:
    """Give committed, unsequenced events the next cursors, in id order, under one lock."""
    async with _sequencer() as conn:
        count, _ = await conn.execute_query(
            _SEQUENCE.format(now=parameter(conn, 1), limit=parameter(conn, 2)),
            [db_value(Event, "sequenced_at", now), limit],
        )
        return count


async def sequence_for_publishing(now: datetime) -> Outgoing:
    """sequence_pending, then the oldest events waiting for the live transport, with their audiences.

    The stream must stay in cursor order. On PostgreSQL the numbering statement returns what it
    numbered with its audiences and whether anything numbered earlier still waits: when nothing
    does (the usual case right after a commit), what it numbered is what goes out next, with no
    second read. Otherwise the waiting events are read after the lock is released, oldest first.
    """
    conn = Event._meta.db
    if conn.capabilities.dialect == "postgres":
        sequenced_at = db_value(Event, "sequenced_at", now)
        rows = await conn.execute_query_dict(_SEQUENCE_AND_RETURN, [sequenced_at, SEQUENCE_BATCH])
        sequenced = len({row["id"] for row in rows})
        if rows and not rows[0]["older_waiting"]:
            version = rows[0]["calendar_version"]
            return Outgoing(sequenced, _grouped(rows), sequenced == SEQUENCE_BATCH, version or 0)
    else:
        sequenced = await sequence_pending(now)
    events = await unpublished()
    return Outgoing(sequenced, events, sequenced == SEQUENCE_BATCH or len(events) == PUBLISH_BATCH)


@contextlib.asynccontextmanager
async def _sequencer() -> AsyncIterator[BaseDBAsyncClient]:
    """A write transaction holding the one sequencer's lock (on SQLite, the database's write lock)."""
    async with write_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [SEQUENCER_LOCK_KEY])
        yield conn


def _grouped(rows: list[dict[str, Any]]) -> list[SequencedEvent]:
    """Rows of (event columns, one audience department) in cursor order, as events with their audiences."""
    events: dict[int, tuple[Event, list[int]]] = {}
    for row in rows:
        if row["id"] not in events:
            events[row["id"]] = (Event._init_from_db(**row), [])
        if row["audience"] is not None:
            events[row["id"]][1].append(row["audience"])
    return [to_sequenced(event, audience) for event, audience in events.values()]


async def load_sequenced(after: int, *, limit: int = 500, upto: int | None = None) -> list[SequencedEvent]:
    """Sequenced events after a cursor, in order, with their audiences."""
    query = Event.filter(seq__gt=after).order_by("seq").limit(limit)
    if upto is not None:
        query = query.filter(seq__lte=upto)
    return await with_audience(await query)


async def with_audience(events: list[Event]) -> list[SequencedEvent]:
    """Attach each event's departments (one query for the whole batch)."""
    if not events:
        return []
    audience: dict[int, list[int]] = {}
    for event_id, department_id in await EventRecipient.filter(event_id__in=[e.id for e in events]).values_list(
        "event_id", "department_id"
    ):
        audience.setdefault(event_id, []).append(department_id)
    return [to_sequenced(e, audience.get(e.id, [])) for e in events]


def to_sequenced(event: Event, departments: list[int]) -> SequencedEvent:
    assert event.seq is not None
    return SequencedEvent(
        seq=event.seq,
        id=event.id,
        kind=str(event.kind),
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        departments=tuple(sorted(departments)),
        roles=tuple(event.roles),
        payload=event.payload,
        created_at=event.created_at,
    )


async def last_sequence() -> int:
    """The highest cursor handed out so far (0 before the first event)."""
    return await _edge_sequence("-seq")


async def _edge_sequence(order: str) -> int:
    edge = await Event.filter(seq__not_isnull=True).order_by(order).only("id", "seq").first()
    return int(edge.seq) if edge is not None and edge.seq is not None else 0


async def unpublished(limit: int = PUBLISH_BATCH) -> list[SequencedEvent]:
    """Sequenced events not yet handed to the live transport (the sweep republishes them)."""
    conn = Event._meta.db
    return _grouped(await conn.execute_query_dict(_UNPUBLISHED.format(waiting=parameter(conn, 1)), [limit]))


async def mark_published(seqs: list[int], now: datetime) -> None:
    """Record that these events are in the live transport (the sweep republishes any left unmarked)."""
    if seqs:
        conn = Event._meta.db
        at = db_value(Event, "published_at", now)
        if conn.capabilities.dialect == "postgres" and not isinstance(conn, TransactionalDBClient):
            # A mark lost in a crash only makes the sweep publish the event again, which every hub
            # drops by its cursor: so this commit does not wait for its WAL flush (one fsync fewer
            # per flush). SET LOCAL needs a transaction: a multi-statement query is one, in one
            # round trip, and takes no parameters, hence the literals (a timestamp and integers).
            listed = ",".join(str(int(seq)) for seq in seqs)
            await conn.execute_script(
                "SET LOCAL synchronous_commit TO OFF;"
                f" UPDATE event SET published_at = '{at.isoformat()}'::timestamptz"
                f" WHERE seq = ANY('{{{listed}}}'::bigint[]) AND published_at IS NULL"
            )
            return
        if conn.capabilities.dialect == "postgres":  # in a caller's transaction: its commit decides
            sql = "UPDATE event SET published_at = $1 WHERE seq = ANY($2::bigint[]) AND published_at IS NULL"
            await conn.execute_query(sql, [at, seqs])
            return
        listed = ", ".join("?" * len(seqs))
        await conn.execute_query(
            f"UPDATE event SET published_at = ? WHERE seq IN ({listed}) AND published_at IS NULL", [at, *seqs]
        )


async def load_for_department(department_id: int, after: int, upto: int, limit: int = 500) -> list[SequencedEvent]:
    """Replay for one department: its sequenced events in (after, upto], in cursor order."""
    events = (
        await Event.filter(recipients__department_id=department_id, seq__gt=after, seq__lte=upto)
        .order_by("seq")
        .limit(limit)
    )
    return await with_audience(events)


async def first_retained_sequence() -> int:
    """The oldest cursor still stored; a client resuming from before it must resync."""
    return await _edge_sequence("seq")


async def publish_lag(now: datetime) -> float:
    """Seconds the oldest committed but unpublished event has waited (0 when none waits)."""
    oldest = await Event.filter(published_at=None).order_by("id").first()
    return max(0.0, (now - oldest.created_at).total_seconds()) if oldest else 0.0
