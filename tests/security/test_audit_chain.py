"""Art. 9: the audit trail is a hash chain; verify-audit finds the first edited, deleted or inserted row."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tortoise import connections
from tortoise.transactions import in_transaction

from models.audit import GENESIS, AuditRecord, hash_of, record_audit, verify_chain

ROOT = Path(__file__).resolve().parent.parent.parent


async def chain(n: int) -> list[AuditRecord]:
    return [
        await record_audit(
            "issueDecision",
            actor_id=i,
            department_id=7,
            object_type="Decision",
            object_id=i,
            address="10.0.0.9",
            detail={"documentNumber": f"济审批〔2026〕{i}号", "n": i},
        )
        for i in range(1, n + 1)
    ]


def verify_audit(database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "SHENGUAN_VAR_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "verify-audit", "--batch-size", "2", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


async def test_each_record_links_to_the_previous_one_and_hashes_its_fields(db: str) -> None:
    rows = await chain(3)
    stored = await AuditRecord.all().order_by("id")
    assert [r.prev_hash for r in stored] == [GENESIS, rows[0].row_hash, rows[1].row_hash]
    assert all(r.row_hash == hash_of(r) and len(r.row_hash) == 64 for r in stored)  # the same after a round trip
    report = await verify_chain(batch_size=2)
    assert (report.intact, report.checked) == (True, 3)


async def test_an_intact_chain_passes_verify_audit(db: str, tmp_path: Path) -> None:
    rows = await chain(5)
    result = verify_audit(db, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"审计链完整：共 5 条记录，最新记录哈希 {rows[-1].row_hash}" in result.stdout


async def test_an_edited_field_breaks_the_chain_at_that_row(db: str, tmp_path: Path) -> None:
    rows = await chain(5)
    await connections.get("default").execute_script(f"UPDATE audit_record SET actor_id = 99 WHERE id = {rows[2].id}")
    report = await verify_chain(batch_size=2)
    assert report.broken is not None and report.broken.record_id == rows[2].id and report.checked == 2
    assert "内容被修改" in report.broken.reason
    result = verify_audit(db, tmp_path)
    assert result.returncode == 1
    assert f"审计链在记录 {rows[2].id} 处断开" in result.stderr


async def test_an_edited_detail_is_found_too(db: str) -> None:
    rows = await chain(3)
    await connections.get("default").execute_script(
        f'UPDATE audit_record SET detail = \'{{"documentNumber": "改过的", "n": 1}}\' WHERE id = {rows[0].id}'
    )
    report = await verify_chain()
    assert report.broken is not None and report.broken.record_id == rows[0].id


async def test_a_deleted_row_breaks_the_chain_at_the_next_one(db: str, tmp_path: Path) -> None:
    rows = await chain(5)
    await connections.get("default").execute_script(f"DELETE FROM audit_record WHERE id = {rows[1].id}")
    report = await verify_chain(batch_size=2)
    assert report.broken is not None and report.broken.record_id == rows[2].id
    assert "链接不符" in report.broken.reason
    result = verify_audit(db, tmp_path)
    assert result.returncode == 1 and f"记录 {rows[2].id} 处断开" in result.stderr


async def test_deleting_the_first_row_is_found(db: str) -> None:
    rows = await chain(2)
    await connections.get("default").execute_script(f"DELETE FROM audit_record WHERE id = {rows[0].id}")
    report = await verify_chain()
    assert report.broken is not None and report.broken.record_id == rows[1].id


async def test_an_inserted_copy_of_a_valid_row_is_found(db: str, tmp_path: Path) -> None:
    """A replayed row carries valid hashes of its own, but it does not follow the chain's last row."""
    rows = await chain(3)
    await connections.get("default").execute_script(
        "INSERT INTO audit_record (at, actor_id, department_id, action, object_type, object_id, address, detail, "
        "prev_hash, row_hash) SELECT at, actor_id, department_id, action, object_type, object_id, address, detail, "
        f"prev_hash, row_hash FROM audit_record WHERE id = {rows[1].id}"
    )
    inserted = await AuditRecord.all().order_by("-id").first()
    assert inserted is not None and inserted.id > rows[2].id
    report = await verify_chain()
    assert report.broken is not None and report.broken.record_id == inserted.id
    assert verify_audit(db, tmp_path).returncode == 1


async def test_concurrent_appends_keep_one_unbroken_chain(db: str) -> None:
    """PostgreSQL: the advisory lock serialises appends from separate transactions (SQLite: one writer)."""

    async def append(n: int) -> None:
        async with in_transaction():
            await record_audit("login", actor_id=n, department_id=1, address="10.0.0.1")

    await asyncio.gather(*(append(n) for n in range(20)))
    report = await verify_chain()
    assert (report.intact, report.checked) == (True, 20)


async def test_an_empty_trail_is_intact(db: str) -> None:
    report = await verify_chain()
    assert (report.intact, report.checked) == (True, 0)
