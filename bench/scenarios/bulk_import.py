"""Issue 6, scenario 4: bulk import of offline decisions (models.offline_import), beside validation + COPY.

Platform: models.offline_import.import_file on a CSV of N valid rows (the CLI's
`shenguan import-decisions` path): every row checked as `issueDecision` checks it, the good rows
issued in one transaction with their pushes and outbox events; then flush_outbox publishes them
(timed separately: in production the worker's sweep does it).

Baseline: the same file read with the csv module, each row validated with the same identifier
checks and fingerprinted, routing read once, then decisions, pushes, unsequenced events and their
recipients written with COPY in one transaction.
"""

from __future__ import annotations

import csv
import importlib.util
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from bench.context import Context
from bench.generate import DECISION_COLUMNS, decision_record
from bench.scenarios.issuance import _three_supervisor_item
from bench.stats import Result, skipped
from models.calendar import SHANGHAI, deadline_at, local_date
from models.enums import CounterpartyKind
from models.event import Event
from models.identifiers import citizen_id_is_valid, credit_code_is_valid, make_citizen_id, make_credit_code
from models.issuance import CounterpartyInput, DecisionInput
from models.offline_import import COLUMNS
from models.workdays import WorkCalendar, package_exception_days
from workers.dispatch import flush_outbox

TARGET_RATE = 2000
HEADER = [c.label for c in COLUMNS]  # the import's own columns, in its order


