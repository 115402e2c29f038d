"""A province-scale data set on PostgreSQL, reproducible from a seed, loaded with COPY.

Shandong's 16 cities and their 136 county-level divisions (152 regions), each with one approval
bureau and 19 supervision departments (3,040 departments, one account each); 100 catalogue items,
each supervised by 1-4 kinds of department at every level; N decisions with valid citizen ID
numbers (GB 11643) and credit codes (GB 32100), about 2.7 pushes each routed as the platform routes
them (the item's supervisors at the issuer's level and region), and one PUSH_CREATED event per
push with its recipient row, already sequenced and published.

One department is deliberately hot: the Jinan city approval bureau issues a large share of the
decisions, all of items that Jinan's market regulation bureau supervises, so that bureau's inbox is
deep enough to page 10,000 rows down even in the quick data set.

    python -m bench.generate --decisions 20000 --seed 6

The database must be migrated; every platform table except the calendar is emptied first.
Loading uses COPY (asyncpg copy_records_to_table) with the secondary indexes dropped and rebuilt
afterwards and foreign-key triggers off for the loading session (session_replication_role), which
is safe because every reference is generated from the rows loaded just before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from models.account import hash_password
from models.calendar import SHANGHAI, deadline_at
from models.crypto import seal
from models.decision import id_number_lookup
from models.demo import COUNTIES
from models.demo import SUPERVISION as DEMO_SUPERVISION
from models.enums import CounterpartyKind
from models.identifiers import make_citizen_id, make_credit_code
from models.issuance import CounterpartyInput, DecisionInput, fingerprint
from models.workdays import WorkCalendar, package_exception_days

PASSWORD = "Bench-Pass-2026!"
GENERATED_AT = datetime(2026, 11, 25, 18, 0, tzinfo=SHANGHAI)  # fixed, so the data set is reproducible
FIRST_DAY = date(2025, 1, 2)
CHUNK = 10_000

# (division code, name, number of county-level divisions): 16 cities, 136 counties in all.
CITIES = [
    ("370100", "济南市", 12),
    ("370200", "青岛市", 10),
    ("370300", "淄博市", 8),
    ("370400", "枣庄市", 6),
    ("370500", "东营市", 5),
    ("370600", "烟台市", 11),
    ("370700", "潍坊市", 12),
    ("370800", "济宁市", 11),
    ("370900", "泰安市", 6),
    ("371000", "威海市", 4),
    ("371100", "日照市", 4),
    ("371300", "临沂市", 12),
    ("371400", "德州市", 11),
    ("371500", "聊城市", 8),
    ("371600", "滨州市", 7),
    ("371700", "菏泽市", 9),
]
JINING_COUNTIES = COUNTIES  # the demo data set's real divisions
APPROVAL = ("SP", "行政审批服务局")
# The demo data set's fifteen, plus four more a province has.
SUPERVISION = [*DEMO_SUPERVISION, ("GA", "公安局"), ("XF", "消防救援大队"), ("LY", "林业局"), ("TY", "体育局")]
ITEM_NAMES = [
    ("食品经营许可", "SCJG"),
    ("食品生产许可", "SCJG"),
    ("药品零售企业经营许可", "SCJG"),
    ("建筑工程施工许可证核发", "ZJ"),
    ("建设工程消防设计审查", "ZJ"),
    ("危险化学品经营许可", "YJ"),
    ("烟花爆竹经营（零售）许可", "YJ"),
    ("公共场所卫生许可", "WJ"),
    ("医疗机构执业登记", "WJ"),
    ("排污许可", "SHJ"),
    ("道路旅客运输经营许可", "JT"),
    ("道路货物运输经营许可", "JT"),
    ("娱乐场所经营许可", "WL"),
    ("旅行社设立许可", "WL"),
    ("民办学校办学许可", "JY"),
    ("农药经营许可", "NY"),
    ("取水许可", "SWJ"),
    ("人力资源服务许可", "RS"),
    ("建设用地规划许可证核发", "ZRZY"),
    ("城市建筑垃圾处置核准", "CG"),
]
ITEM_COUNT = 100
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = [
    "建国",
    "秀英",
    "志强",
    "海燕",
    "立新",
    "晓东",
    "丽娜",
    "文博",
    "春梅",
    "国庆",
    "子涵",
    "宇航",
    "明轩",
    "欣怡",
    "浩然",
    "雨桐",
    "俊杰",
    "诗涵",
    "思远",
    "佳琪",
]
COMPANY = ["鲁兴", "孔孟", "运河", "泗河", "微湖", "圣地", "儒乡", "尼山", "泉城", "海岱", "齐鲁", "泰岳"]
TRADE = [
    "餐饮管理有限公司",
    "食品有限公司",
    "大药房连锁有限公司",
    "建设工程有限公司",
    "化工贸易有限公司",
    "物流有限公司",
    "文化传媒有限公司",
    "旅行社有限公司",
    "医疗管理有限公司",
    "环保科技有限公司",
]
ROADS = ["建设路", "人民路", "解放路", "和平路", "文化路", "红星路", "古槐路", "太白楼路", "共青团路", "济安桥路"]
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

DECISION_COLUMNS = [
    "id",
    "issuer_id",
    "item_id",
    "document_number",
    "content",
    "approved_on",
    "valid_from",
    "valid_until",
    "channel",
    "status",
    "counterparty_name",
    "counterparty_kind",
    "id_number",
    "id_number_hash",
    "credit_code",
    "contact_name",
    "phone",
    "address",
    "content_hash",
    "created_by_id",
    "created_at",
]


def decision_record(data: DecisionInput, issuer_id: int, channel: str, created: datetime) -> tuple[Any, ...]:
    """A decision row in DECISION_COLUMNS order, without its id (the caller numbers it)."""
    cp = data.counterparty
    return (
        issuer_id,
        data.item_id,
        data.document_number,
        data.content,
        data.approved_on,
        data.valid_from,
        data.valid_until,
        channel,
        "VALID",
        cp.name,
        cp.kind.value,
        seal(cp.id_number, context="decision.id_number") if cp.id_number else None,
        id_number_lookup(cp.id_number) if cp.id_number else None,
        cp.credit_code,
        cp.contact_name,
        seal(cp.phone, context="decision.phone") if cp.phone else None,
        cp.address,
        fingerprint(data),
        issuer_id,
        created,
    )


PUSH_COLUMNS = [
    "id",
    "decision_id",
    "department_id",
    "status",
    "pushed_at",
    "claim_due_on",
    "claim_deadline",
    "deadline_provisional",
    "claimed_at",
    "claimed_by_id",
    "claimed_late",
    "return_reason",
    "returned_at",
    "returned_by_id",
    "rerouted_from_id",
    "reminded_at",
    "overdue_at",
]
EVENT_COLUMNS = [
    "id",
    "seq",
    "kind",
    "subject_type",
    "subject_id",
    "roles",
    "payload",
    "created_at",
    "sequenced_at",
    "published_at",
]
RECIPIENT_COLUMNS = ["id", "department_id", "event_id"]
PLATFORM_TABLES = [
    "audit_record",
    "event_recipient",
    "event",
    "decision_push",
    "decision",
    "item_supervisor",
    "approval_item",
    "liaison_appointment",
    "user_account",
    "department",
]
BULK_TABLES = ["decision", "decision_push", "event", "event_recipient"]


@dataclass
class Region:
    code: str
    name: str
    level: str  # CITY | COUNTY
    city_code: str


@dataclass
class Generated:
    """What was generated, and what the scenarios need to find in it."""

    seed: int
    decisions: int
    pushes: int = 0
    events: int = 0
    departments: int = 0
    users: int = 0
    items: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0
    hot_issuer_id: int = 0
    hot_department_id: int = 0
    hot_department_pushes: int = 0
    quiet_issuer_id: int = 0
    supervision_department_ids: list[int] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def regions() -> list[Region]:
    """The 16 cities and 136 counties: Jining's real divisions, the others numbered within their city."""
    out: list[Region] = []
    for code, name, counties in CITIES:
        out.append(Region(code, name, "CITY", code))
        if code == "370800":
            out += [Region(c, n, "COUNTY", code) for c, n in JINING_COUNTIES]
            continue
        for k in range(counties):
            out.append(Region(f"{code[:4]}{k + 2:02d}", f"{name[:-1]}第{k + 1}区县", "COUNTY", code))
    return out


