"""PostgreSQL: the sequencer's pass and the audit chain's tail as functions, one round trip each.

Each takes its advisory lock and then reads in a statement of its own, so the read's snapshot is
taken after the lock and sees everything committed under it before (a volatile PL/pgSQL function
takes a new snapshot per statement). Called outside a transaction, the sequencer's pass numbers,
returns and commits in one statement, where BEGIN, lock, update and COMMIT took four. SQLite keeps
the plain statements under its database-wide write lock (models/event.py, models/audit.py).
"""

from __future__ import annotations

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

# models.event.SEQUENCER_LOCK_KEY and models.audit.CHAIN_LOCK (a test holds them equal): changing
# either needs a migration that replaces these functions.
SEQUENCER_LOCK_KEY = 0x5347_4E31
CHAIN_LOCK = 0x5347_4155

# Parameters, variables and result columns are prefixed (p_, v_, o_): PL/pgSQL resolves a bare name
# against both its variables and the tables' columns, and a later column of the same name would
# make the function fail. The calendar's version is read with the numbering's own snapshot, so it
# is at least as new as any event of the batch (their wake-ups are timed by it).
SEQUENCE_EVENTS = f"""
CREATE OR REPLACE FUNCTION shenguan_sequence_events(p_at timestamptz, p_batch integer)
RETURNS TABLE (o_event event, o_audience integer, o_older_waiting boolean, o_calendar_version integer)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_waiting boolean;
BEGIN
    PERFORM pg_advisory_xact_lock({SEQUENCER_LOCK_KEY});
    -- Numbered by an earlier pass and still unpublished: read before this pass numbers its batch.
    v_waiting := EXISTS (SELECT 1 FROM event e WHERE e.seq IS NOT NULL AND e.published_at IS NULL);
    RETURN QUERY
    WITH fresh AS (
        UPDATE event SET seq = edge.top + pending.n, sequenced_at = p_at
        FROM (SELECT p.id, ROW_NUMBER() OVER (ORDER BY p.id) AS n
              FROM (SELECT e.id FROM event e WHERE e.seq IS NULL ORDER BY e.id LIMIT p_batch) AS p) AS pending,
             (SELECT COALESCE(MAX(e.seq), 0) AS top FROM event e) AS edge
        WHERE event.id = pending.id
        RETURNING event.*
    )
    SELECT fresh::event, r.department_id, v_waiting, (SELECT c.version FROM calendar_state c WHERE c.id = 1)
    FROM fresh LEFT JOIN event_recipient r ON r.event_id = fresh.id
    ORDER BY fresh.seq, r.department_id;
END
$fn$
"""

AUDIT_TAIL = f"""
CREATE OR REPLACE FUNCTION shenguan_audit_tail() RETURNS text
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
    RETURN (SELECT a.row_hash FROM audit_record a ORDER BY a.id DESC LIMIT 1);
END
$fn$
"""


async def create_functions(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        for sql in (SEQUENCE_EVENTS, AUDIT_TAIL):
            await client.execute_script(sql)


async def drop_functions(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script(
            "DROP FUNCTION IF EXISTS shenguan_sequence_events(timestamptz, integer);"
            " DROP FUNCTION IF EXISTS shenguan_audit_tail()"
        )


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0015_sealed_expert_conflicts")]

    initial = False

    operations = [ops.RunPython(create_functions, drop_functions)]
