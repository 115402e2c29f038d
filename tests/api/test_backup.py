"""`shenguan backup` / `restore` of the embedded default, taken while decisions keep being issued."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import tarfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from api.backup import DATABASE_NAME, MANIFEST_NAME, BackupError, backup, restore
from models.calendar import SHANGHAI
from models.db import close_database, open_database, orm_config, pending_migrations
from models.decision import Decision
from models.settings import Settings
from tests import factories as f
from tests.api.test_subscriptions import document_number, world
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="the SQLite default only")


HOLD_OPEN = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1])
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
print("open", flush=True)
time.sleep(120)
"""


def restored_settings(settings: Settings, var: Path) -> Settings:
    return dataclasses.replace(settings, var_dir=var, database_url=f"sqlite://{var / 'shenguan.sqlite3'}")


async def issue_until(stop: asyncio.Event, committed: list[str], w: Any) -> None:
    """Keep issuing decisions, one transaction each, noting each number once its commit returned."""
    while not stop.is_set():
        number = document_number()
        async with in_transaction():
            await f.decision(w.issuer, w.item_a, now=datetime.now(SHANGHAI), number=number)
        committed.append(number)
        await asyncio.sleep(0)


@pytest.mark.parametrize("archive", [False, True], ids=["directory", "tar.gz"])
async def test_a_backup_taken_under_writes_restores_every_decision_committed_before_it(
    db: str, settings: Settings, tmp_path: Path, archive: bool
) -> None:
    w = await world()
    (settings.var_dir / "notes").mkdir(exist_ok=True)
    (settings.var_dir / "notes" / "keep.txt").write_text("kept\n")
    committed: list[str] = []
    stop = asyncio.Event()
    writer = asyncio.ensure_future(issue_until(stop, committed, w))
    while len(committed) < 5:  # noqa: ASYNC110  the writer task appends; a bounded wait for its first commits
        await asyncio.sleep(0.01)

    before = list(committed)  # every one of these had committed when the backup began
    steps = 0
    wrote_meanwhile = threading.Event()

    def on_step(done: int, total: int) -> None:
        """Between the first copy steps, wait until the writer has committed more: writes overlap the copy."""
        nonlocal steps
        steps += 1
        mark = len(committed)
        if steps <= 3:
            for _ in range(500):
                if len(committed) > mark:
                    wrote_meanwhile.set()
                    return
                threading.Event().wait(0.01)

    destination = tmp_path / ("backup.tar.gz" if archive else "backup")
    import api.backup as backup_module

    small_steps = 2  # pages per step: several steps even for a small test database
    original, backup_module.PAGES_PER_STEP = backup_module.PAGES_PER_STEP, small_steps
    try:
        report = await asyncio.to_thread(backup, settings, destination, show_progress=False, on_step=on_step)
    finally:
        backup_module.PAGES_PER_STEP = original
        stop.set()
        await writer
    assert wrote_meanwhile.is_set(), "no decision was committed while the copy ran"
    assert report.database_pages > small_steps
    if archive:
        with tarfile.open(destination) as tar:
            names = set(tar.getnames())
        assert {MANIFEST_NAME, DATABASE_NAME, "var/notes/keep.txt"} <= names
        assert not any(n.endswith((".sqlite3", "-wal", "-shm", ".sock")) and n != DATABASE_NAME for n in names)
    else:
        assert (destination / "var" / "notes" / "keep.txt").read_text() == "kept\n"
        assert not (destination / "var" / Path(settings.database_url.removeprefix("sqlite://")).name).exists()

    target = restored_settings(settings, tmp_path / "restored")
    restore(target, destination, show_progress=False)
    assert (target.var_dir / "notes" / "keep.txt").read_text() == "kept\n"

    await close_database()
    await open_database(target.database_url)  # refuses a database that is not fully migrated
    try:
        assert await pending_migrations(orm_config(target.database_url)) == []
        restored = set(await Decision.all().values_list("document_number", flat=True))
    finally:
        await close_database()
        await open_database(settings.database_url)
    assert set(before) <= restored
    assert restored <= set(committed)  # nothing that never committed, nothing torn


def test_restore_refuses_a_non_empty_target_without_force_and_a_running_one_always(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    destination = tmp_path / "b"
    backup(settings, destination, show_progress=False)
    target = restored_settings(settings, tmp_path / "target")
    restore(target, destination, show_progress=False)
    with pytest.raises(BackupError, match="--force"):
        restore(target, destination, show_progress=False)
    restore(target, destination, force=True, show_progress=False)

    # Another process (a server, say) has the target database open: never overwritten, even with --force.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, str(target.var_dir / "shenguan.sqlite3")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(BackupError, match="正在被运行中的平台使用"):
            restore(target, destination, force=True, show_progress=False)
    finally:
        holder.kill()
        holder.wait()
    restore(target, destination, force=True, show_progress=False)
    with pytest.raises(BackupError, match="不为空"):
        backup(settings, destination, show_progress=False)


def test_backup_refuses_postgres_and_points_to_pg_dump(settings: Settings, tmp_path: Path) -> None:
    postgres = dataclasses.replace(settings, database_url="postgres://u@127.0.0.1:5432/x")
    with pytest.raises(BackupError, match="pg_dump"):
        backup(postgres, tmp_path / "x", show_progress=False)


async def test_the_backup_and_restore_commands(db: str, settings: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SHENGUAN_VAR_DIR": str(settings.var_dir),
        "SHENGUAN_SECRET_KEY": settings.secret_key,
    }
    archive = tmp_path / "nightly.tar.gz"

    def shenguan(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    made = await asyncio.to_thread(shenguan, "backup", str(archive))
    assert made.returncode == 0, made.stderr
    assert "备份完成" in made.stdout and archive.exists()
    var = tmp_path / "fresh"
    restored = await asyncio.to_thread(
        shenguan, "restore", str(archive), SHENGUAN_VAR_DIR=str(var), DATABASE_URL=f"sqlite://{var / 'db.sqlite3'}"
    )
    assert restored.returncode == 0, restored.stderr
    assert (var / "db.sqlite3").exists()
    again = await asyncio.to_thread(
        shenguan, "restore", str(archive), SHENGUAN_VAR_DIR=str(var), DATABASE_URL=f"sqlite://{var / 'db.sqlite3'}"
    )
    assert again.returncode == 2 and "--force" in again.stderr
