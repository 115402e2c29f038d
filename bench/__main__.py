"""`python -m bench run [--quick] [--only NAME[,NAME…]]`: run the scenarios, write bench/results/.

Scenarios, in order: workdays, issuance, inbox, depth, import, statistics, fanout. Every one except workdays
needs PostgreSQL (skipped with a note when it is unreachable) and the generated data set, which is
built once per run in a fresh `shenguan_bench` database (dropped at the end unless --keep-db).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path

from bench import env, report
from bench.context import Context
from bench.generate import Generated, generate, remembered
from bench.stats import Result, skipped

SCENARIOS = ["workdays", "issuance", "inbox", "depth", "import", "statistics", "fanout"]
NEEDS_POSTGRES = {"issuance", "inbox", "depth", "import", "statistics", "fanout"}
MODULES = {"import": "bulk_import"}
DECISIONS = {"quick": 20_000, "full": 1_000_000}


async def _data(ctx: Context, mode: str, results: list[Result], *, reuse: bool) -> None:
    """A fresh database with the province data set; the generator's own figures are a result row."""
    assert ctx.db_url is not None
    if reuse:
        known = await remembered(ctx.db_url)
        if known is not None and known.decisions == DECISIONS[mode]:
            ctx.data = known
            print(f"reusing the data set in {env.BENCH_DB} ({known.decisions:,} decisions)", flush=True)
            return
    t0 = time.perf_counter()
    await env.recreate_database()
    migrate_s = time.perf_counter() - t0
    data: Generated = await generate(ctx.db_url, DECISIONS[mode], seed=6, progress=not ctx.quick)
    ctx.data = data
    rows = data.decisions + 3 * data.pushes
    results.append(
        Result(
            name="generate",
            title=f"province data set: {data.departments:,} departments, {data.decisions:,} decisions, "
            f"{data.pushes:,} pushes, {data.events:,} events (seed {data.seed})",
            unit="rows/s",
            platform={
                "headline": f"{data.seconds} s, {data.rows_per_second:,} rows/s",
                "seconds": data.seconds,
                "rows": rows,
                "rows_per_second": data.rows_per_second,
                "phases": data.phases,
                "migrate_seconds": round(migrate_s, 2),
            },
            target="fast (COPY), reproducible from the seed",
            note=f"COPY via asyncpg; migrations took {migrate_s:.1f} s before it; phases (s): {data.phases}",
            extra={"hot_department_id": data.hot_department_id, "quiet_issuer_id": data.quiet_issuer_id},
        )
    )


async def _run_one(name: str, ctx: Context) -> list[Result]:
    module = importlib.import_module(f"bench.scenarios.{MODULES.get(name, name)}")
    try:
        return list(await module.run(ctx))
    except Exception as error:  # one broken scenario must not hide the others' figures
        traceback.print_exc()
        return [Result(name=name, title=name, unit="", status="error", note=f"{type(error).__name__}: {error}")]


async def main_async(args: argparse.Namespace) -> int:
    env.raise_fd_limit()
    mode = "quick" if args.quick else "full"
    selected = SCENARIOS if not args.only else [s.strip() for s in args.only.split(",")]
    unknown = [s for s in selected if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; choose from {SCENARIOS}", file=sys.stderr)
        return 2
    started_at = datetime.now().astimezone()
    started = time.perf_counter()
    work_dir = Path(tempfile.mkdtemp(prefix="shenguan-bench-"))
    redis = env.Redis()
    results: list[Result] = []
    machine_extra: dict[str, str] = {}
    ctx = Context(quick=args.quick, work_dir=work_dir, redis_url="", subscriptions=args.subscriptions)
    try:
        ctx.redis_url = await redis.start()
        machine_extra["redis"] = await _redis_version(ctx.redis_url)
        if NEEDS_POSTGRES & set(selected):
            ctx.pg_problem = await env.postgres_problem()
            if ctx.pg_problem is None:
                ctx.db_url = env.database_url()
                machine_extra["postgres"] = await env.postgres_version()
        for name in SCENARIOS:
            if name not in selected:
                continue
            if name in NEEDS_POSTGRES and ctx.pg_problem is not None:
                results.append(skipped(name, name, ctx.pg_problem))
                continue
            if name in NEEDS_POSTGRES and ctx.data is None:
                print("generating the data set…", flush=True)
                await _data(ctx, mode, results, reuse=args.reuse_db)
                await _open_orm(ctx)
            print(f"running {name}…", flush=True)
            t0 = time.perf_counter()
            load_before = os.getloadavg()[0]
            rows = await _run_one(name, ctx)
            # Other work on the machine skews every figure: keep the load average beside them.
            for row in rows:
                row.extra["load_average_1m"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
            results += rows
            print(f"  {name}: {time.perf_counter() - t0:.1f} s (load average {load_before:.2f})", flush=True)
    finally:
        await _close_orm()
        redis.stop()
        if ctx.db_url and not (args.keep_db or args.reuse_db):
            await env.drop_database()
        if args.keep_logs:
            print(f"server logs kept in {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    seconds = time.perf_counter() - started
    path = report.write(results, mode=mode, started=started_at, seconds=seconds, extra=machine_extra)
    print((report.RESULTS / "latest.md").read_text())
    print(f"results: {path} ({seconds:.0f} s)")
    return 0


async def _redis_version(url: str) -> str:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        info = await client.info("server")
        return str(info.get("redis_version", "?"))
    finally:
        await client.aclose()


async def _open_orm(ctx: Context) -> None:
    from models.db import open_database

    assert ctx.db_url is not None
    await open_database(ctx.db_url)


async def _close_orm() -> None:
    from tortoise import Tortoise

    if Tortoise._inited:  # no public "is initialised" flag in tortoise 1.1
        from models.db import close_database

        await close_database()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the scenarios and write bench/results/")
    run.add_argument("--quick", action="store_true", help="small sizes; the whole suite in under two minutes")
    run.add_argument("--only", help=f"comma-separated scenarios out of {', '.join(SCENARIOS)}")
    run.add_argument("--keep-db", action="store_true", help="leave the shenguan_bench database behind")
    run.add_argument(
        "--reuse-db",
        action="store_true",
        help="reuse a data set of the same size left by --keep-db (and keep the database)",
    )
    run.add_argument(
        "--subscriptions",
        type=int,
        metavar="N",
        help="fan-out at N subscriptions whatever the data set: --quick --subscriptions 10000 runs the "
        "full-size fan-out on the quick data set, in minutes",
    )
    run.add_argument("--keep-logs", action="store_true", help="leave the server logs in the temporary directory")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
