"""`shenguan rotate-data-key` with the embedded keyring file: a new key, every row re-sealed, old rows gone."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from models import crypto
from models.identifiers import citizen_id_is_valid

ROOT = Path(__file__).resolve().parent.parent.parent


def shenguan(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    drop = {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "SHENGUAN_DATA_KEY", "SHENGUAN_DATA_KEYS_OLD"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**env, "SHENGUAN_VAR_DIR": str(var)},
    )


def key_ids(var: Path, table: str, column: str) -> set[str | None]:
    db = sqlite3.connect(var / "shenguan.sqlite3")
    try:
        rows = db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
    finally:
        db.close()
    return {crypto.key_id_of(r[0]) for r in rows}


@pytest.mark.slow
def test_rotation_makes_a_new_key_and_reseals_every_row(tmp_path: Path, keys: Any) -> None:
    assert shenguan(tmp_path, "migrate").returncode == 0
    assert shenguan(tmp_path, "seed-demo").returncode == 0
    ring_file = tmp_path / "data-keys"
    (first,) = ring_file.read_text().split()
    old_kid = crypto.Keyring.from_masters([base64.b64decode(first)]).current.kid
    assert key_ids(tmp_path, "decision", "id_number") == {old_kid}

    result = shenguan(tmp_path, "rotate-data-key", "--batch-size", "7")
    assert result.returncode == 0, result.stderr
    new, old = ring_file.read_text().split()
    assert old == first  # the old key stays until every process has restarted
    ring = crypto.configure([base64.b64decode(new)])
    assert ring.current.kid != old_kid and f"已用数据密钥 {ring.current.kid} 重新加密" in result.stdout
    assert "decision 40 行" in result.stdout and "liaison_appointment 2 行" in result.stdout
    for table, column in (("decision", "id_number"), ("decision", "phone"), ("liaison_appointment", "phone")):
        assert key_ids(tmp_path, table, column) == {ring.current.kid}

    # The new key alone opens everything.
    db = sqlite3.connect(tmp_path / "shenguan.sqlite3")
    try:
        sealed = [r[0] for r in db.execute("SELECT id_number FROM decision WHERE id_number IS NOT NULL")]
    finally:
        db.close()
    assert sealed and all(citizen_id_is_valid(crypto.open_sealed(s, context="decision.id_number")) for s in sealed)

    db = sqlite3.connect(tmp_path / "shenguan.sqlite3")
    try:
        (detail,) = db.execute("SELECT detail FROM audit_record WHERE action = 'rotateDataKey'").fetchone()
    finally:
        db.close()
    assert ring.current.kid in detail  # the rotation itself is on the audit trail

    resumed = shenguan(tmp_path, "rotate-data-key", "--resume", "--quiet")
    assert resumed.returncode == 0 and len(ring_file.read_text().split()) == 2  # no further key
    assert shenguan(tmp_path, "verify-audit").returncode == 0


@pytest.mark.slow
def test_serve_refuses_a_data_key_that_does_not_open_the_database(tmp_path: Path) -> None:
    assert shenguan(tmp_path, "migrate").returncode == 0
    assert shenguan(tmp_path, "seed-demo").returncode == 0
    (tmp_path / "data-keys").write_text(base64.b64encode(bytes(32)).decode() + "\n")  # another key
    result = shenguan(tmp_path, "serve")
    assert result.returncode == 2
    assert "数据密钥与数据库不符" in result.stderr and "Traceback" not in result.stderr
