"""The fan-out baseline: a raw `websockets` server that sends one frame to every connected client.

Clients connect to any path; a client on /control sends a text frame, and the server sends that
same frame to every other client at once (websockets.broadcast) and answers "sent". GET /healthz
answers 200, so that the bench can wait for the server as it waits for `shenguan serve`.

    python -m bench.baseline_broadcast --port 8002
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

clients: set[ServerConnection] = set()


def health(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return connection.respond(HTTPStatus.OK, "ok\n")
    return None


async def handler(connection: ServerConnection) -> None:
    if connection.request is not None and connection.request.path == "/control":
        async for frame in connection:
            broadcast(clients, frame)
            await connection.send("sent")
        return
    clients.add(connection)
    try:
        await connection.wait_closed()
    finally:
        clients.discard(connection)


async def main_async(port: int) -> None:
    # The same subprotocol as the GraphQL server, so that the very same clients can connect.
    def select(connection: ServerConnection, protocols: Sequence[Subprotocol]) -> Subprotocol | None:
        wanted = Subprotocol("graphql-transport-ws")
        return wanted if wanted in protocols else None

    # No permessage-deflate: the fastest raw broadcast of frames this small sends them as they are.
    # No permessage-deflate: the fastest raw broadcast of frames this small sends them as they are.
    async with serve(
        handler,
        "127.0.0.1",
        port,
        process_request=health,
        select_subprotocol=select,
        max_size=2**20,
        backlog=4096,
        compression=None,
    ):
        await asyncio.get_running_loop().create_future()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:  # the event loop `shenguan serve` runs on (uvicorn picks uvloop when it is installed)
        import uvloop

        uvloop.run(main_async(args.port))
    except ImportError:
        asyncio.run(main_async(args.port))


if __name__ == "__main__":
    main()