@dataclass
class Catalogue:
    """Departments, accounts and items as loaded, with the lookups routing needs."""

    regions: list[Region]
    department_rows: list[tuple[Any, ...]]
    user_rows: list[tuple[Any, ...]]
    item_rows: list[tuple[Any, ...]]
    supervisor_rows: list[tuple[int, int]]
    by_region_kind: dict[tuple[str, str], int]
    item_kinds: list[list[str]]  # index = item id - 1
    item_names: list[str]


def build_catalogue(rng: random.Random) -> Catalogue:
    regs = regions()
    created = datetime(2024, 12, 1, 9, 0, tzinfo=SHANGHAI)
    departments: list[tuple[Any, ...]] = []
    by_region_kind: dict[tuple[str, str], int] = {}
    for region in regs:
        for key, name in [APPROVAL, *SUPERVISION]:
            dept_id = len(departments) + 1
            kind = "APPROVAL" if key == APPROVAL[0] else "SUPERVISION"
            parent = by_region_kind.get((region.city_code, key)) if region.level == "COUNTY" else None
            departments.append(
                (dept_id, f"{region.code}-{key}", region.name + name, kind, region.level, region.code, created, parent)
            )
            by_region_kind[(region.code, key)] = dept_id
    secret = hash_password(PASSWORD)  # one argon2 hash for every account: hashing 3,040 would take minutes
    users = [
        (d[0], f"u{d[0]}", secret, f"{d[2][:40]}联络员", '["LIAISON","OFFICER"]', True, 1, created, created, d[0])
        for d in departments
    ]
    kinds = [key for key, _ in SUPERVISION]
    items: list[tuple[Any, ...]] = []
    item_kinds: list[list[str]] = []
    names: list[str] = []
    for n in range(ITEM_COUNT):
        base, primary = ITEM_NAMES[n % len(ITEM_NAMES)]
        name = base if n < len(ITEM_NAMES) else f"{base}（{rng.choice(['新办', '延续', '变更', '分支机构'])}{n}）"
        extra = rng.choices([0, 1, 2, 3], weights=[1, 3, 4, 2])[0]
        chosen = [primary, *rng.sample([k for k in kinds if k != primary], extra)]
        items.append(
            (
                n + 1,
                f"ITEM{n + 1:03d}",
                name,
                f"《行政许可法》第十二条；{name}相关规定",
                n % 5 == 0,
                n % 7 == 0,
                "NORMAL",
                True,
                created,
            )
        )
        item_kinds.append(chosen)
        names.append(name)
    supervisors = [
        (item_id, by_region_kind[(region.code, key)])
        for item_id, chosen in enumerate(item_kinds, start=1)
        for key in chosen
        for region in regs
    ]
    return Catalogue(regs, departments, users, items, supervisors, by_region_kind, item_kinds, names)


