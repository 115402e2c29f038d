"""Evidence files over real HTTP: GraphQL multipart uploads, limits, and downloads checked like their records."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx

from api.graphql.base import to_global_id
from models.account import User
from models.files import EvidenceFile
from tests import factories as f
from tests.api.test_decisions import world
from tests.api.test_subscriptions import token_for
from tests.models.test_backflow_files import PDF, PNG

UPLOAD = """mutation($file: Upload!) { uploadEvidenceFile(file: $file) {
  evidenceFile { id name fileType size sha256 downloadUrl attached } errors { code field } } }"""
RECORD = """mutation($input: RecordSupervisionActionInput!) {
  recordSupervisionAction(input: $input) {
    supervisionAction { id evidence { id name attached } } errors { code field } } }"""
PUSH = "mutation($id: ID!) { pushSupervisionAction(id: $id) { supervisionAction { status } errors { code field } } }"
WAIT = 15.0


async def upload(client: httpx.AsyncClient, url: str, user: User, name: str, data: bytes) -> dict[str, Any]:
    """The GraphQL multipart request spec: operations, map, then the file part."""
    operations = json.dumps({"query": UPLOAD, "variables": {"file": None}})
    response = await client.post(
        url + "/graphql",
        data={"operations": operations, "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, data, "application/octet-stream")},
        headers={"Authorization": f"Bearer {token_for(user)}"},
        timeout=WAIT,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"]["uploadEvidenceFile"])


async def post(
    client: httpx.AsyncClient, url: str, user: User, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        url + "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token_for(user)}"},
        timeout=WAIT,
    )
    body = response.json()
    assert "errors" not in body, body
    return dict(next(iter(body["data"].values())))


async def get(client: httpx.AsyncClient, url: str, path: str, user: User | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token_for(user)}"} if user else {}
    return await client.get(url + path, headers=headers, timeout=WAIT)


async def test_upload_attach_and_download_with_the_records_permissions(
    db: str, redis: Any, server_factory: Any
) -> None:
    server = server_factory()
    w = await world()
    decision = await f.decision(w.issuer, w.item, now=f.at(2026, 9, 1), number="济审批食〔2026〕77号")
    async with httpx.AsyncClient() as client:
        uploaded = await upload(client, server.url, w.market_officer, "现场检查笔录.pdf", PDF)
        assert uploaded["errors"] == []
        evidence = uploaded["evidenceFile"]
        assert (evidence["name"], evidence["fileType"], evidence["size"], evidence["attached"]) == (
            "现场检查笔录.pdf",
            "pdf",
            len(PDF),
            False,
        )
        url = evidence["downloadUrl"]
        # Unattached: only the uploading department.
        assert (await get(client, server.url, url, w.market_officer)).status_code == 200
        assert (await get(client, server.url, url, w.issuer)).status_code == 404

        penalty_on = (date.today() - timedelta(days=3)).isoformat()
        action_input = {
            "kind": "LICENCE_REVOCATION",
            "penaltyDocumentNumber": "济市监罚〔2026〕88号",
            "penaltyDecidedOn": penalty_on,
            "content": "吊销食品经营许可证",
            "decisionIds": [to_global_id("ApprovalDecision", decision.id)],
            "evidenceFileIds": [evidence["id"]],
        }
        recorded = await post(client, server.url, w.market_officer, RECORD, {"input": action_input})
        assert recorded["errors"] == []
        assert recorded["supervisionAction"]["evidence"] == [
            {"id": evidence["id"], "name": "现场检查笔录.pdf", "attached": True}
        ]
        # Attached to an action not yet pushed: still only the supervision department.
        assert (await get(client, server.url, url, w.issuer)).status_code == 404
        pushed = await post(client, server.url, w.market_officer, PUSH, {"id": recorded["supervisionAction"]["id"]})
        assert pushed == {"supervisionAction": {"status": "PENDING"}, "errors": []}

        for user, status in ((w.market_officer, 200), (w.issuer, 200), (w.health_officer, 404), (w.other_officer, 404)):
            response = await get(client, server.url, url, user)
            assert response.status_code == status, user.username
            if status == 200:
                assert response.content == PDF
                assert response.headers["content-type"] == "application/pdf"
                assert response.headers["x-content-type-options"] == "nosniff"
        anonymous = await get(client, server.url, url, None)
        assert (anonymous.status_code, anonymous.json()["errors"][0]["extensions"]["code"]) == (401, "UNAUTHENTICATED")
        assert (await get(client, server.url, "/files/not-an-id", w.market_officer)).status_code == 404
        missing = to_global_id("EvidenceFile", 999999)
        assert (await get(client, server.url, f"/files/{missing}", w.market_officer)).status_code == 404

        # A file attached once cannot be attached to a second record.
        again = await post(client, server.url, w.market_officer, RECORD, {"input": action_input})
        assert again["errors"] == [{"code": "FILE_NOT_FOUND", "field": "evidenceFileIds.0"}]


async def test_uploads_over_the_limit_or_of_another_type_are_refused(db: str, redis: Any, server_factory: Any) -> None:
    server = server_factory(SHENGUAN_MAX_FILE_BYTES="1024")
    w = await world()
    async with httpx.AsyncClient() as client:
        cases = [
            ("大文件.pdf", PDF + b"0" * 1024, "FILE_TOO_LARGE"),
            ("照片.pdf", PNG, "FILE_TYPE_MISMATCH"),
            ("程序.exe", b"MZ\x90\x00" + b"\x00" * 60, "FILE_TYPE_NOT_ALLOWED"),
            ("空.pdf", b"", "FILE_EMPTY"),
        ]
        for name, data, code in cases:
            payload = await upload(client, server.url, w.market_officer, name, data)
            assert payload == {"evidenceFile": None, "errors": [{"code": code, "field": "file"}]}, name
        ok = await upload(client, server.url, w.market_officer, "截图.png", PNG)
        assert ok["evidenceFile"]["fileType"] == "png"
    assert await EvidenceFile.all().count() == 1


async def test_only_handlers_upload_and_an_unattached_file_is_seen_by_its_department_only(gql: Any) -> None:
    import io

    from starlette.datastructures import UploadFile

    from models.enums import Role

    w = await world()
    leader = await f.user(w.market, Role.LEADER)
    query = "mutation($file: Upload!) { uploadEvidenceFile(file: $file) { evidenceFile { id } errors { code } } }"

    def file() -> UploadFile:
        return UploadFile(io.BytesIO(PDF), filename="笔录.pdf")

    refused = await gql(query, {"file": file()}, user=leader, now=f.at(2026, 10, 9))
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    anonymous = await gql(query, {"file": file()}, user=None, now=f.at(2026, 10, 9))
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    assert await EvidenceFile.all().count() == 0
    done = await gql(query, {"file": file()}, user=w.market_officer, now=f.at(2026, 10, 9))
    file_id = done["data"]["uploadEvidenceFile"]["evidenceFile"]["id"]
    node = "query($id: ID!) { node(id: $id) { ... on EvidenceFile { name sha256 } } }"
    for user, visible in ((w.market_officer, True), (leader, True), (w.issuer, False), (w.health_officer, False)):
        result = await gql(node, {"id": file_id}, user=user, now=f.at(2026, 10, 9))
        assert (result["data"]["node"] is not None) is visible
