"""Profile one scenario's hot path with pyinstrument (install it into the venv for the session).

    .venv/bin/pip install pyinstrument
    .venv/bin/python -m bench run --quick --only issuance --keep-db     # leaves a data set behind
    .venv/bin/python -m bench.profile issuance                          # or: inbox
    .venv/bin/python -m bench.profile inbox --html /tmp/inbox.html
    .venv/bin/python -m bench.profile issuance --cpu                    # cProfile: CPU per function

issuance: 200 decisions through issue_decision + audit + flush_outbox, in process.
inbox:    200 inbox requests through the Starlette app over httpx.ASGITransport, in process.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import env
from bench.context import Context
from bench.generate import remembered

RUNS = 200


async def _issuance(ctx: Context) -> tuple[Callable[[int], Awaitable[None]], Callable[[], Awaitable[None]]]:
    from tortoise.transactions import in_transaction

    from bench.scenarios.issuance import _inputs, _three_supervisor_item
    from models.account import Department, User
    from models.audit import record_audit
    from models.calendar import SHANGHAI, local_date
    from models.issuance import issue_decision
    from models.settings import Settings
    from workers.dispatch import flush_outbox
    from workers.redis import arq_pool, redis_client

    assert ctx.db_url is not None and ctx.data is not None
    actor = await User.get(id=ctx.data.quiet_issuer_id)
    issuer = await Department.get(id=actor.department_id)
    item_id = await _three_supervisor_item(ctx.db_url, issuer.region_code)
    today = local_date(datetime.now(SHANGHAI))
    inputs = _inputs(f"PROF{time.time():.0f}", RUNS + 20, item_id, today, issuer.region_code)
    settings = Settings(
        var_dir=ctx.work_dir,
        database_url=ctx.db_url,
        redis_url=ctx.redis_url,
        host="127.0.0.1",
        port=0,
        token_ttl_minutes=60,
        secret_key=env.SECRET,
    )
    redis = redis_client(settings)
    arq = await arq_pool(settings)

    async def one(n: int) -> None:
        now = datetime.now(SHANGHAI)
        async with in_transaction():
            await issue_decision(actor, inputs[n], now=now)
            await record_audit(
                "issueDecision", actor_id=actor.id, department_id=actor.department_id, address="127.0.0.1", detail={}
            )
        await flush_outbox(redis, arq, now)

    async def close() -> None:
        await arq.aclose()
        await redis.aclose()

    return one, close


async def main_async(args: argparse.Namespace) -> None:
    from models.db import close_database, open_database

    redis = env.Redis()
    url = await redis.start()
    db_url = env.database_url()
    data = await remembered(db_url)
    if data is None:
        raise SystemExit("no data set: run `python -m bench run --quick --only issuance --keep-db` first")
    await open_database(db_url)
    ctx = Context(quick=True, work_dir=Path("/tmp"), redis_url=url, db_url=db_url, data=data)
    try:
        if args.scenario == "issuance":
            one, close = await _issuance(ctx)
        else:
            one, close = await _inbox(ctx)
        for n in range(20):
            await one(n)
        profiler = _profiler(args.cpu)
        profiler.enable()
        t0 = time.perf_counter()
        for n in range(20, 20 + RUNS):
            await one(n)
        elapsed = time.perf_counter() - t0
        profiler.disable()
        await close()
    finally:
        await close_database()
        redis.stop()
    print(f"{args.scenario}: {elapsed / RUNS * 1000:.2f} ms per call under the profiler")
    print(profiler.report(args.html))


class _CPUProfile:
    """cProfile: where the CPU goes, by function's own time (awaits on the network are not counted)."""

    def __init__(self) -> None:
        self.profile = cProfile.Profile()
        self.enable, self.disable = self.profile.enable, self.profile.disable

    def report(self, html: str | None) -> str:
        out = io.StringIO()
        stats = pstats.Stats(self.profile, stream=out)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
        return out.getvalue()


class _WallProfile:
    """pyinstrument: where the wall-clock time goes, awaits included (install it into the venv)."""

    def __init__(self) -> None:
        from pyinstrument import Profiler  # type: ignore[import-not-found, unused-ignore]  # not a dependency

        self.profiler = Profiler(interval=0.0005, async_mode="enabled")
        self.enable, self.disable = self.profiler.start, self.profiler.stop

    def report(self, html: str | None) -> str:
        if html:
            Path(html).write_text(self.profiler.output_html())
            return f"written {html}"
        return str(self.profiler.output_text(unicode=True, color=False))


def _profiler(cpu: bool) -> _CPUProfile | _WallProfile:
    return _CPUProfile() if cpu else _WallProfile()


async def _inbox(ctx: Context) -> tuple[Callable[[int], Awaitable[None]], Callable[[], Awaitable[None]]]:
    from bench.scenarios.inbox import body, in_process_app, typical_department, viewer_token

    assert ctx.db_url is not None
    department_id, _ = await typical_department(ctx.db_url)
    token = await viewer_token(department_id)
    app = in_process_app(ctx)
    post: Any = await app.__aenter__()

    async def one(n: int) -> None:
        await post(token, body())

    async def close() -> None:
        await app.__aexit__(None, None, None)

    return one, close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["issuance", "inbox"])
    parser.add_argument("--html", help="write pyinstrument's HTML report here instead of text")
    parser.add_argument("--cpu", action="store_true", help="cProfile's CPU time per function instead of pyinstrument")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
