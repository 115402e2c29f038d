"""Upgrading a database written before personal data was sealed and the audit trail chained.

Rows are written at migration 0004 with plain SQL (the models of today have columns 0004 lacks),
then the remaining migrations run: ID numbers and phones come out sealed with their lookup hash and
a keyed content digest, and the audit records already there form a verified chain.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from models import crypto
from models.audit import verify_chain
from models.db import close_database, migrate_database, open_database, orm_config
from models.decision import Decision
from models.enums import Channel, CounterpartyKind
from models.issuance import CounterpartyInput, DecisionInput, same_content
from models.personal_data import find_by_id_number
from tests import factories as f

ID = "370811198602140019"
NOW = "2026-03-02 10:00:00+08:00"
OLD_ROWS = [
    "INSERT INTO department (id, code, name, kind, level, region_code, created_at) VALUES "
    f"(1, 'SP', '审批局', 'APPROVAL', 'CITY', '370800', '{NOW}')",
    "INSERT INTO user_account (id, username, password_hash, display_name, department_id, roles, is_active, "
    f"token_version, created_at, updated_at) VALUES (1, 'jing_ban', 'x', '经办', 1, '[\"OFFICER\"]', true, 1, '{NOW}', "
    f"'{NOW}')",
    "INSERT INTO approval_item (id, code, name, legal_basis, commitment_based, joint_inspection, responsibility, "
    f"is_active, created_at) VALUES (1, 'I1', '食品经营许可', '食品安全法', false, false, 'NORMAL', true, '{NOW}')",
    "INSERT INTO decision (id, issuer_id, item_id, document_number, content, approved_on, valid_from, valid_until, "
    "channel, status, counterparty_name, counterparty_kind, id_number, credit_code, contact_name, phone, address, "
    f"content_hash, created_by_id, created_at) VALUES (1, 1, 1, '济审〔2026〕1号', '准予许可', '2026-03-02', NULL, "
    f"'2031-03-01', 'PLATFORM', 'VALID', '张三', 'PERSON', '{ID}', NULL, NULL, '13853712345', NULL, "
    f"'plain-sha256-of-old-version', 1, '{NOW}')",
    "INSERT INTO liaison_appointment (id, department_id, user_id, title, phone, started_at) VALUES "
    f"(1, 1, 1, '科长', '0537-2345678', '{NOW}')",
    *[
        "INSERT INTO audit_record (at, actor_id, department_id, action, object_type, object_id, address, detail) "
        f"VALUES ('2026-03-02 10:00:0{n}.123456+08:00', 1, 1, 'issueDecision', 'Decision', '1', '10.0.0.1', "
        f"'{{\"n\": {n}}}')"
        for n in range(3)
    ],
]


@pytest.fixture
async def old_database(tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own at migration 0004 (SQLite file, or a sibling PostgreSQL database)."""
    given = os.environ.get("TEST_DATABASE_URL")
    if not given:
        yield f"sqlite://{tmp_path / 'old.sqlite3'}"
        return
    parts = urlsplit(given)
    name = parts.path.lstrip("/") + "_upgrade"
    admin_url = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_an_old_database_is_sealed_and_chained_by_the_migrations(old_database: str) -> None:
    url = old_database
    await migrate(config=orm_config(url), target="shenguan.0004_one_push_per_department")
    conn = connections.get("default")
    for sql in OLD_ROWS:
        await conn.execute_script(sql)
    if url.startswith("postgres"):
        for table in ("department", "user_account", "approval_item", "decision", "liaison_appointment"):
            await conn.execute_script(f"SELECT setval('{table}_id_seq', 10)")
    await Tortoise.close_connections()

    await migrate_database(url)
    await close_database()
    await open_database(url)
    try:
        conn = connections.get("default")
        _, rows = await conn.execute_query("SELECT id_number, phone, id_number_hash, content_hash FROM decision")
        (row,) = rows
        assert row["id_number"].startswith("sg1:") and ID not in row["id_number"]
        assert row["phone"].startswith("sg1:") and row["id_number_hash"] == crypto.lookup_hash(ID)
        _, rows = await conn.execute_query("SELECT phone FROM liaison_appointment")
        assert rows[0]["phone"].startswith("sg1:")
        decision = await Decision.get(id=1)
        assert (decision.id_number, decision.phone) == (ID, "13853712345")
        viewer = f.User(id=1, department_id=1, roles=["OFFICER"])
        assert [d.id for d in await find_by_id_number(viewer, ID)] == [1]
        retry = DecisionInput(
            item_id=1,
            document_number="济审〔2026〕1号",
            content="准予许可",
            approved_on=decision.approved_on,
            valid_until=decision.valid_until,
            channel=Channel.PLATFORM,
            counterparty=CounterpartyInput(
                name="张三", kind=CounterpartyKind.PERSON, id_number=ID, phone="13853712345"
            ),
        )
        assert same_content(retry, decision.content_hash)  # the old plain digest was replaced by a keyed one
        report = await verify_chain()
        assert (report.intact, report.checked) == (True, 3)
    finally:
        await close_database()
