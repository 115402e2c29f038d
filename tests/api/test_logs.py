"""Structured logs: one line per request, operation and job, with the request id; never a full ID or phone."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.logs import MaskingFilter, build_handler, mask
from models.enums import DepartmentKind, Role
from models.identifiers import make_citizen_id
from models.settings import Settings
from tests import factories as f
from tests.api.test_metrics import app_client
from tests.api.test_subscriptions import token_for
from workers.redis import arq_pool
from workers.settings import build_worker

CITIZEN = make_citizen_id("370811", "19860214", 7)
PHONE = "13812345678"


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = build_handler("json", stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def test_mask_hides_the_middle_of_citizen_ids_and_mobile_numbers() -> None:
    assert mask(f"证件 {CITIZEN} 电话 {PHONE}") == f"证件 {CITIZEN[:6]}********{CITIZEN[-4:]} 电话 138****5678"
    assert mask("+86 138-1234-5678") == "+86 138****5678"
    assert mask("37081119860214123X") == "370811********123X"
    assert mask("cursor 1234 and seq 998877") == "cursor 1234 and seq 998877"  # short numbers stay


def test_every_part_of_a_record_is_masked(captured: io.StringIO) -> None:
    logger = logging.getLogger("some.library")
    try:
        raise ValueError(f"bad id {CITIZEN}")
    except ValueError:
        logger.exception("lookup of %s failed", PHONE, extra={"who": {"id": CITIZEN, "phones": [PHONE]}})
    (line,) = [x for x in lines_of(captured) if x["logger"] == "some.library"]
    text = json.dumps(line, ensure_ascii=False)
    assert CITIZEN not in text and PHONE not in text
    assert line["message"] == "lookup of 138****5678 failed"
    assert line["who"] == {"id": f"{CITIZEN[:6]}********{CITIZEN[-4:]}", "phones": ["138****5678"]}
    assert "ValueError: bad id 370811********" in line["exception"]


def test_the_filter_masks_records_for_any_handler() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id=%s", (CITIZEN,), None)
    assert MaskingFilter().filter(record)
    assert record.getMessage() == f"id={CITIZEN[:6]}********{CITIZEN[-4:]}"


async def test_one_line_per_request_and_operation_with_the_request_id_user_and_outcome(
    db: str, redis: Any, settings: Settings, captured: io.StringIO
) -> None:
    department = await f.department(DepartmentKind.APPROVAL)
    user = await f.user(department, Role.OFFICER)
    headers = {"Authorization": f"Bearer {token_for(user)}", "X-Request-ID": "req-42"}
    async with app_client(settings) as http:
        response = await http.post("/graphql", json={"query": "query Me { me { id } }"}, headers=headers)
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "req-42"
        generated = (await http.post("/graphql", json={"query": "{ me { id } }"})).headers["x-request-id"]
        assert len(generated) == 22 and generated != "req-42" and mask(generated) == generated
        garbage = await http.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        assert garbage.headers["x-request-id"] not in ("bad id\twith spaces", "")

    lines = lines_of(captured)
    ours = [x for x in lines if x.get("request_id") == "req-42"]
    (operation,) = [x for x in ours if x["message"].startswith("graphql ")]
    assert operation["operation"] == "Me"
    assert operation["operation_type"] == "query"
    assert operation["outcome"] == "ok"
    assert operation["user_id"] == user.id and operation["department_id"] == department.id
    assert isinstance(operation["duration_ms"], float)
    (request,) = [x for x in ours if x.get("path") == "/graphql"]
    assert request["method"] == "POST" and request["status"] == 200 and request["outcome"] == "ok"
    assert request["operation"] == "Me" and request["user_id"] == user.id
    assert any(x.get("request_id") == generated and x.get("path") == "/graphql" for x in lines)


async def test_one_line_per_job_with_its_outcome(
    db: str, redis: Any, settings: Settings, captured: io.StringIO
) -> None:
    pool = await arq_pool(settings)
    try:
        await pool.enqueue_job("mark_push_overdue", 424242, _job_id="overdue:gone")
        worker = build_worker(
            settings, burst=True, poll_delay=0.01, handle_signals=False, open_db=False, redis_pool=pool, cron_jobs=[]
        )
        await worker.main()
    finally:
        await pool.aclose()
    (line,) = [x for x in lines_of(captured) if x.get("job") == "mark_push_overdue"]
    assert line["job_id"] == "overdue:gone" and line["outcome"] == "ok" and line["logger"] == "shenguan.jobs"
    assert isinstance(line["duration_ms"], float)


@pytest.mark.slow
async def test_a_server_with_json_format_writes_only_json_lines(db: str, redis: Any, server_factory: Any) -> None:
    server = server_factory(SHENGUAN_LOG_FORMAT="json")
    async with httpx.AsyncClient(base_url=server.url) as http:
        login = {"query": f'mutation {{ login(username: "{CITIZEN}", password: "{PHONE}") {{ token }} }}'}
        response = await http.post("/graphql", json=login, headers={"X-Request-ID": "from-proxy-1"})
        assert response.headers["x-request-id"] == "from-proxy-1"
    server.stop()
    text = server.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    assert any(x.get("request_id") == "from-proxy-1" and x.get("path") == "/graphql" for x in lines)
    assert CITIZEN not in text and PHONE not in text
