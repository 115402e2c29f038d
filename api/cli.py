"""The `shenguan` command: serve, worker, migrate, seed-demo, create-admin, import-decisions, run,
prune-events, backup and restore."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from api.logs import configure_logging
from models.settings import Settings, SettingsError, load_settings

log = logging.getLogger("shenguan")


def _run(coro: Awaitable[int]) -> int:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _with_db(settings: Settings, work: Callable[[], Awaitable[int]], *, check: bool = True) -> int:
    from models.db import DatabaseNotMigrated, close_database, open_database

    try:
        await open_database(settings.database_url, check_migrated=check)
    except DatabaseNotMigrated as error:
        print(error, file=sys.stderr)
        return 2
    try:
        return await work()
    finally:
        await close_database()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from models.db import close_database, migrate_database

    async def go() -> int:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        await migrate_database(settings.database_url)
        await close_database()
        print("数据库迁移完成")
        return 0

    return _run(go())


def admin_password(settings: Settings) -> tuple[str, bool]:
    """SHENGUAN_ADMIN_PASSWORD, else one generated once and kept under var/ (True when new)."""
    given = os.environ.get("SHENGUAN_ADMIN_PASSWORD")
    if given:
        return given, False
    path = settings.var_dir / "admin-password.txt"
    if path.exists():
        return path.read_text().strip(), False
    password = "Sg-" + secrets.token_urlsafe(12) + "9a"
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password, True


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> int:
    from models.demo import ensure_admin

    password, new = admin_password(settings)

    async def go() -> int:
        created = await ensure_admin(args.username, password)
        print(f"管理员 {args.username} {'已创建' if created else '已存在'}")
        if created and new:
            print(f"初始密码（仅显示一次，另存于 {settings.var_dir / 'admin-password.txt'}）：{password}")
        return 0

    return _run(_with_db(settings, go))


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from models.demo import seed_demo

    async def go() -> int:
        result = await seed_demo()
        print(result.summary())
        return 0

    return _run(_with_db(settings, go))


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from models.offline_import import import_file

    async def go() -> int:
        report = await import_file(Path(args.file), username=args.as_user, progress=not args.quiet)
        print(report.summary())
        if report.imported:
            await _publish_now(settings)
        return 0 if not report.errors else 1

    return _run(_with_db(settings, go))


async def _publish_now(settings: Settings) -> None:
    """Publish what a command committed now rather than at the next sweep (the sweep remains)."""
    from datetime import datetime

    from models.calendar import SHANGHAI
    from workers.dispatch import flush_outbox
    from workers.redis import arq_pool, redis_client

    redis = redis_client(settings)
    arq = None
    try:
        arq = await asyncio.wait_for(arq_pool(settings), timeout=5)
        published = await flush_outbox(redis, arq, datetime.now(SHANGHAI))
        print(f"已发布 {published} 条推送事件并安排认领期限提醒")
    except Exception as error:  # Redis down: the worker's sweep publishes them later
        print(f"推送事件暂未发布（{error!r}），将由工作进程的定时清扫发布", file=sys.stderr)
    finally:
        if arq is not None:
            await arq.aclose()
        await redis.aclose()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    async def ready() -> int:
        from models.data_keys import unknown_key_ids

        unknown = await unknown_key_ids()
        if unknown:
            print(
                f"数据密钥与数据库不符：没有密钥 {', '.join(sorted(unknown))}（检查 SHENGUAN_DATA_KEY）",
                file=sys.stderr,
            )
            return 2
        return 0

    if _run(_with_db(settings, ready)) != 0:  # refuse an unmigrated database with one clear line
        return 2
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=None,  # uvicorn's records go through our masked handler (api/logs.py)
        access_log=False,  # api/metrics.py writes one line per request, with its request id
        ws="websockets-sansio",
        timeout_graceful_shutdown=10,
        # Frames are a few hundred bytes: permessage-deflate saves nothing, keeps a zlib state per
        # socket (half an idle subscription's memory) and compresses every frame once per subscriber.
        ws_per_message_deflate=False,
        ws_max_size=settings.limits.max_body_bytes,  # a larger WebSocket message closes the socket (1009)
    )
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from workers.settings import build_worker

    worker = build_worker(settings)
    worker.run()
    return 0


def cmd_prune_events(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import datetime

    from tqdm import tqdm

    from models.calendar import SHANGHAI
    from models.retention import prune_events

    days = args.days or settings.event_retention_days

    async def go() -> int:
        with tqdm(unit="个事件", desc="清理", disable=args.quiet) as bar:
            report = await prune_events(datetime.now(SHANGHAI), days, progress=bar.update)
        print(report.summary())
        return 0

    return _run(_with_db(settings, go))


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from api.backup import BackupError, backup

    try:
        print(backup(settings, Path(args.destination), show_progress=not args.quiet).summary())
    except BackupError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from api.backup import BackupError, restore

    try:
        report = restore(settings, Path(args.source), force=args.force, show_progress=not args.quiet)
    except BackupError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"已恢复到 {report.destination}；如代码较新，请运行 `shenguan migrate`")
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """The embedded default: migrate, demo data, embedded Redis, one API and one worker process."""
    from workers.redis import EmbeddedRedis

    if cmd_migrate(settings, args) != 0:
        return 1
    embedded = EmbeddedRedis(settings.var_dir) if settings.is_embedded_redis else None
    if embedded:
        embedded.start()
        _run(_ready(embedded))
    children: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGTERM, _raise_interrupt)  # a plain `kill` cleans up like Ctrl-C
    try:
        cmd_seed_demo(settings, args)
        password, _ = admin_password(settings)
        cmd_create_admin(settings, argparse.Namespace(username="admin"))
        exe = [sys.executable, "-m", "api.cli"]
        children.append(subprocess.Popen([*exe, "worker"]))
        children.append(subprocess.Popen([*exe, "serve"]))
        _banner(settings, password)
        return _wait(children)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if embedded:
            embedded.stop()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def _ready(embedded: object) -> int:
    await embedded.wait_ready()  # type: ignore[attr-defined]
    return 0


def _wait(children: list[subprocess.Popen[bytes]]) -> int:
    try:
        while all(c.poll() is None for c in children):
            try:
                children[0].wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
    except KeyboardInterrupt:
        print("\n正在停止……")
        return 0
    failed = [c for c in children if c.poll() not in (None, 0)]
    return 1 if failed else 0


def _banner(settings: Settings, password: str) -> None:
    from models.demo import DEMO_PASSWORD, demo_logins

    url = f"http://{settings.host}:{settings.port}"
    print(f"\n审管互动平台已启动：{url}/graphql （浏览器打开即为 GraphiQL）")
    print(f"  管理员：admin / {password}")
    for username, what in demo_logins():
        print(f"  {what}：{username} / {DEMO_PASSWORD}")
    print("按 Ctrl-C 停止。\n")


def cmd_rotate_data_key(settings: Settings, args: argparse.Namespace) -> int:
    """PIPL: re-seal every row's personal data under a new key; old keys open rows until it finishes.

    With the keyring file under var/ a new key is made first (unless --resume); with
    SHENGUAN_DATA_KEY the operator has set the new key there and the old ones in SHENGUAN_DATA_KEYS_OLD.
    """
    from models import crypto
    from models.audit import record_audit
    from models.data_keys import reseal_all, rows_not_under_current_key
    from models.settings import add_data_key, load_settings, uses_keyring_file

    if uses_keyring_file() and not args.resume:
        add_data_key(settings.var_dir)
        settings = load_settings()
    crypto.configure(settings.data_keys)

    async def go() -> int:
        report = await reseal_all(batch_size=args.batch_size, progress=not args.quiet)
        detail = {"keyId": report.key_id, "rows": report.rows}
        await record_audit("rotateDataKey", actor_id=None, department_id=None, address="cli", detail=detail)
        print(report.summary() if report.key_id else "没有需要加密的个人信息")
        stale = await rows_not_under_current_key()
        if stale:
            print(f"仍有 {stale} 行使用旧密钥（运行中的进程尚未重启？）：重启后请再运行一次", file=sys.stderr)
            return 1
        print(f"全部个人信息已使用当前密钥 {crypto.keyring().current.kid}；旧密钥可在所有进程重启后移除")
        return 0

    return _run(_with_db(settings, go))


def cmd_verify_audit(settings: Settings, args: argparse.Namespace) -> int:
    """Art. 9: walk the audit chain; exit 1 naming the first record that was edited, deleted or inserted."""
    from tqdm import tqdm

    from models.audit import AuditRecord, verify_chain

    async def go() -> int:
        total = await AuditRecord.all().count()
        with tqdm(total=total, desc="校验", unit="条", file=sys.stderr, disable=args.quiet, leave=False) as bar:
            report = await verify_chain(batch_size=args.batch_size, on_batch=bar.update)
        if report.broken is not None:
            print(f"审计链在记录 {report.broken.record_id} 处断开：{report.broken.reason}", file=sys.stderr)
            return 1
        print(f"审计链完整：共 {report.checked} 条记录，最新记录哈希 {report.last_hash or '（无）'}")
        return 0

    return _run(_with_db(settings, go))


COMMANDS: dict[str, tuple[Callable[[Settings, argparse.Namespace], int], str]] = {
    "serve": (cmd_serve, "start the API (HOST, PORT)"),
    "worker": (cmd_worker, "start an arq worker (deadlines, reminders, sweeps)"),
    "migrate": (cmd_migrate, "apply database migrations"),
    "seed-demo": (cmd_seed_demo, "load the Jining demo data into an empty database"),
    "create-admin": (cmd_create_admin, "create the admin account (SHENGUAN_ADMIN_PASSWORD or generated)"),
    "import-decisions": (cmd_import, "import offline decisions from a CSV or XLSX file"),
    "rotate-data-key": (cmd_rotate_data_key, "re-encrypt personal data under a new data key"),
    "verify-audit": (cmd_verify_audit, "check the audit trail's hash chain; exit 1 at the first broken record"),
    "run": (cmd_run, "embedded default: migrate, demo data, embedded Redis, API and worker"),
    "prune-events": (cmd_prune_events, "delete events older than SHENGUAN_EVENT_RETENTION_DAYS, in small batches"),
    "backup": (cmd_backup, "online copy of the SQLite database and var/ into a directory or .tar.gz"),
    "restore": (cmd_restore, "restore a backup into var/ (stopped platform; --force to overwrite)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shenguan", description="审管互动平台")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == "create-admin":
            p.add_argument("--username", default="admin")
        if name == "import-decisions":
            p.add_argument("file")
            p.add_argument("--as-user", required=True, help="username of the approval-side account importing")
            p.add_argument("--quiet", action="store_true")
        if name == "prune-events":
            p.add_argument("--days", type=int, default=None, help="override SHENGUAN_EVENT_RETENTION_DAYS")
            p.add_argument("--quiet", action="store_true")
        if name == "backup":
            p.add_argument("destination", help="an empty or new directory, or a path ending in .tar.gz")
            p.add_argument("--quiet", action="store_true")
        if name == "restore":
            p.add_argument("source", help="a backup directory or .tar.gz")
            p.add_argument("--force", action="store_true", help="overwrite an existing database")
            p.add_argument("--quiet", action="store_true")
        if name in ("rotate-data-key", "verify-audit"):
            p.add_argument("--batch-size", type=int, default=500)
            p.add_argument("--quiet", action="store_true", help="no progress bar")
        if name == "rotate-data-key":
            p.add_argument("--resume", action="store_true", help="finish an interrupted rotation without a new key")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"配置错误：{error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    from models.crypto import configure_from_settings

    configure_from_settings(settings.data_keys)
    return COMMANDS[args.command][0](settings, args)


if __name__ == "__main__":
    sys.exit(main())
