"""The inbox baseline: a hand-written Starlette endpoint, one hand-written SQL query, the same JSON.

It does the same work as the GraphQL `inbox` query the benchmark sends: checks the bearer token
(signature, expiry, and, in the same SQL statement, that the account is active and the token
version current), reads one keyset page of the viewer's department's pushes with decision, item,
issuing department and counterparty, and answers with the JSON the GraphQL server returns for
that query (same global ids, cursors and timestamps), so the two can be compared byte for byte.

    python -m bench.baseline_inbox --port 8001 --database-url postgres://… --secret …
"""

from __future__ import annotations

import argparse
import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_PAGE = 20
MAX_PAGE = 100

# The viewer check and the page in one statement. The page of pushes is cut (ORDER BY … LIMIT)
# before the joins, so that only its rows are joined; the keyset predicate is a row comparison so
# that an index on (department_id, claim_deadline, id) could serve any depth.
PAGE_SQL = """
SELECT p.id, p.status, p.claim_deadline, d.document_number, d.counterparty_name,
       i.name AS item_name, iss.name AS issuer_name
FROM (
    SELECT id, status, claim_deadline, decision_id FROM decision_push
    WHERE department_id = (
        SELECT department_id FROM user_account WHERE id = $1 AND is_active AND token_version = $2
    ) {keyset}
    ORDER BY claim_deadline, id
    LIMIT $3
) p
JOIN decision d ON d.id = p.decision_id
JOIN approval_item i ON i.id = d.item_id
JOIN department iss ON iss.id = d.issuer_id
ORDER BY p.claim_deadline, p.id
"""
FIRST_PAGE_SQL = PAGE_SQL.format(keyset="")
NEXT_PAGE_SQL = PAGE_SQL.format(keyset="AND (claim_deadline, id) > ($4::timestamptz, $5::bigint)")


def global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def cursor(deadline: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{deadline.isoformat()}|{pk}".encode()).decode().rstrip("=")


def parse_cursor(value: str) -> tuple[datetime, int]:
    raw = base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode()).decode()
    deadline, _, pk = raw.partition("|")
    return datetime.fromisoformat(deadline), int(pk)


def error(message: str, code: str) -> JSONResponse:
    return JSONResponse({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]})


def create_app(database_url: str, secret: str) -> Starlette:
    pool: asyncpg.Pool | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
        try:
            yield
        finally:
            await pool.close()

    async def inbox(request: Request) -> JSONResponse:
        _, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        except jwt.PyJWTError:
            return error("请先登录", "UNAUTHENTICATED")
        variables: dict[str, Any] = (await request.json()).get("variables") or {}
        size = variables.get("first") or DEFAULT_PAGE
        if not 0 <= size <= MAX_PAGE:
            return error(f"first 必须在 0 到 {MAX_PAGE} 之间", "BAD_USER_INPUT")
        assert pool is not None
        if variables.get("after"):
            deadline, pk = parse_cursor(variables["after"])
            rows = await pool.fetch(NEXT_PAGE_SQL, int(claims["sub"]), claims.get("tv"), size + 1, deadline, pk)
        else:
            rows = await pool.fetch(FIRST_PAGE_SQL, int(claims["sub"]), claims.get("tv"), size + 1)
        more = len(rows) > size
        edges = []
        for row in rows[:size]:
            deadline = row["claim_deadline"].astimezone(SHANGHAI)
            edges.append(
                {
                    "cursor": cursor(deadline, row["id"]),
                    "node": {
                        "id": global_id("DecisionPush", row["id"]),
                        "status": row["status"],
                        "claimDeadline": deadline.isoformat(),
                        "decision": {
                            "documentNumber": row["document_number"],
                            "item": {"name": row["item_name"]},
                            "issuer": {"name": row["issuer_name"]},
                            "counterparty": {"name": row["counterparty_name"]},
                        },
                    },
                }
            )
        page_info = {"hasNextPage": more, "endCursor": edges[-1]["cursor"] if edges else None}
        return JSONResponse({"data": {"inbox": {"edges": edges, "pageInfo": page_info}}})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/graphql", inbox, methods=["POST"]), Route("/healthz", healthz)], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    # The same server settings as `shenguan serve` (uvicorn defaults, info log with access lines).
    uvicorn.run(create_app(args.database_url, args.secret), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
