"""The authorisation matrix's rows for the supervision back-flow (Art. 21, 34): actions, notices, files.

Who may act follows the two sides of the flow: the supervision department records and pushes its
actions and sends notices about decisions pushed to it; the approval department claims or returns
what was pushed to it and decides the notices it receives (and sends Art. 34 notices the other
way). Only handlers act (officers and liaison officers); leaders, the integration account and the
administrator read. A foreign department's record is hidden (*_NOT_FOUND) or refused (FORBIDDEN).
"""

from __future__ import annotations

import io

from starlette.datastructures import UploadFile

from models import backflow as bf
from models import notice as nt
from models.account import Department
from models.decision import Decision, DecisionPush
from models.enums import DepartmentKind
from tests.api.authz import ISSUED, NOW, PAGE, Case, Target, World, gid, officer_of, push_of

PENALTY_ON = ISSUED.date()  # the decision is issued and penalised the same day, before NOW
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- targets: fresh back-flow records of a department -------------------------------------


async def _decision_and_issuer(push: DecisionPush) -> tuple[Decision, Department]:
    decision = await Decision.get(id=push.decision_id)
    return decision, await Department.get(id=decision.issuer_id)


async def recorded_action_of(w: World, dept: Department) -> bf.SupervisionAction:
    """Not yet pushed: recorded by the department (supervision side), or about to reach it (approval side)."""
    push = await push_of(w, dept)  # supervision: pushed to dept; approval: issued by dept
    recorder = await officer_of(await Department.get(id=push.department_id))
    data = bf.ActionInput(
        kind=bf.ActionKind.SUSPENSION_ORDER,
        penalty_document_number="济市监罚〔2026〕矩阵号",
        penalty_decided_on=PENALTY_ON,
        content="责令停产停业",
        decision_ids=[push.decision_id],
    )
    return await bf.record_action(recorder, data, now=NOW)


async def pushed_action_of(w: World, dept: Department) -> bf.SupervisionAction:
    """Pushed and waiting for its claim: the department pushed it, or it is the one to claim it."""
    row = await recorded_action_of(w, dept)
    recorder = await officer_of(await Department.get(id=row.department_id))
    return await bf.push_action(recorder, row.id, now=NOW)


async def an_action(w: World, dept: Department) -> Target:
    row = await pushed_action_of(w, dept)
    return Target({"id": gid("SupervisionAction", row.id)}, gid("SupervisionAction", row.id))


async def a_recorded_action(w: World, dept: Department) -> Target:
    row = await recorded_action_of(w, dept)
    return Target({"id": gid("SupervisionAction", row.id)})


async def an_offline_push(w: World, dept: Department) -> Target:
    row = await recorded_action_of(w, dept)
    return Target(
        {
            "i": {
                "id": gid("SupervisionAction", row.id),
                "channel": "OFFICIAL_LETTER",
                "reference": "济市监函〔2026〕矩阵号",
                "pushedOn": NOW.date().isoformat(),
            }
        }
    )


async def a_pushed_action(w: World, dept: Department) -> Target:
    row = await pushed_action_of(w, dept)
    return Target({"id": gid("SupervisionAction", row.id)})


async def new_action(w: World, dept: Department) -> Target:
    """An action about a decision pushed to the department (foreign: another department's decision)."""
    push = await push_of(w, dept)
    return Target(
        {
            "i": {
                "kind": "FINE",
                "penaltyDocumentNumber": "济市监罚〔2026〕矩阵号",
                "penaltyDecidedOn": PENALTY_ON.isoformat(),
                "content": "罚款五千元",
                "decisionIds": [gid("ApprovalDecision", push.decision_id)],
            }
        }
    )


async def received_notice_of(w: World, dept: Department) -> nt.Notice:
    """A notice the department received: Art. 34 from the issuer, or Art. 21 (3) from a supervisor."""
    push = await push_of(w, dept)
    decision, issuer = await _decision_and_issuer(push)
    if dept.kind is DepartmentKind.SUPERVISION:
        sender = await officer_of(issuer)
        data = nt.NoticeInput(decision.id, nt.NoticeKind.PENALTY, "应予处罚", recipient_department_id=dept.id)
    else:
        sender = await officer_of(await Department.get(id=push.department_id))
        data = nt.NoticeInput(decision.id, nt.NoticeKind.REVOKE, "以欺骗手段取得许可")
    return await nt.send_notice(sender, data, now=NOW)


async def a_notice(w: World, dept: Department) -> Target:
    row = await received_notice_of(w, dept)
    return Target({"id": gid("Notice", row.id)}, gid("Notice", row.id))


async def a_notice_under_review(w: World, dept: Department) -> nt.Notice:
    row = await received_notice_of(w, dept)
    return await nt.start_review(await officer_of(dept), row.id, now=NOW)


