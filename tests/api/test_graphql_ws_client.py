"""The protocol as SPAs speak it: the `graphql-ws` npm library (under Apollo Client and urql).

tests/node/client.mjs connects with graphql-ws, authenticates through `connectionParams`,
subscribes to decisionPushed and prints each event as a JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.event import last_sequence
from tests.api.test_subscriptions import WAIT, issue, token_for, world
from tests.conftest import ROOT

NODE_DIR = ROOT / "tests" / "node"
pytestmark = [pytest.mark.node, pytest.mark.slow]


@pytest.fixture(scope="session")
def node_client() -> Path:
    """node_modules installed once (npm ci from the lock file); skipped, with the reason, without node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed to run the graphql-ws client")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < 20:
        pytest.skip(f"graphql-ws 6 needs node >= 20, found {version}")
    if not (NODE_DIR / "node_modules" / "graphql-ws" / "package.json").exists():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:  # CI has node and npm: there a failed install fails, it does not skip
            (pytest.fail if os.environ.get("CI") else pytest.skip)(
                f"npm ci in tests/node failed: {done.stderr.strip()[-300:]}"
            )
    return NODE_DIR / "client.mjs"


async def start_client(script: Path, url: str, token: str, after: str) -> asyncio.subprocess.Process:
    node = shutil.which("node")
    assert node is not None
    return await asyncio.create_subprocess_exec(
        node,
        str(script),
        url.replace("http", "ws", 1) + "/graphql",
        token,
        after,
        "1",
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    raw = await asyncio.wait_for(process.stdout.readline(), WAIT)
    if not raw:
        assert process.stderr is not None
        raise AssertionError("client ended: " + (await process.stderr.read()).decode())
    return dict(json.loads(raw))


async def test_a_graphql_ws_client_authenticates_by_connection_params_and_receives_a_push(
    db: str, redis: Any, server_factory: Any, node_client: Path
) -> None:
    w = await world()
    server = server_factory()
    client = await start_client(node_client, server.url, token_for(w.supervisor_a), str(await last_sequence()))
    try:
        assert await line(client) == {"connected": True}  # connection_ack: the token was accepted
        async with httpx.AsyncClient() as http:
            number = await issue(http, server.url, token_for(w.issuer), w.item_a)
        event = await line(client)
        assert event["documentNumber"] == number
        assert int(event["cursor"]) == await last_sequence()
        assert await asyncio.wait_for(client.wait(), WAIT) == 0
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()


async def test_a_graphql_ws_client_with_a_bad_token_is_refused_with_4403(
    db: str, redis: Any, server_factory: Any, node_client: Path
) -> None:
    server = server_factory()
    client = await start_client(node_client, server.url, "not-a-token", "")
    assert await asyncio.wait_for(client.wait(), WAIT) == 2
    assert client.stdout is not None and client.stderr is not None
    assert await client.stdout.read() == b""  # never connected, never received anything
    assert json.loads(await client.stderr.read()) == {"error": "Forbidden", "code": 4403}
