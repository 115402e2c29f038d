"""/readyz says what is wrong: here, no worker has reported a heartbeat until one starts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import httpx

from tests.conftest import ROOT


async def test_readyz_waits_for_a_worker_heartbeat(db: str, redis: Any, server_factory: Any) -> None:
    server = server_factory()
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {
            "status": "not ready",
            "checks": {"database": "ok", "events": "ok", "redis": "ok", "worker": "没有存活的工作进程心跳"},
        }
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "api.cli",
            "worker",
            cwd=ROOT,
            env={**os.environ, **server.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):  # the worker records its heartbeat as it starts: poll /readyz for it
                if (response := await http.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert response.json() == {
                "status": "ready",
                "checks": {"database": "ok", "events": "ok", "redis": "ok", "worker": "ok"},
            }
        finally:
            worker.terminate()
            await asyncio.wait_for(worker.wait(), 20)
