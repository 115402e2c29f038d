"""Abuse limits: body size, query cost, rate, introspection and suggestions, origins, socket counts, CORS.

The HTTP and WebSocket limits run through real `shenguan serve` processes configured by their
environment; the per-operation ones also through the schema with the real services.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from graphql import parse
from websockets.exceptions import InvalidStatus

from api.graphql.schema import schema
from api.limits import query_cost
from api.services import Services
from models.account import User
from models.enums import Role
from models.settings import Limits, Settings, SettingsError, load_settings
from tests import factories as f
from tests.api.conftest import Gql, make_context
from tests.api.test_subscriptions import PROTOCOL, PUSHED, WAIT, LiveSocket, token_for

ME = "{ me { username } }"
DEEP = """query($n: Int) { decisions(first: $n) { edges { node {
  pushes { decision { pushes { decision { pushes { id } } } } } } } } }"""


async def officer() -> User:
    return await f.user(await f.department(), Role.OFFICER)


def cost_of(query: str, variables: dict[str, Any] | None = None) -> int:
    return query_cost(schema._schema, parse(query), None, variables)


# --- query cost ---------------------------------------------------------------------------


def test_cost_counts_fields_and_multiplies_a_connection_by_its_page_size() -> None:
    # decisions 1 + 10 * (edges 1 + node (1 + id 1)); edges are the page itself, not a second list
    assert cost_of("{ decisions(first: 10) { edges { node { id } } } }") == 31
    assert cost_of("{ decisions { edges { node { id } } } }") == 1 + 20 * 3  # default page 20
    assert cost_of("query($n: Int) { decisions(first: $n) { edges { node { id } } } }", {"n": 5}) == 16
    # a plain list of objects counts as a default page; a list of scalars is a leaf
    assert cost_of("{ me { roles } }") == 2
    assert cost_of("{ decisions(first: 1) { edges { node { pushes { id } } } } }") == 1 + 1 * (1 + 1 + 1 + 20 * 1)


def test_cost_counts_aliases_and_fragments_each_time_they_are_used() -> None:
    one = cost_of("{ me { username } }")
    assert cost_of("{ a: me { username } b: me { username } }") == 2 * one
    assert cost_of("{ me { ...F } } fragment F on User { username }") == one
    assert cost_of("{ me { ... on User { username } } }") == one


async def test_a_query_over_the_cost_limit_is_refused_with_its_cost_and_the_limit(gql: Gql) -> None:
    viewer = await officer()
    result = await gql(DEEP, {"n": 100}, user=viewer)
    assert result["data"] is None
    [error] = result["errors"]
    assert error["code"] == "QUERY_TOO_COSTLY"
    expected = cost_of(DEEP, {"n": 100})
    assert expected > Limits().max_query_cost
    assert str(expected) in error["message"] and str(Limits().max_query_cost) in error["message"]
    # the same shape with a small page is within the limit
    assert (await gql(DEEP, {"n": 1}, user=viewer))["errors"] == []


async def test_the_cost_error_carries_cost_and_limit_as_extensions(services: Services) -> None:
    viewer = await officer()
    result = await schema.execute(DEEP, variable_values={"n": 100}, context_value=make_context(services, viewer))
    [error] = result.errors or []
    assert error.extensions == {"code": "QUERY_TOO_COSTLY", "cost": cost_of(DEEP, {"n": 100}), "limit": 50_000}


# --- rate limit ---------------------------------------------------------------------------


@pytest.fixture
async def limited(db: str, redis: Any, settings: Settings) -> AsyncIterator[Services]:
    """Services allowing three operations a minute per caller."""
    tight = dataclasses.replace(settings, limits=Limits(rate_limit_per_minute=3))
    started = await Services.start(tight, poll_interval=0.2)
    yield started
    await started.stop()


async def run(services: Services, query: str, user: User | None) -> Any:
    return await schema.execute(query, context_value=make_context(services, user))


async def test_the_fourth_operation_in_a_minute_is_rate_limited_with_a_retry_after(limited: Services) -> None:
    viewer, other = await officer(), await officer()
    for _ in range(3):
        assert (await run(limited, ME, viewer)).errors is None
    refused = await run(limited, ME, viewer)
    assert refused.data is None
    [error] = refused.errors or []
    assert error.extensions is not None and error.extensions["code"] == "RATE_LIMITED"
    assert 1 <= error.extensions["retryAfter"] <= 20  # a token comes back every 20 s at 3 a minute
    assert "秒后再试" in error.message
    # another account has its own bucket; anonymous callers share one per address
    assert (await run(limited, ME, other)).errors is None
    for _ in range(3):
        assert (await run(limited, ME, None)).errors is None
    assert (await run(limited, ME, None)).errors[0].extensions["code"] == "RATE_LIMITED"  # type: ignore[index]


async def test_with_redis_away_the_rate_limit_fails_open_and_says_so(
    db: str, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    away = dataclasses.replace(
        settings,
        redis_url=f"unix://{tmp_path / 'nobody-listens.sock'}",
        limits=Limits(rate_limit_per_minute=1),
    )
    import api.limits

    api.limits._last_warning[0] = api.limits._skip_until[0] = 0.0
    services = await Services.start(away, poll_interval=3600)
    try:
        viewer = await officer()
        with caplog.at_level(logging.WARNING, logger="api.limits"):
            for _ in range(3):
                result = await run(services, ME, viewer)
                assert result.errors is None
                assert result.data == {"me": {"username": viewer.username}}
        assert any("限流暂不可用" in r.getMessage() for r in caplog.records)
    finally:
        await services.stop()


@pytest.mark.slow
async def test_the_rate_limit_is_shared_by_every_api_process(db: str, redis: Any, server_factory: Any) -> None:
    viewer = await officer()
    token = token_for(viewer)
    first, second = server_factory(SHENGUAN_RATE_LIMIT="4"), server_factory(SHENGUAN_RATE_LIMIT="4")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10) as client:
        answers = []
        for server in (first, second, first, second, first):
            answers.append(await client.post(server.url + "/graphql", json={"query": ME}, headers=headers))
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert answers[3].json() == {"data": {"me": {"username": viewer.username}}}
    refused = answers[4]
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) == refused.json()["errors"][0]["extensions"]["retryAfter"] >= 1


# --- introspection and suggestions ---------------------------------------------------------


async def test_introspection_is_for_signed_in_users_only(gql: Gql) -> None:
    query = "{ __schema { queryType { name } } }"
    anonymous = await gql(query)
    assert anonymous["data"] is None
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    hidden = await gql('{ ...F } fragment F on Query { t: __type(name: "Query") { name } }')
    assert [e["code"] for e in hidden["errors"]] == ["UNAUTHENTICATED"]
    assert (await gql("{ __typename }")) == {"data": {"__typename": "Query"}, "errors": []}
    signed_in = await gql(query, user=await officer())
    assert signed_in == {"data": {"__schema": {"queryType": {"name": "Query"}}}, "errors": []}


async def test_field_suggestions_are_only_for_signed_in_users(gql: Gql) -> None:
    anonymous = await gql("{ mee { username } }")
    [error] = anonymous["errors"]
    assert error["message"] == "Cannot query field 'mee' on type 'Query'."
    signed_in = await gql("{ mee { username } }", user=await officer())
    assert "Did you mean 'me'?" in signed_in["errors"][0]["message"]
    # the validation cache is shared: the anonymous answer did not strip the signed-in one, nor back
    again = await gql("{ mee { username } }")
    assert "Did you mean" not in again["errors"][0]["message"]


# --- request body size (a real server) --------------------------------------------------------


@pytest.mark.slow
def test_a_body_over_the_limit_is_a_413_with_a_readable_error(server_factory: Any) -> None:
    server = server_factory(SHENGUAN_MAX_BODY_BYTES="2048")
    padding = " " * 3000
    declared = httpx.post(server.url + "/graphql", json={"query": "{ __typename }" + padding}, timeout=10)
    assert declared.status_code == 413
    body = declared.json()
    assert body["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "limit": 2048}
    assert "请求体过大" in body["errors"][0]["message"]

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        yield b'{"query": "{ __typename }'
        for _ in range(10):
            yield b" " * 500
        yield b'"}'

    streamed = httpx.post(
        server.url + "/graphql", content=chunks(), headers={"content-type": "application/json"}, timeout=10
    )
    assert streamed.status_code == 413
    small = httpx.post(server.url + "/graphql", json={"query": "{ __typename }"}, timeout=10)
    assert small.json() == {"data": {"__typename": "Query"}}


# --- WebSockets: origins, subscriptions per connection, connections per user --------------------


async def connect(url: str, origin: str | None = None) -> Any:
    return await websockets.connect(
        url.replace("http", "ws", 1) + "/graphql",
        subprotocols=[PROTOCOL],
        origin=origin,  # type: ignore[arg-type]
    )


@pytest.mark.slow
async def test_a_socket_from_another_origin_is_refused(db: str, redis: Any, server_factory: Any) -> None:
    default = server_factory()
    with pytest.raises(InvalidStatus) as refused:
        await connect(default.url, origin="https://evil.example")
    assert refused.value.response.status_code == 403  # refused before the upgrade: no socket at all
    for origin in (None, default.url):  # a non-browser client, and the platform's own pages
        ws = await connect(default.url, origin=origin)
        await ws.close()

    configured = server_factory(SHENGUAN_ALLOWED_ORIGINS="https://app.example, https://other.example")
    ws = await connect(configured.url, origin="https://app.example")
    await ws.close()
    with pytest.raises(InvalidStatus):
        await connect(configured.url, origin="https://evil.example")


@pytest.mark.slow
async def test_subscriptions_per_connection_are_limited_with_a_clear_error(
    db: str, redis: Any, server_factory: Any
) -> None:
    server = server_factory(SHENGUAN_MAX_SUBSCRIPTIONS_PER_CONNECTION="2")
    live = await LiveSocket.open(server.url, token_for(await f.user(await f.department(), Role.LEADER)))
    await live.subscribe(PUSHED, {}, op="1")
    await live.subscribe(PUSHED, {}, op="2")
    await live.subscribe(PUSHED, {}, op="3")
    message = await live.message()
    assert message["type"] == "error" and message["id"] == "3"
    assert message["payload"][0]["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": 2}
    # ending one makes room again
    await live.ws.send(json.dumps({"id": "1", "type": "complete"}))
    await live.subscribe(PUSHED, {}, op="4")
    await live.ws.send(json.dumps({"id": "5", "type": "subscribe", "payload": {"query": PUSHED}}))
    message = await live.message()
    assert (message["type"], message["id"]) == ("error", "5")
    await live.close()


@pytest.mark.slow
async def test_connections_per_user_are_limited_and_a_closed_one_frees_its_place(
    db: str, redis: Any, server_factory: Any
) -> None:
    server = server_factory(SHENGUAN_MAX_CONNECTIONS_PER_USER="2")
    user = await f.user(await f.department(), Role.LEADER)
    token = token_for(user)
    first, second = await LiveSocket.open(server.url, token), await LiveSocket.open(server.url, token)
    third = await LiveSocket.open(server.url, token)  # acknowledged, then closed with the reason
    code, reason, frames = await third.closed_with()
    assert (code, frames) == (4029, [])
    assert "连接数已达上限（2）" in reason
    other_user = await LiveSocket.open(server.url, token_for(await f.user(await f.department(), Role.LEADER)))
    await first.close()

    async def admitted() -> LiveSocket:
        while True:  # the server notices the close a moment later
            candidate = await LiveSocket.open(server.url, token)
            try:
                await asyncio.wait_for(candidate.ws.recv(), 0.3)
            except TimeoutError:
                return candidate  # still open: admitted
            except websockets.ConnectionClosed:
                await asyncio.sleep(0.05)

    fourth = await asyncio.wait_for(admitted(), WAIT)
    for live in (second, fourth, other_user):
        await live.close()


# --- CORS -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cors_is_off_by_default_and_answers_only_configured_origins(server_factory: Any) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    off = server_factory()
    answer = httpx.options(off.url + "/graphql", headers=preflight, timeout=10)
    assert "access-control-allow-origin" not in answer.headers
    on = server_factory(SHENGUAN_CORS_ORIGINS="https://app.example")
    answer = httpx.options(on.url + "/graphql", headers=preflight, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    foreign = httpx.options(on.url + "/graphql", headers={**preflight, "Origin": "https://evil.example"}, timeout=10)
    assert "access-control-allow-origin" not in foreign.headers


# --- settings -----------------------------------------------------------------------------------


def test_limit_settings_are_read_and_checked(tmp_path: Path) -> None:
    base = {"SHENGUAN_VAR_DIR": str(tmp_path)}
    assert load_settings(base).limits == Limits()
    read = load_settings(
        {
            **base,
            "SHENGUAN_MAX_BODY_BYTES": "4096",
            "SHENGUAN_MAX_QUERY_COST": "900",
            "SHENGUAN_RATE_LIMIT": "0",
            "SHENGUAN_ALLOWED_ORIGINS": "https://a.example/, https://b.example",
            "SHENGUAN_CORS_ORIGINS": "*",
            "SHENGUAN_MAX_SUBSCRIPTIONS_PER_CONNECTION": "3",
            "SHENGUAN_MAX_CONNECTIONS_PER_USER": "4",
        }
    ).limits
    assert read == Limits(
        max_body_bytes=4096,
        max_query_cost=900,
        rate_limit_per_minute=0,
        allowed_origins=("https://a.example", "https://b.example"),
        cors_origins=("*",),
        max_subscriptions_per_connection=3,
        max_connections_per_user=4,
    )
    with pytest.raises(SettingsError, match="SHENGUAN_ALLOWED_ORIGINS"):
        load_settings({**base, "SHENGUAN_ALLOWED_ORIGINS": "evil.example"})
    with pytest.raises(SettingsError, match="SHENGUAN_MAX_BODY_BYTES"):
        load_settings({**base, "SHENGUAN_MAX_BODY_BYTES": "10"})
    with pytest.raises(SettingsError, match="SHENGUAN_RATE_LIMIT"):
        load_settings({**base, "SHENGUAN_RATE_LIMIT": "many"})


@pytest.mark.slow
async def test_a_costly_live_subscription_is_refused_with_its_cost(db: str, redis: Any, server_factory: Any) -> None:
    server = server_factory(SHENGUAN_MAX_QUERY_COST="100")
    live = await LiveSocket.open(server.url, token_for(await f.user(await f.department(), Role.LEADER)))
    costly = "subscription { decisionPushed { cursor push { decision { pushes { decision { pushes { id } } } } } } }"
    await live.subscribe(costly, {})
    message = await live.message()
    assert message["type"] == "next" and message["payload"]["data"] is None
    [error] = message["payload"]["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": cost_of(costly), "limit": 100}
    assert (await live.message())["type"] == "complete"
    await live.subscribe(PUSHED, {}, op="2")  # a modest one on the same socket is served
    await live.close()


@pytest.mark.slow
async def test_a_websocket_message_over_the_body_limit_closes_the_socket(
    db: str, redis: Any, server_factory: Any
) -> None:
    server = server_factory(SHENGUAN_MAX_BODY_BYTES="4096")
    live = await LiveSocket.open(server.url, token_for(await f.user(await f.department(), Role.LEADER)))
    await live.subscribe(PUSHED + " " * 5000, {})
    code, _, frames = await live.closed_with()
    assert (code, frames) == (1009, [])  # message too big
