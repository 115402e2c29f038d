"""Scenario 2: issue_decision throughput on PostgreSQL, beside the same rows written by hand-written SQL.

Platform: what the `issueDecision` mutation does after parsing — one transaction with
models.issuance.issue_decision (validation, routing, decision, pushes, outbox events) and the
audit record, then workers.dispatch.flush_outbox (sequence the events, XADD them to Redis,
schedule the claim-deadline wake-ups with arq, mark them published).

Baseline: one asyncpg transaction per decision writing the same rows: the decision, its pushes
routed in SQL from item_supervisor, one sequenced and published event per push (cursor taken under
the same advisory lock, inside the transaction), the recipients and the audit record — one
statement after the lock. It publishes nothing to Redis; the platform's figures are also given
without the flush so that the two parts can be told apart.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from tortoise.transactions import in_transaction

from bench.context import Context
from bench.env import SECRET
from bench.stats import Result, summary_ms
from models.account import Department, User
from models.audit import record_audit
from models.calendar import SHANGHAI, current_calendar, deadline_at, local_date
from models.catalogue import ApprovalItem
from models.crypto import seal
from models.enums import CounterpartyKind
from models.event import SEQUENCER_LOCK_KEY
from models.identifiers import make_citizen_id
from models.issuance import CounterpartyInput, DecisionInput, fingerprint, issue_decision
from models.settings import Settings
from workers.dispatch import flush_outbox
from workers.redis import arq_pool, redis_client

TARGET_RATIO = 0.5
WARMUP = 20

BASELINE_SQL = """
WITH d AS (
    INSERT INTO decision (issuer_id, item_id, document_number, content, approved_on, valid_from, valid_until,
                          channel, status, counterparty_name, counterparty_kind, id_number, credit_code,
                          contact_name, phone, address, content_hash, created_by_id, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, 'PLATFORM', 'VALID', $8, $9, $10, NULL, NULL, $11, NULL, $12, $13, $14)
    RETURNING id
), p AS (
    INSERT INTO decision_push (decision_id, department_id, status, pushed_at, claim_due_on, claim_deadline,
                               deadline_provisional, claimed_late)
    SELECT d.id, s.department_id, 'PENDING', $14, $15, $16, false, false
    FROM d, item_supervisor s JOIN department dep ON dep.id = s.department_id
    WHERE s.approval_item_id = $2 AND dep.level = $17 AND dep.region_code = $18
    RETURNING id, decision_id, department_id
), numbered AS (
    SELECT p.*, (SELECT coalesce(max(seq), 0) FROM event) + row_number() OVER (ORDER BY p.id) AS seq FROM p
), e AS (
    INSERT INTO event (seq, kind, subject_type, subject_id, roles, payload, created_at, sequenced_at, published_at)
    SELECT seq, 'PUSH_CREATED', 'DecisionPush', id, '[]',
           jsonb_build_object('pushId', id, 'decisionId', decision_id, 'dueOn', $15::date), $14, $14, $14
    FROM numbered
    RETURNING id, subject_id
), r AS (
    INSERT INTO event_recipient (department_id, event_id)
    SELECT p.department_id, e.id FROM e JOIN p ON p.id = e.subject_id
)
INSERT INTO audit_record (at, actor_id, department_id, action, object_type, object_id, address, detail)
VALUES ($14, $13, $1, 'issueDecision', '', '', '127.0.0.1', jsonb_build_object('documentNumber', $3::text))
"""


def _inputs(prefix: str, count: int, item_id: int, today: date, region: str) -> list[DecisionInput]:
    return [
        DecisionInput(
            item_id=item_id,
            document_number=f"{prefix}\u30142026\u3015{n}号",
            content="准予许可。",
            approved_on=today,
            counterparty=CounterpartyInput(
                name="基准测试",
                kind=CounterpartyKind.PERSON,
                id_number=make_citizen_id(region, "19800101", n % 1000),
                phone="13853712345",
            ),
            valid_from=today,
            valid_until=date(today.year + 5, 1, 1),
        )
        for n in range(count)
    ]


async def _platform(ctx: Context, actor: User, inputs: list[DecisionInput], seconds: float) -> dict[str, Any]:
    assert ctx.db_url is not None
    settings = Settings(
        var_dir=Path(ctx.work_dir),
        database_url=ctx.db_url,
        redis_url=ctx.redis_url,
        host="127.0.0.1",
        port=0,
        token_ttl_minutes=60,
        secret_key=SECRET,
    )
    redis = redis_client(settings)
    arq = await arq_pool(settings)
    total: list[float] = []
    issue_only: list[float] = []
    flush_only: list[float] = []
    clock = time.perf_counter
    try:
        deadline = None
        started = clock()
        for n, data in enumerate(inputs):
            if n == WARMUP:
                started, deadline = clock(), clock() + seconds
                for samples in (total, issue_only, flush_only):
                    samples.clear()
            now = datetime.now(SHANGHAI)
            t0 = clock()
            async with in_transaction():
                await issue_decision(actor, data, now=now)
                await record_audit(
                    "issueDecision",
                    actor_id=actor.id,
                    department_id=actor.department_id,
                    address="127.0.0.1",
                    detail={"documentNumber": data.document_number},
                )
            t1 = clock()
            await flush_outbox(redis, arq, now)
            t2 = clock()
            total.append(t2 - t0)
            issue_only.append(t1 - t0)
            flush_only.append(t2 - t1)
            if deadline is not None and t2 > deadline:
                break
        elapsed = clock() - started
    finally:
        await arq.aclose()
        await redis.aclose()
    figures: dict[str, Any] = summary_ms(total, elapsed)
    figures["issue_tx_only"] = summary_ms(issue_only)
    figures["flush_outbox_only"] = summary_ms(flush_only)
    return figures


async def _baseline(
    ctx: Context, actor: User, issuer: Department, inputs: list[DecisionInput], seconds: float
) -> dict[str, Any]:
    assert ctx.db_url is not None
    calendar = await current_calendar()
    conn = await asyncpg.connect(ctx.db_url)
    latencies: list[float] = []
    clock = time.perf_counter
    try:
        deadline = None
        started = clock()
        for n, data in enumerate(inputs):
            if n == WARMUP:
                started, deadline = clock(), clock() + seconds
                latencies.clear()
            now = datetime.now(SHANGHAI)
            t0 = clock()
            due = calendar.add_working_days(local_date(now), 3)
            cp = data.counterparty
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", SEQUENCER_LOCK_KEY)
                await conn.execute(
                    BASELINE_SQL,
                    issuer.id,
                    data.item_id,
                    data.document_number,
                    data.content,
                    data.approved_on,
                    data.valid_from,
                    data.valid_until,
                    cp.name,
                    cp.kind.value,
                    seal(cp.id_number, context="decision.id_number") if cp.id_number else None,
                    seal(cp.phone, context="decision.phone") if cp.phone else None,
                    fingerprint(data),
                    actor.id,
                    now,
                    due,
                    deadline_at(due),
                    issuer.level.value,
                    issuer.region_code,
                )
            t1 = clock()
            latencies.append(t1 - t0)
            if deadline is not None and t1 > deadline:
                break
        elapsed = clock() - started
    finally:
        await conn.close()
    return summary_ms(latencies, elapsed)


async def _rows_per_decision(db_url: str, prefix: str) -> dict[str, float]:
    """What each side wrote per decision, to show that both wrote the same rows."""
    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow(
            """
            SELECT count(DISTINCT d.id) AS decisions, count(DISTINCT p.id) AS pushes, count(DISTINCT e.id) AS events,
                   count(DISTINCT r.id) AS recipients, count(DISTINCT e.id) FILTER (WHERE e.seq IS NOT NULL
                   AND e.published_at IS NOT NULL) AS published
            FROM decision d
            JOIN decision_push p ON p.decision_id = d.id
            JOIN event e ON e.subject_type = 'DecisionPush' AND e.subject_id = p.id
            JOIN event_recipient r ON r.event_id = e.id
            WHERE d.document_number LIKE $1
            """,
            prefix + "%",
        )
        audits = await conn.fetchval(
            "SELECT count(*) FROM audit_record WHERE action = 'issueDecision' AND detail->>'documentNumber' LIKE $1",
            prefix + "%",
        )
    finally:
        await conn.close()
    n = max(int(row["decisions"]), 1)
    out = {k: round(int(row[k]) / n, 2) for k in ("pushes", "events", "recipients", "published")}
    return {"decisions": int(row["decisions"]), **out, "audit_records": round(int(audits) / n, 2)}


async def run(ctx: Context) -> list[Result]:
    assert ctx.db_url is not None and ctx.data is not None
    actor = await User.get(id=ctx.data.quiet_issuer_id)  # one account per department, same id
    issuer = await Department.get(id=actor.department_id)
    item = await ApprovalItem.get(id=await _three_supervisor_item(ctx.db_url, issuer.region_code))
    today = local_date(datetime.now(SHANGHAI))
    seconds = ctx.pick(3.0, 10.0)
    cap = ctx.count(3000, 20000)
    stamp = datetime.now().strftime("%H%M%S")
    platform = await _platform(ctx, actor, _inputs(f"P{stamp}", cap, item.id, today, issuer.region_code), seconds)
    baseline = await _baseline(
        ctx, actor, issuer, _inputs(f"B{stamp}", cap, item.id, today, issuer.region_code), seconds
    )
    written = {
        "platform": await _rows_per_decision(ctx.db_url, f"P{stamp}"),
        "baseline": await _rows_per_decision(ctx.db_url, f"B{stamp}"),
    }
    ratio = platform["throughput"] / baseline["throughput"]
    return [
        Result(
            name="issuance",
            title="issue_decision + audit + flush_outbox, one decision at a time (decisions/s)",
            unit="decisions/s",
            platform=platform,
            baseline=baseline,
            ratio=round(ratio, 3),
            ratio_of="platform throughput / baseline throughput",
            target=f"≥ {TARGET_RATIO:.0%} of baseline",
            met=ratio >= TARGET_RATIO,
            note=f"issuer department {issuer.id} ({issuer.name}), item {item.id} with 3 supervisors at county level; "
            f"rows written per decision: {json.dumps(written, ensure_ascii=False)}",
            extra={"rows_per_decision": written},
        )
    ]


async def _three_supervisor_item(db_url: str, region_code: str) -> int:
    """An item that routes to exactly three departments in the issuer's region."""
    conn = await asyncpg.connect(db_url)
    try:
        item_id = await conn.fetchval(
            """
            SELECT s.approval_item_id FROM item_supervisor s JOIN department d ON d.id = s.department_id
            WHERE d.region_code = $1 GROUP BY 1 HAVING count(*) = 3 ORDER BY 1 LIMIT 1
            """,
            region_code,
        )
    finally:
        await conn.close()
    if item_id is None:
        raise RuntimeError("no item with three supervising departments in the generated catalogue")
    return int(item_id)
