"""Evidence files on the other flows: inspection opinions and conclusions, verification results, inquiry
letters and meeting minutes. Each attaches in the record's own transaction, and a download is allowed to
exactly those who may see the record the file is attached to."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.datastructures import UploadFile

from api.app import create_app
from api.graphql.base import from_global_id
from models.account import User
from models.commitment import VerificationTask
from models.enums import InspectionStatus, VerificationStatus
from models.files import EvidenceFile
from models.inquiry import Inquiry, InquiryMessage
from models.inspection import InspectionOpinion, InspectionTask
from models.meeting import ActionItem, Meeting, MeetingStatus
from models.settings import Settings
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.oversight import World, call, codes, world
from tests.api.test_commitments import issued, planned
from tests.api.test_inquiries import LiaisonWorld, dep, lw, send_input
from tests.api.test_inspections import NOW as INSPECTED
from tests.api.test_inspections import create
from tests.api.test_meetings import NOW as MET
from tests.api.test_meetings import scheduled
from tests.api.test_subscriptions import token_for
from tests.models.test_backflow_files import PDF, PNG

__all__ = ["lw"]
FILES = "evidence { id name attached }"
UPLOAD = "mutation($file: Upload!) { uploadEvidenceFile(file: $file) { evidenceFile { id } errors { code } } }"
Attempt = Callable[[list[str]], Awaitable[dict[str, Any]]]


async def upload(gql: Gql, user: User, name: str = "现场照片.png", data: bytes = PNG) -> str:
    result = await gql(UPLOAD, {"file": UploadFile(io.BytesIO(data), filename=name)}, user=user)
    assert result["errors"] == [], result
    return str(result["data"]["uploadEvidenceFile"]["evidenceFile"]["id"])


@asynccontextmanager
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real application in this process, for GET /files/{id}."""
    app = create_app(settings, poll_interval=0.2, own_database=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shenguan.test") as client:
            yield client


async def download_statuses(settings: Settings, file_id: str, users: list[User]) -> list[int]:
    async with http(settings) as client:
        statuses = []
        for user in users:
            response = await client.get(f"/files/{file_id}", headers={"Authorization": f"Bearer {token_for(user)}"})
            if response.status_code == 200:
                assert response.content in (PDF, PNG)
            statuses.append(response.status_code)
        return statuses


async def refuses_bad_ids(attempt: Attempt, *, foreign: str, used: str, spare: str) -> None:
    """Malformed, another department's, and already attached ids are named by index; the spare stays free."""
    for ids, error in (
        (["not-an-id"], ("INVALID_ID", "evidenceFileIds.0")),
        ([foreign], ("FILE_NOT_FOUND", "evidenceFileIds.0")),
        ([spare, used], ("FILE_NOT_FOUND", "evidenceFileIds.1")),
    ):
        payload = await attempt(ids)
        assert codes(payload) == [error], ids
    spare_row = await EvidenceFile.get(id=from_global_id(spare, "EvidenceFile")[1])
    assert (spare_row.owner_type, spare_row.owner_id) == (None, None)


async def attached_elsewhere(gql: Gql, user: User) -> str:
    """An upload of the user's department already attached to some other record."""
    file_id = await upload(gql, user)
    await EvidenceFile.filter(id=from_global_id(file_id, "EvidenceFile")[1]).update(owner_type="Notice", owner_id=1)
    return file_id


# --- Joint inspections -----------------------------------------------------------------------------

OPINION = f"""mutation($input: RecordInspectionOpinionInput!) {{
  recordInspectionOpinion(input: $input) {{ inspectionOpinion {{ opinion {FILES} }} errors {{ code field }} }} }}"""
CLOSE = f"""mutation($id: ID!, $conclusion: String!, $files: [ID!]) {{
  closeInspectionTask(id: $id, conclusion: $conclusion, evidenceFileIds: $files) {{
    inspectionTask {{ status {FILES} opinions {{ {FILES} }} }} errors {{ code field }} }} }}"""
REPLY = """mutation($id: ID!) { replyInspectionInvitation(id: $id, accept: true) { errors { code } } }"""


async def accepted_task(gql: Gql, w: World) -> str:
    task = await create(gql, w)
    market = next(i["id"] for i in task["invitations"] if i["department"]["code"] == "CITY-MARKET")
    assert (await call(gql, REPLY, {"id": market}, w.market_officer, INSPECTED))["errors"] == []
    return str(task["id"])


async def test_inspection_opinions_and_conclusions_carry_files_seen_by_the_tasks_departments(
    gql: Gql, settings: Settings
) -> None:
    w = await world()
    task_id = await accepted_task(gql, w)
    opinion = {"taskId": task_id, "opinion": "AGREE_WITH_CONDITIONS", "text": "需完善防鼠设施"}
    photo = await upload(gql, w.market_officer, "防鼠设施.png")
    spare = await upload(gql, w.market_officer, "备用.pdf", PDF)
    foreign = await upload(gql, w.health_officer)
    at = f.at(2026, 10, 8)

    async def record(ids: list[str]) -> dict[str, Any]:
        return await call(gql, OPINION, {"input": {**opinion, "evidenceFileIds": ids}}, w.market_officer, at)

    used = await attached_elsewhere(gql, w.market_officer)
    await refuses_bad_ids(record, foreign=foreign, used=used, spare=spare)
    assert await InspectionOpinion.all().count() == 0
    given = await record([photo])
    assert given["errors"] == []
    assert given["inspectionOpinion"]["evidence"] == [{"id": photo, "name": "防鼠设施.png", "attached": True}]

    report = await upload(gql, w.officer, "踏勘报告.pdf", PDF)

    async def close(ids: list[str]) -> dict[str, Any]:
        return await call(gql, CLOSE, {"id": task_id, "conclusion": "现场符合要求", "files": ids}, w.officer, at)

    await refuses_bad_ids(close, foreign=foreign, used=await attached_elsewhere(gql, w.officer), spare=report)
    assert (await InspectionTask.get()).status is InspectionStatus.PLANNED
    closed = await close([report])
    assert closed["errors"] == []
    assert (closed["inspectionTask"]["status"], closed["inspectionTask"]["evidence"]) == (
        "CLOSED",
        [{"id": report, "name": "踏勘报告.pdf", "attached": True}],
    )
    # The organiser and every invited department (even one that declined or has not replied) see both.
    viewers = [w.officer, w.market_officer, w.health_officer, w.admin, w.outsider_officer, w.county_officer]
    for file_id in (photo, report):
        assert await download_statuses(settings, file_id, viewers) == [200, 200, 200, 200, 404, 404]


# --- Commitment verification -----------------------------------------------------------------------

RESULT = f"""mutation($input: RecordVerificationResultInput!) {{
  recordVerificationResult(input: $input) {{ verificationTask {{ status {FILES} }} errors {{ code field }} }} }}"""
TASK_FILES = f"query($id: ID!) {{ node(id: $id) {{ ... on VerificationTask {{ {FILES} }} }} }}"


async def test_a_verification_result_carries_files_seen_by_the_verifier_and_the_issuer(
    gql: Gql, settings: Settings
) -> None:
    w = await world()
    await planned(gql, w)
    decision = await issued(gql, w)
    market_task = next(t["id"] for t in decision["verificationTasks"] if t["department"]["code"] == "CITY-MARKET")
    record = await upload(gql, w.market_officer, "核查记录.pdf", PDF)
    spare = await upload(gql, w.market_officer)
    foreign = await upload(gql, w.health_officer)
    used = await attached_elsewhere(gql, w.officer)
    at = f.at(2026, 10, 12)

    async def result(ids: list[str]) -> dict[str, Any]:
        data = {"verificationId": market_task, "result": "TRUE", "note": "与承诺一致", "evidenceFileIds": ids}
        return await call(gql, RESULT, {"input": data}, w.market_officer, at)

    await refuses_bad_ids(result, foreign=foreign, used=used, spare=spare)
    assert await VerificationTask.filter(status=VerificationStatus.OPEN).count() == 2
    done = await result([record])
    assert done == {
        "verificationTask": {"status": "DONE", "evidence": [{"id": record, "name": "核查记录.pdf", "attached": True}]},
        "errors": [],
    }
    listed = await gql(TASK_FILES, {"id": market_task}, user=w.officer)
    assert [x["id"] for x in listed["data"]["node"]["evidence"]] == [record]
    viewers = [w.market_officer, w.officer, w.admin, w.health_officer, w.outsider_officer]
    assert await download_statuses(settings, record, viewers) == [200, 200, 200, 404, 404]


# --- Inquiry letters -------------------------------------------------------------------------------

THREAD = f"inquiry {{ id messages {{ position kind {FILES} }} }} errors {{ code field }}"
SEND = f"mutation($i: SendInquiryInput!) {{ sendInquiry(input: $i) {{ {THREAD} }} }}"
ANSWER = f"""mutation($id: ID!, $b: String!, $files: [ID!]) {{
  replyToInquiry(id: $id, body: $b, evidenceFileIds: $files) {{ {THREAD} }} }}"""


async def test_inquiry_letters_carry_files_seen_by_the_sender_and_the_receivers(
    gql: Gql, lw: LiaisonWorld, settings: Settings
) -> None:
    question_file = await upload(gql, lw.approval_officer, "核查标准.pdf", PDF)
    spare = await upload(gql, lw.approval_officer)
    foreign = await upload(gql, lw.market_liaison)
    used = await attached_elsewhere(gql, lw.approval_liaison)

    async def send(ids: list[str]) -> dict[str, Any]:
        return await call(gql, SEND, {"i": send_input(lw, evidenceFileIds=ids)}, lw.approval_officer, MET)

    await refuses_bad_ids(send, foreign=foreign, used=used, spare=spare)
    assert (await Inquiry.all().count(), await InquiryMessage.all().count()) == (0, 0)
    sent = await send([question_file])
    assert sent["errors"] == []
    inquiry_id = sent["inquiry"]["id"]
    assert sent["inquiry"]["messages"] == [
        {
            "position": 1,
            "kind": "QUESTION",
            "evidence": [{"id": question_file, "name": "核查标准.pdf", "attached": True}],
        }
    ]

    answer_file = await upload(gql, lw.market_liaison, "答复附件.pdf", PDF)

    async def answer(ids: list[str]) -> dict[str, Any]:
        return await call(gql, ANSWER, {"id": inquiry_id, "b": "标准见附件。", "files": ids}, lw.market_liaison, MET)

    await refuses_bad_ids(answer, foreign=spare, used=question_file, spare=foreign)
    assert await InquiryMessage.all().count() == 1
    answered = await answer([answer_file])
    assert [(m["kind"], [x["id"] for x in m["evidence"]]) for m in answered["inquiry"]["messages"]] == [
        ("QUESTION", [question_file]),
        ("ANSWER", [answer_file]),
    ]
    viewers = [lw.approval_officer, lw.market_officer, lw.health_liaison, lw.admin, lw.other_liaison]
    for file_id in (question_file, answer_file):
        assert await download_statuses(settings, file_id, viewers) == [200, 200, 200, 200, 404]


# --- Meeting minutes -------------------------------------------------------------------------------

MINUTES = f"""mutation($i: RecordMinutesInput!) {{ recordMeetingMinutes(input: $i) {{
  meeting {{ status {FILES} }} errors {{ code field }} }} }}"""
MEETING_FILES = f"query($id: ID!) {{ node(id: $id) {{ ... on Meeting {{ {FILES} }} }} }}"


async def test_meeting_minutes_carry_the_memorandum_seen_by_the_meetings_departments(
    gql: Gql, lw: LiaisonWorld, settings: Settings
) -> None:
    meeting, first, second = await scheduled(gql, lw)
    memorandum = await upload(gql, lw.approval_liaison, "会议纪要.pdf", PDF)
    spare = await upload(gql, lw.approval_officer)
    foreign = await upload(gql, lw.market_liaison)
    used = await attached_elsewhere(gql, lw.approval_officer)

    async def minutes(ids: list[str]) -> dict[str, Any]:
        data = {
            "meetingId": meeting["id"],
            "minutes": "会议讨论了两项议题。",
            "agreedTopicIds": [first, second],
            "actionItems": [{"departmentId": dep(lw.market), "task": "整理超期清单", "workingDays": 3}],
            "evidenceFileIds": ids,
        }
        return await call(gql, MINUTES, {"i": data}, lw.approval_liaison, MET)

    await refuses_bad_ids(minutes, foreign=foreign, used=used, spare=spare)
    assert ((await Meeting.get()).status, await ActionItem.all().count()) == (MeetingStatus.SCHEDULED, 0)
    held = await minutes([memorandum])
    assert held == {
        "meeting": {"status": "HELD", "evidence": [{"id": memorandum, "name": "会议纪要.pdf", "attached": True}]},
        "errors": [],
    }
    listed = await gql(MEETING_FILES, {"id": meeting["id"]}, user=lw.health_liaison)
    assert [x["id"] for x in listed["data"]["node"]["evidence"]] == [memorandum]
    viewers = [lw.approval_officer, lw.market_officer, lw.health_liaison, lw.admin, lw.other_liaison]
    assert await download_statuses(settings, memorandum, viewers) == [200, 200, 200, 200, 404]
