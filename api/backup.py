"""`shenguan backup` / `restore` for the embedded default: the SQLite database and the files under var/.

The database is copied with SQLite's online backup API inside one read transaction: in WAL mode
that transaction is a fixed snapshot, so writers carry on while the copy is taken, and the copy
holds exactly what had committed when it began. Sockets, and the live database files themselves,
are not copied. PostgreSQL deployments use pg_dump or pg_basebackup instead (README, Operations).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import socket
import sqlite3
import stat
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from tqdm import tqdm

from models.settings import Settings

DATABASE_NAME = "database.sqlite3"
MANIFEST_NAME = "shenguan-backup.json"
FILES_DIR = "var"
PAGES_PER_STEP = 1024  # 4 MiB at the default page size: a step per progress-bar tick


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, in one line."""


@dataclass(frozen=True)
class BackupReport:
    destination: Path
    database_pages: int
    files: int

    def summary(self) -> str:
        return f"备份完成：{self.destination}（数据库 {self.database_pages} 页，文件 {self.files} 个）"


def sqlite_path(settings: Settings) -> Path:
    """The database file of the embedded default; PostgreSQL has its own tools."""
    if settings.is_postgres:
        raise BackupError("PostgreSQL 数据库请用 pg_dump 或 pg_basebackup 备份（见 README 的 Operations 一节）")
    path = urlparse(settings.database_url).path
    if not path or path == ":memory:":
        raise BackupError("内存数据库无法备份")
    return Path(path)


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def _database_files(db: Path) -> set[Path]:
    return {db, *(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}


def var_files(var_dir: Path, skip: set[Path]) -> list[Path]:
    """Regular files under var/ other than the database (and its WAL) and what `skip` names."""
    found = []
    skip_resolved = {p.resolve() for p in skip}
    for path in sorted(var_dir.rglob("*")):
        resolved = path.resolve()
        if resolved in skip_resolved or any(parent in skip_resolved for parent in resolved.parents):
            continue
        mode = path.lstat().st_mode
        if stat.S_ISREG(mode):  # sockets, FIFOs and symlinks stay behind
            found.append(path)
    return found


def copy_database(source: Path, target: Path, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Copy a live SQLite database into `target` as of one snapshot; returns the pages copied."""
    if not source.exists():
        raise BackupError(f"数据库文件不存在：{source}")
    src = sqlite3.connect(source, isolation_level=None)
    dst = sqlite3.connect(target)
    total = 0
    try:
        src.execute("PRAGMA busy_timeout = 10000")
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here

        def step(status: int, remaining: int, pages: int) -> None:
            nonlocal total
            total = pages
            if progress is not None:
                progress(pages - remaining, pages)

        src.backup(dst, pages=PAGES_PER_STEP, progress=step)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no WAL beside it
    finally:
        src.close()
        dst.close()
    return total


def backup(
    settings: Settings,
    destination: Path,
    *,
    show_progress: bool = True,
    on_step: Callable[[int, int], None] | None = None,
) -> BackupReport:
    """Copy the database (online, consistent) and var/'s other files into a directory or a .tar.gz."""
    db = sqlite_path(settings)
    destination = destination.resolve()
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(f"备份目标已存在且不为空：{destination}")
    archive = _is_archive(destination)
    staging = Path(tempfile.mkdtemp(prefix=".shenguan-backup-", dir=destination.parent)) if archive else destination
    staging.mkdir(parents=True, exist_ok=True)
    try:
        bar = tqdm(total=0, unit="页", desc="数据库", disable=not show_progress)

        def step(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()
            if on_step is not None:
                on_step(done, total)

        pages = copy_database(db, staging / DATABASE_NAME, progress=step)
        bar.close()
        files = var_files(settings.var_dir, _database_files(db) | {destination, staging})
        for path in tqdm(files, unit="个", desc="文件", disable=not show_progress):
            target = staging / FILES_DIR / path.relative_to(settings.var_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        manifest = {"created": datetime.now(UTC).isoformat(), "database": DATABASE_NAME, "pages": pages}
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False) + "\n")
        if archive:
            with tarfile.open(destination, "w:gz") as tar:
                for path in sorted(staging.iterdir()):
                    tar.add(path, arcname=path.name)
    finally:
        if archive:
            shutil.rmtree(staging, ignore_errors=True)
    return BackupReport(destination, pages, len(files))


# SQLite's unix VFS: every connection to a WAL database holds a shared lock on this byte of the -shm file.
SHM_DMS_BYTE = 128


def _database_open_elsewhere(db: Path) -> bool:
    """Another process has the WAL database open: the -shm "dead man switch" byte is share-locked."""
    shm = db.with_name(db.name + "-shm")
    if not shm.exists():
        return False
    # Only for the CLI's own process: closing this descriptor drops every POSIX lock the process
    # holds on the file, which would harm a connection of this process to the same database.
    with shm.open("rb+") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_BYTE)
        except OSError:
            return True
        fcntl.lockf(handle, fcntl.LOCK_UN, 1, SHM_DMS_BYTE)
    return False


def is_running(settings: Settings) -> bool:
    """Something uses this var/: its embedded Redis answers, or another process has the database open."""
    sock = settings.var_dir / "redis.sock"
    if sock.exists():
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(1)
            try:
                client.connect(str(sock))
                return True
            except OSError:
                pass
    db = sqlite_path(settings)
    if not db.exists():
        return False
    if _database_open_elsewhere(db):
        return True
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def _unpacked(source: Path, workdir: Path) -> Path:
    if source.is_dir():
        return source
    if not _is_archive(source):
        raise BackupError(f"不是备份目录或 .tar.gz 文件：{source}")
    with tarfile.open(source, "r:gz") as tar:
        tar.extractall(workdir, filter="data")
    return workdir


def restore(settings: Settings, source: Path, *, force: bool = False, show_progress: bool = True) -> BackupReport:
    """Put a backup back into this var/; refuses a target in use, and a non-empty one without `force`."""
    db = sqlite_path(settings)
    if not source.exists():
        raise BackupError(f"备份不存在：{source}")
    if is_running(settings):
        raise BackupError(f"{settings.var_dir} 正在被运行中的平台使用：请先停止它再恢复")
    if db.exists() and not force:
        raise BackupError(f"目标数据库已存在：{db}（确认覆盖请加 --force）")
    with tempfile.TemporaryDirectory(prefix=".shenguan-restore-") as work:
        root = _unpacked(source, Path(work))
        if not (root / MANIFEST_NAME).exists() or not (root / DATABASE_NAME).exists():
            raise BackupError(f"{source} 不是 shenguan 备份（缺少 {MANIFEST_NAME} 或 {DATABASE_NAME}）")
        db.parent.mkdir(parents=True, exist_ok=True)
        for stale in _database_files(db):
            stale.unlink(missing_ok=True)
        pages = copy_database(root / DATABASE_NAME, db)
        files = [p for p in (root / FILES_DIR).rglob("*") if p.is_file()] if (root / FILES_DIR).exists() else []
        for path in tqdm(files, unit="个", desc="文件", disable=not show_progress):
            target = settings.var_dir / path.relative_to(root / FILES_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return BackupReport(db, pages, len(files))