async def a_meeting(w: World, dept: Department) -> Target:
    row = await a_notice_under_review(w, dept)
    return Target({"id": gid("Notice", row.id), "at": "2026-10-12T09:00:00+08:00", "place": "第一会议室"})


async def a_decision_on_notice(w: World, dept: Department) -> Target:
    row = await a_notice_under_review(w, dept)
    return Target({"i": {"id": gid("Notice", row.id), "outcome": "REJECTED", "reasons": "证据不足"}})


async def new_notice(w: World, dept: Department) -> Target:
    """Art. 21 (3) about a decision pushed to a supervision department; Art. 34 from its issuer."""
    push = await push_of(w, dept)
    notice: dict[str, object] = {"decisionId": gid("ApprovalDecision", push.decision_id), "reasons": "经查属实"}
    if dept.kind is DepartmentKind.SUPERVISION:
        notice["kind"] = "REVOKE"
    else:
        notice |= {"kind": "PENALTY", "recipientDepartmentId": gid("Department", push.department_id)}
    return Target({"i": notice})


async def a_disposition(w: World, dept: Department) -> Target:
    """Revoke a decision the department issued (supervision side: one pushed to it)."""
    push = await push_of(w, dept)
    return Target(
        {
            "i": {
                "decisionId": gid("ApprovalDecision", push.decision_id),
                "status": "REVOKED",
                "disposition": {"documentNumber": "济审批撤〔2026〕矩阵号", "decidedOn": NOW.date().isoformat()},
            }
        }
    )


async def a_file(w: World, dept: Department) -> Target:
    """The value a multipart request binds to `file` (a fresh one each cell: it is read once)."""
    return Target({"file": UploadFile(io.BytesIO(PDF), filename="现场检查笔录.pdf")})


# --- the rows -----------------------------------------------------------------------------

ERRORS = "errors { code }"

ROWS: dict[str, Case] = {
    # Query
    "supervisionActions": Case(f"{{ supervisionActions(first: 100) {{ {PAGE} }} }}", an_action, "*/own:allow */foreign:empty admin:allow anon:deny"),
    "notices": Case(f"{{ notices(first: 100) {{ {PAGE} }} }}", a_notice, "*/own:allow */foreign:empty admin:allow anon:deny"),
    # Mutation
    "uploadEvidenceFile": Case(f"mutation($file: Upload!) {{ uploadEvidenceFile(file: $file) {{ {ERRORS} }} }}", a_file, "*:deny appr:allow sup:allow liaison:allow"),
    "recordSupervisionAction": Case(f"mutation($i: RecordSupervisionActionInput!) {{ recordSupervisionAction(input: $i) {{ {ERRORS} }} }}", new_action, "*:deny sup/own:allow liaison/own:allow"),
    "pushSupervisionAction": Case(f"mutation($id: ID!) {{ pushSupervisionAction(id: $id) {{ {ERRORS} }} }}", a_recorded_action, "*:deny sup/own:allow liaison/own:allow"),
    "recordOfflinePush": Case(f"mutation($i: RecordOfflinePushInput!) {{ recordOfflinePush(input: $i) {{ {ERRORS} }} }}", an_offline_push, "*:deny sup/own:allow liaison/own:allow"),
    "claimSupervisionAction": Case(f"mutation($id: ID!) {{ claimSupervisionAction(id: $id) {{ {ERRORS} }} }}", a_pushed_action, "*:deny appr/own:allow"),
    "returnSupervisionAction": Case(f'mutation($id: ID!) {{ returnSupervisionAction(id: $id, reason: "不属于本部门审批") {{ {ERRORS} }} }}', a_pushed_action, "*:deny appr/own:allow"),
    "sendNotice": Case(f"mutation($i: SendNoticeInput!) {{ sendNotice(input: $i) {{ {ERRORS} }} }}", new_notice, "*:deny appr/own:allow sup/own:allow liaison/own:allow"),
    "startNoticeReview": Case(f"mutation($id: ID!) {{ startNoticeReview(id: $id) {{ {ERRORS} }} }}", a_notice, "*:deny appr/own:allow sup/own:allow liaison/own:allow"),
    "scheduleNoticeMeeting": Case(f"mutation($id: ID!, $at: DateTime!, $place: String!) {{ scheduleNoticeMeeting(id: $id, meetingAt: $at, place: $place) {{ {ERRORS} }} }}", a_meeting, "*:deny appr/own:allow sup/own:allow liaison/own:allow"),
    "decideNotice": Case(f"mutation($i: DecideNoticeInput!) {{ decideNotice(input: $i) {{ {ERRORS} }} }}", a_decision_on_notice, "*:deny appr/own:allow sup/own:allow liaison/own:allow"),
    "changeDecisionStatus": Case(f"mutation($i: ChangeDecisionStatusInput!) {{ changeDecisionStatus(input: $i) {{ {ERRORS} }} }}", a_disposition, "*:deny appr/own:allow"),
}  # fmt: skip
