"""The `shenguan` command as an operator uses it: migrate, refuse an unmigrated database, demo data."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def shenguan(var: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "SHENGUAN_VAR_DIR": str(var), **env},
    )


def test_serve_refuses_an_unmigrated_database_with_one_clear_line(tmp_path: Path) -> None:
    result = shenguan(tmp_path, "serve", PORT="1")
    assert result.returncode == 2
    assert "数据库尚未迁移" in result.stderr
    assert "shenguan migrate" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "abc", "PORT='abc' is not a whole number"),
        ("PORT", "70000", "PORT=70000 is outside 1..65535"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL scheme 'mysql' is not sqlite:// or postgres://"),
        ("SHENGUAN_SECRET_KEY", "short", "SHENGUAN_SECRET_KEY must be at least 32 characters"),
    ],
)
def test_a_wrong_setting_stops_the_process_naming_it(tmp_path: Path, name: str, value: str, message: str) -> None:
    result = shenguan(tmp_path, "migrate", **{name: value})
    assert result.returncode == 2
    assert result.stderr.strip() == f"配置错误：{message}"


@pytest.mark.slow
def test_migrate_seed_and_admin_are_idempotent(tmp_path: Path) -> None:
    assert shenguan(tmp_path, "migrate").returncode == 0
    assert shenguan(tmp_path, "migrate").returncode == 0
    first = shenguan(tmp_path, "seed-demo")
    assert first.returncode == 0, first.stderr
    assert "部门 192，用户 9，事项 20，审批决定 40" in first.stdout
    again = shenguan(tmp_path, "seed-demo")
    assert "演示数据已存在" in again.stdout
    admin = shenguan(tmp_path, "create-admin", SHENGUAN_ADMIN_PASSWORD="Admin-Pass-2026!")
    assert "管理员 admin 已创建" in admin.stdout
    assert "Admin-Pass-2026!" not in admin.stdout  # a given password is never echoed
    assert "已存在" in shenguan(tmp_path, "create-admin").stdout

    db = sqlite3.connect(tmp_path / "shenguan.sqlite3")
    try:
        pushes = db.execute("SELECT count(*) FROM decision_push").fetchone()[0]
        events = db.execute("SELECT count(*) FROM event WHERE kind = 'PUSH_CREATED'").fetchone()[0]
        ids = [r[0] for r in db.execute("SELECT id_number FROM decision WHERE id_number IS NOT NULL")]
    finally:
        db.close()
    assert pushes == 40  # the demo items are supervised at city level by one department each
    assert events == pushes
    from models.crypto import open_sealed
    from models.identifiers import citizen_id_is_valid

    # Stored sealed (PIPL); the same keyring (SHENGUAN_DATA_KEY from conftest) opens them.
    assert ids and all(i.startswith("sg1:") for i in ids)
    assert all(citizen_id_is_valid(open_sealed(i, context="decision.id_number")) for i in ids)


def test_generated_admin_password_is_printed_once_and_kept(tmp_path: Path) -> None:
    assert shenguan(tmp_path, "migrate").returncode == 0
    first = shenguan(tmp_path, "create-admin")
    kept = (tmp_path / "admin-password.txt").read_text().strip()
    assert kept in first.stdout
    assert oct((tmp_path / "admin-password.txt").stat().st_mode & 0o777) == "0o600"
    second = shenguan(tmp_path, "create-admin")
    assert kept not in second.stdout