class DecisionFactory:
    """Decisions, pushes, events and recipients for ids first.., deterministic for a seed."""

    def __init__(self, cat: Catalogue, total: int, seed: int, calendar: WorkCalendar) -> None:
        self.cat = cat
        self.total = total
        self.rng = random.Random(seed * 7919 + 1)
        self.calendar = calendar
        self.hot_region = "370100"
        self.hot_share = min(0.6, max(12_000 / max(total, 1), 0.05))
        self.hot_items = [i + 1 for i, kinds in enumerate(cat.item_kinds) if "SCJG" in kinds]
        city_weight = [3 if r.level == "CITY" else 1 for r in cat.regions]
        self.region_pool = [r for r, w in zip(cat.regions, city_weight, strict=True) for _ in range(w)]
        self.hot = next(r for r in cat.regions if r.code == self.hot_region)
        self.span_days = (GENERATED_AT.date() - FIRST_DAY).days
        self.due: dict[date, tuple[date, datetime]] = {}
        self.push_id = 0

    def _due(self, day: date) -> tuple[date, datetime]:
        hit = self.due.get(day)
        if hit is None:
            on = self.calendar.add_working_days(day, 3)
            hit = self.due[day] = (on, deadline_at(on))
        return hit

    def _counterparty(self, region: Region) -> CounterpartyInput:
        rng = self.rng
        phone = "1" + rng.choice("3578") + "".join(rng.choices("0123456789", k=9))
        address = f"{region.name}{rng.choice(ROADS)}{rng.randint(1, 999)}号"
        if rng.random() < 0.6:
            birth = f"{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            return CounterpartyInput(
                name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                kind=CounterpartyKind.PERSON,
                id_number=make_citizen_id(region.code, birth, rng.randint(0, 999)),
                phone=phone,
                address=address,
            )
        body = "91" + region.code + "".join(rng.choices(CREDIT_CHARS, k=9))
        return CounterpartyInput(
            name=f"{region.name[:2]}{rng.choice(COMPANY)}{rng.choice(TRADE)}",
            kind=CounterpartyKind.ORGANIZATION,
            credit_code=make_credit_code(body),
            contact_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            phone=phone,
            address=address,
        )

    def chunk(self, first: int, count: int) -> tuple[list[tuple[Any, ...]], ...]:
        rng = self.rng
        cat = self.cat
        decisions: list[tuple[Any, ...]] = []
        pushes: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        recipients: list[tuple[Any, ...]] = []
        for decision_id in range(first, first + count):
            if rng.random() < self.hot_share:
                region, item_id = self.hot, rng.choice(self.hot_items)
            else:
                region, item_id = rng.choice(self.region_pool), rng.randint(1, ITEM_COUNT)
            day = FIRST_DAY + timedelta(days=(decision_id - 1) * self.span_days // self.total)
            created = datetime(
                day.year,
                day.month,
                day.day,
                rng.randint(8, 17),
                rng.randint(0, 59),
                rng.randint(0, 59),
                tzinfo=SHANGHAI,
            )
            counterparty = self._counterparty(region)
            data = DecisionInput(
                item_id=item_id,
                document_number=f"鲁{region.code}审\u3014{day.year}\u3015{decision_id}号",
                content=f"准予许可。许可事项：{cat.item_names[item_id - 1]}。",
                approved_on=day,
                counterparty=counterparty,
                valid_from=day,
                valid_until=day + timedelta(days=1826),
            )
            issuer = cat.by_region_kind[(region.code, APPROVAL[0])]
            channel = "OFFLINE" if rng.random() < 0.1 else "PLATFORM"
            decisions.append((decision_id, *decision_record(data, issuer, channel, created)))
            due_on, deadline = self._due(day)
            for key in cat.item_kinds[item_id - 1]:
                self.push_id += 1
                push_id = self.push_id
                dept = cat.by_region_kind[(region.code, key)]
                pushes.append(self._push(push_id, decision_id, dept, created, due_on, deadline))
                payload = json.dumps({"pushId": push_id, "decisionId": decision_id, "dueOn": due_on.isoformat()})
                events.append(
                    (
                        push_id,
                        push_id,
                        "PUSH_CREATED",
                        "DecisionPush",
                        push_id,
                        "[]",
                        payload,
                        created,
                        created,
                        created,
                    )
                )
                recipients.append((push_id, dept, push_id))
        return decisions, pushes, events, recipients

    def _push(
        self, push_id: int, decision_id: int, dept: int, pushed: datetime, due_on: date, deadline: datetime
    ) -> tuple[Any, ...]:
        rng = self.rng
        roll = rng.random()
        past = deadline < GENERATED_AT
        if (past and roll < 0.88) or (not past and roll < 0.5):
            claimed = pushed + timedelta(minutes=rng.randint(5, 6 * 24 * 60))
            claimed = min(claimed, GENERATED_AT)
            return (
                push_id,
                decision_id,
                dept,
                "CLAIMED",
                pushed,
                due_on,
                deadline,
                False,
                claimed,
                dept,
                claimed > deadline,
                None,
                None,
                None,
                None,
                None,
                None,
            )
        if past and roll < 0.90:
            returned = pushed + timedelta(hours=rng.randint(1, 48))
            return (
                push_id,
                decision_id,
                dept,
                "RETURNED",
                pushed,
                due_on,
                deadline,
                False,
                None,
                None,
                False,
                "非本部门监管事项",
                returned,
                dept,
                None,
                None,
                None,
            )
        overdue = deadline + timedelta(seconds=1) if past else None
        return (
            push_id,
            decision_id,
            dept,
            "PENDING",
            pushed,
            due_on,
            deadline,
            False,
            None,
            None,
            False,
            None,
            None,
            None,
            None,
            None,
            overdue,
        )


def _chunks(total: int) -> Iterator[tuple[int, int]]:
    for first in range(1, total + 1, CHUNK):
        yield first, min(CHUNK, total - first + 1)


async def _drop_secondary_indexes(conn: asyncpg.Connection, tables: list[str]) -> list[str]:
    """Drop the bulk tables' indexes and unique constraints (not primary keys); returns the DDL to rebuild them.

    Inserting into a random-order B-tree row by row is what makes a large load I/O-bound; building
    each index once at the end is several times faster. Uniqueness is still checked, when the
    constraint is added back.
    """
    constraints = await conn.fetch(
        """
        SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE c.contype = 'u' AND c.conrelid::regclass::text = ANY($1::text[])
        """,
        tables,
    )
    indexes = await conn.fetch(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        tables,
    )
    rebuild: list[str] = []
    for r in constraints:
        await conn.execute(f'ALTER TABLE {r["tbl"]} DROP CONSTRAINT "{r["conname"]}"')
        rebuild.append(f'ALTER TABLE {r["tbl"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}')
    for r in indexes:
        await conn.execute(f'DROP INDEX "{r["indexname"]}"')
        rebuild.append(r["indexdef"])
    return rebuild


async def generate(dsn: str, decisions: int, seed: int = 6, *, progress: bool = False) -> Generated:
    """Empty the platform tables and load a province: departments, accounts, items, decisions, pushes, events."""
    started = time.perf_counter()
    rng = random.Random(seed)
    report = Generated(seed=seed, decisions=decisions)
    cat = build_catalogue(rng)
    exceptions, years = package_exception_days()
    factory = DecisionFactory(cat, decisions, seed, WorkCalendar(exceptions, years))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"TRUNCATE {', '.join(PLATFORM_TABLES)} RESTART IDENTITY CASCADE")
        await conn.execute("SET session_replication_role = replica")
        await conn.copy_records_to_table(
            "department",
            records=cat.department_rows,
            columns=["id", "code", "name", "kind", "level", "region_code", "created_at", "parent_id"],
        )
        await conn.copy_records_to_table(
            "user_account",
            records=cat.user_rows,
            columns=[
                "id",
                "username",
                "password_hash",
                "display_name",
                "roles",
                "is_active",
                "token_version",
                "created_at",
                "updated_at",
                "department_id",
            ],
        )
        await conn.copy_records_to_table(
            "approval_item",
            records=cat.item_rows,
            columns=[
                "id",
                "code",
                "name",
                "legal_basis",
                "commitment_based",
                "joint_inspection",
                "responsibility",
                "is_active",
                "created_at",
            ],
        )
        await conn.copy_records_to_table(
            "item_supervisor", records=cat.supervisor_rows, columns=["approval_item_id", "department_id"]
        )
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        rebuild = await _drop_secondary_indexes(conn, BULK_TABLES)
        report.phases["catalogue"] = round(time.perf_counter() - started, 2)
        generating = copying = 0.0
        for first, count in _chunks(decisions):
            t0 = time.perf_counter()
            rows = factory.chunk(first, count)
            t1 = time.perf_counter()
            for table, columns, records in zip(
                BULK_TABLES, [DECISION_COLUMNS, PUSH_COLUMNS, EVENT_COLUMNS, RECIPIENT_COLUMNS], rows, strict=True
            ):
                await conn.copy_records_to_table(table, records=records, columns=columns)
            copying += time.perf_counter() - t1
            generating += t1 - t0
            if progress:
                print(f"  {first + count - 1:>9,} decisions", flush=True)
        report.phases["generate_rows"] = round(generating, 2)
        report.phases["copy"] = round(copying, 2)
        t0 = time.perf_counter()
        for statement in rebuild:
            await conn.execute(statement)
        report.phases["rebuild_indexes"] = round(time.perf_counter() - t0, 2)
        await conn.execute("SET session_replication_role = origin")
        for table in ["department", "user_account", "approval_item", *BULK_TABLES]:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))"
            )
        t0 = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) department, user_account, approval_item, item_supervisor")
        for table in BULK_TABLES:
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        report.phases["vacuum_analyze"] = round(time.perf_counter() - t0, 2)
    finally:
        await conn.close()
    report.pushes = factory.push_id
    report.events = factory.push_id
    report.departments = len(cat.department_rows)
    report.users = len(cat.user_rows)
    report.items = len(cat.item_rows)
    report.hot_issuer_id = cat.by_region_kind[(factory.hot_region, APPROVAL[0])]
    report.hot_department_id = cat.by_region_kind[(factory.hot_region, "SCJG")]
    report.quiet_issuer_id = cat.by_region_kind[("371702", APPROVAL[0])]
    report.supervision_department_ids = [d[0] for d in cat.department_rows if d[3] == "SUPERVISION"]
    report.seconds = round(time.perf_counter() - started, 2)
    rows_loaded = decisions + 3 * report.pushes + len(cat.department_rows) + len(cat.supervisor_rows)
    report.rows_per_second = round(rows_loaded / report.seconds)
    await _remember(dsn, report)
    return report


async def _remember(dsn: str, report: Generated) -> None:
    """Keep the report in the database, so that `--reuse-db` can skip generating it again."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (id int PRIMARY KEY, report jsonb NOT NULL)")
        await conn.execute(
            "INSERT INTO bench_meta VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET report = excluded.report",
            json.dumps(report.as_dict()),
        )
    finally:
        await conn.close()


async def remembered(dsn: str) -> Generated | None:
    """The report of the data set already in the database, if it was generated here."""
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        raw = await conn.fetchval("SELECT report FROM bench_meta WHERE id = 1")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    return Generated(**json.loads(raw)) if raw else None


async def hot_department_pushes(dsn: str, department_id: int) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM decision_push WHERE department_id = $1", department_id))
    finally:
        await conn.close()


def main() -> None:
    from bench.env import database_url

    parser = argparse.ArgumentParser(description="Load a province-scale data set into a migrated database.")
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--database-url", default=database_url())
    args = parser.parse_args()
    report = asyncio.run(generate(args.database_url, args.decisions, args.seed, progress=True))
    print(json.dumps(report.as_dict() | {"supervision_department_ids": "…"}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