def write_csv(path: Path, prefix: str, rows: int, item_code: str, today: date, region: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for n in range(rows):
            person = n % 5 < 3
            id_number = make_citizen_id(region, "19800101", n % 1000) if person else ""
            code = "" if person else make_credit_code(f"91{region}{n:09d}")
            out.writerow(
                [
                    item_code,
                    f"{prefix}\u30142026\u3015{n}号",
                    "准予许可（线下）。",
                    today.isoformat(),
                    today.isoformat(),
                    f"{today.year + 5}-01-01",
                    "线下相对人" if person else "线下贸易有限公司",
                    "自然人" if person else "法人",
                    id_number,
                    code,
                    "" if person else "李四",
                    "13853712345",
                    "山东省菏泽市建设路1号",
                ]
            )


async def _baseline(db_url: str, path: Path, issuer: dict[str, Any], now: datetime) -> tuple[int, float]:
    """Validate and fingerprint every row, then COPY everything in one transaction; returns (rows, seconds)."""
    t0 = time.perf_counter()
    exceptions, years = package_exception_days()
    calendar = WorkCalendar(exceptions, years)
    conn = await asyncpg.connect(db_url)
    try:
        items = {r["code"]: r["id"] for r in await conn.fetch("SELECT id, code FROM approval_item WHERE is_active")}
        routes: dict[int, list[int]] = {}
        for r in await conn.fetch(
            "SELECT s.approval_item_id, s.department_id FROM item_supervisor s JOIN department d "
            "ON d.id = s.department_id WHERE d.level = $1 AND d.region_code = $2 ORDER BY d.id",
            issuer["level"],
            issuer["region_code"],
        ):
            routes.setdefault(r[0], []).append(r[1])
        decisions: list[tuple[Any, ...]] = []
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                person = row["相对人类型"] == "自然人"
                ok = citizen_id_is_valid(row["身份证号码"]) if person else credit_code_is_valid(row["统一社会信用代码"])
                if not ok or row["事项编码"] not in items:
                    raise RuntimeError(f"baseline rejected {row}")
                approved = date.fromisoformat(row["批准日期"])
                data = DecisionInput(
                    item_id=items[row["事项编码"]],
                    document_number=row["文书编号"],
                    content=row["决定内容"],
                    approved_on=approved,
                    valid_from=date.fromisoformat(row["有效期起"]),
                    valid_until=date.fromisoformat(row["有效期止"]),
                    counterparty=CounterpartyInput(
                        name=row["相对人名称"],
                        kind=CounterpartyKind.PERSON if person else CounterpartyKind.ORGANIZATION,
                        id_number=row["身份证号码"] or None,
                        credit_code=row["统一社会信用代码"] or None,
                        contact_name=row["联系人"] or None,
                        phone=row["联系电话"] or None,
                        address=row["地址"] or None,
                    ),
                )
                decisions.append(decision_record(data, issuer["id"], "OFFLINE", now))
        due = calendar.add_working_days(local_date(now), 3)
        async with conn.transaction():
            ids = [
                r[0]
                for r in await conn.fetch(
                    "SELECT nextval('decision_id_seq') FROM generate_series(1, $1)", len(decisions)
                )
            ]
            rows = [(pk, *d) for pk, d in zip(ids, decisions, strict=True)]
            await conn.copy_records_to_table("decision", records=rows, columns=DECISION_COLUMNS)
            pairs = [(pk, dep) for pk, d in zip(ids, decisions, strict=True) for dep in routes[d[1]]]
            push_ids = [
                r[0]
                for r in await conn.fetch(
                    "SELECT nextval('decision_push_id_seq') FROM generate_series(1, $1)", len(pairs)
                )
            ]
            await conn.copy_records_to_table(
                "decision_push",
                records=[
                    (pid, pk, dep, "PENDING", now, due, deadline_at(due), False, False)
                    for pid, (pk, dep) in zip(push_ids, pairs, strict=True)
                ],
                columns=[
                    "id",
                    "decision_id",
                    "department_id",
                    "status",
                    "pushed_at",
                    "claim_due_on",
                    "claim_deadline",
                    "deadline_provisional",
                    "claimed_late",
                ],
            )
            event_ids = [
                r[0] for r in await conn.fetch("SELECT nextval('event_id_seq') FROM generate_series(1, $1)", len(pairs))
            ]
            await conn.copy_records_to_table(
                "event",
                records=[
                    (
                        eid,
                        "PUSH_CREATED",
                        "DecisionPush",
                        pid,
                        "[]",
                        f'{{"pushId":{pid},"decisionId":{pk},"dueOn":"{due.isoformat()}"}}',
                        now,
                    )
                    for eid, pid, (pk, _) in zip(event_ids, push_ids, pairs, strict=True)
                ],
                columns=["id", "kind", "subject_type", "subject_id", "roles", "payload", "created_at"],
            )
            await conn.copy_records_to_table(
                "event_recipient",
                records=[(dep, eid) for eid, (_, dep) in zip(event_ids, pairs, strict=True)],
                columns=["department_id", "event_id"],
            )
            await conn.execute(
                "INSERT INTO audit_record (at, actor_id, department_id, action, object_type, object_id, address, "
                "detail) VALUES ($1, $2, $2, 'importDecisions', '', '', 'cli', '{}')",
                now,
                issuer["id"],
            )
    finally:
        await conn.close()
    return len(decisions), time.perf_counter() - t0


async def drain(redis: aioredis.Redis, now: datetime) -> int:
    """flush_outbox until no event is left unsequenced; returns how many calls it took."""
    calls = 0
    while True:
        await flush_outbox(redis, None, now)
        calls += 1
        if not await Event.filter(seq=None).exists() or calls >= 1000:
            return calls


async def run(ctx: Context) -> list[Result]:
    if importlib.util.find_spec("models.offline_import") is None:
        return [skipped("bulk_import", "bulk import", "models.offline_import is not there yet")]
    from models.offline_import import import_file

    assert ctx.db_url is not None and ctx.data is not None
    conn = await asyncpg.connect(ctx.db_url)
    try:
        issuer = dict(
            await conn.fetchrow("SELECT id, level, region_code FROM department WHERE id = $1", ctx.data.quiet_issuer_id)
        )
    finally:
        await conn.close()
    item_id = await _three_supervisor_item(ctx.db_url, issuer["region_code"])
    rows = ctx.count(500, 5000)
    now = datetime.now(SHANGHAI)
    stamp = now.strftime("%H%M%S")
    ours, theirs = ctx.work_dir / "import-platform.csv", ctx.work_dir / "import-baseline.csv"
    write_csv(ours, f"IP{stamp}", rows, f"ITEM{item_id:03d}", local_date(now), issuer["region_code"])
    write_csv(theirs, f"IB{stamp}", rows, f"ITEM{item_id:03d}", local_date(now), issuer["region_code"])
    t0 = time.perf_counter()
    report = await import_file(ours, username=f"u{issuer['id']}", progress=False, now=now)
    import_s = time.perf_counter() - t0
    if report.errors or report.imported != rows:
        raise RuntimeError(f"import reported {report.imported} imported, errors {report.summary()[:500]}")
    redis = aioredis.Redis.from_url(ctx.redis_url)
    try:
        t1 = time.perf_counter()
        flushes = await drain(redis, now)
        flush_s = time.perf_counter() - t1
        done, baseline_s = await _baseline(ctx.db_url, theirs, issuer, now)
        await drain(redis, now)  # not timed: leaves no backlog for the scenarios after this one
    finally:
        await redis.aclose()
    rate, base_rate = rows / import_s, done / baseline_s
    return [
        Result(
            name="bulk_import",
            title=f"import {rows:,} offline decisions from CSV (validation, decisions, pushes, outbox events)",
            unit="decisions/s",
            platform={
                "headline": f"{rate:,.0f} decisions/s ({import_s:.2f} s; then {flushes} flush_outbox calls "
                f"{flush_s:.2f} s)",
                "throughput": round(rate, 1),
                "seconds": round(import_s, 2),
                "flush_seconds": round(flush_s, 2),
            },
            baseline={
                "headline": f"{base_rate:,.0f} decisions/s ({baseline_s:.2f} s)",
                "throughput": round(base_rate, 1),
                "seconds": round(baseline_s, 2),
            },
            ratio=round(rate / base_rate, 3),
            ratio_of="platform rate / baseline rate",
            target=f"≥ {TARGET_RATE:,} decisions/s",
            met=rate >= TARGET_RATE,
            note="models.offline_import.import_file; baseline: csv + identifier checks + COPY in one transaction. "
            f"Publishing the {3 * rows:,} events took {flushes} flush_outbox calls: each sequences at most 1,000 "
            "events, so a backlog delays any live event committed after it",
        )
    ]
