"""The authorisation matrix's rows for Art. 22 and Art. 24: pools, joint inspections, verification, credit.

Who may act follows the two sides of the flows: supervision departments propose and recommend pool
entries, which the approval department owning the pool reviews; the approval department organises
an inspection, draws its experts, closes it and links it to a decision, while the supervision
departments it invites reply and give their opinion; the department a verification plan names
records the result and carries out the outcomes it owns. Only handlers act (officers and liaison
officers); leaders and the integration account read within their department (credit records
excepted: not for the integration account). The administrator reads everything, sets the
verification plans and may review any pool, but acts for no department. A foreign department's
record is hidden (*_NOT_FOUND) or refused (FORBIDDEN).
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from models import credit as cr
from models import inspection as ins
from models import pool as pl
from models.account import Department, User
from models.catalogue import ApprovalItem, create_approval_item
from models.commitment import VerificationTask, set_verification_plan
from models.decision import Decision
from models.enums import (
    CommitmentOutcomeKind,
    DepartmentKind,
    InspectionKind,
    PoolStatus,
    ResponsibleSide,
    VerificationMethod,
    VerificationResult,
)
from models.identifiers import make_credit_code
from models.issuance import DecisionInput, issue_decision
from tests import factories as f
from tests.api.authz import ISSUED, NOW, PAGE, Case, Target, World, gid, officer_of

PLANNED = NOW + timedelta(days=7)  # inspections are planned ahead of the matrix's clock
AGENCY_CODE = make_credit_code("91370800MA3C4D5E8")
_n = itertools.count(1)


def _is_approval(dept: Department) -> bool:
    return dept.kind is DepartmentKind.APPROVAL


# --- targets: pool entries ----------------------------------------------------------------


async def expert_of(w: World, dept: Department, field: str | None = None) -> pl.Expert:
    """In the department's pool (approval side), or proposed by the department (supervision side)."""
    pool, proposer = (dept, w.spare_supervision) if _is_approval(dept) else (w.third_approval, dept)
    return await pl.propose_expert(
        await officer_of(proposer),
        pool_department_id=pool.id,
        name="李工",
        field=field or "食品安全",
        title="高级工程师",
        employer="济宁市食品检验所",
        phone="13953700002",
        conflicts=[],
        now=NOW,
    )


async def agency_of(w: World, dept: Department) -> pl.Agency:
    pool, proposer = (dept, w.spare_supervision) if _is_approval(dept) else (w.third_approval, dept)
    return await pl.propose_agency(
        await officer_of(proposer),
        pool_department_id=pool.id,
        name="山东鲁检检测有限公司",
        credit_code=AGENCY_CODE,
        qualification="检验检测机构资质认定",
        valid_from=ISSUED.date(),
        valid_until=ISSUED.date().replace(year=2029),
        now=NOW,
    )


async def an_expert(w: World, dept: Department) -> Target:
    row = await expert_of(w, dept)
    return Target({"id": gid("Expert", row.id)}, gid("Expert", row.id))


async def an_agency(w: World, dept: Department) -> Target:
    row = await agency_of(w, dept)
    return Target({"id": gid("Agency", row.id)}, gid("Agency", row.id))


def _pool_for(w: World, dept: Department) -> Department:
    """The pool a proposal goes to: the department's own (approval side), or an approval department's."""
    return dept if _is_approval(dept) else w.third_approval


async def new_expert(w: World, dept: Department) -> Target:
    pool = _pool_for(w, dept)
    return Target(
        {
            "i": {
                "poolDepartmentId": gid("Department", pool.id),
                "name": "王工",
                "field": "食品安全",
                "title": "工程师",
                "employer": "济宁市疾病预防控制中心",
                "phone": "13953700003",
            }
        }
    )


async def new_agency(w: World, dept: Department) -> Target:
    pool = _pool_for(w, dept)
    return Target(
        {
            "i": {
                "poolDepartmentId": gid("Department", pool.id),
                "name": "济宁安评技术服务有限公司",
                "creditCode": AGENCY_CODE,
                "qualification": "安全评价机构资质",
                "validFrom": "2026-01-01",
                "validUntil": "2028-12-31",
            }
        }
    )


# --- targets: inspections -----------------------------------------------------------------


async def joint_item(*supervisors: Department) -> ApprovalItem:
    return await create_approval_item(
        code=f"JOINT{next(_n)}",
        name="食品生产许可",
        legal_basis="《中华人民共和国食品安全法》第三十五条",
        commitment_based=True,
        joint_inspection=True,
        supervising_department_ids=[d.id for d in supervisors],
    )


def _sides(w: World, dept: Department) -> tuple[Department, Department]:
    """(organiser, invitee): the department organises (approval side) or is invited (supervision side)."""
    return (dept, w.spare_supervision) if _is_approval(dept) else (w.third_approval, dept)


async def task_of(w: World, dept: Department) -> tuple[ins.InspectionTask, User, ApprovalItem]:
    """An application's inspection the department organises, or is invited to; with its organiser's officer."""
    organiser, invitee = _sides(w, dept)
    officer = await officer_of(organiser)
    item = await joint_item(invitee)
    task = await ins.create_inspection_task(
        officer,
        kind=InspectionKind.SITE_SURVEY,
        site="济宁市任城区工业园12号",
        planned_at=PLANNED,
        invited_department_ids=[invitee.id],
        now=NOW,
        application_reference=f"SQ2026{next(_n):05d}",
        item_id=item.id,
        counterparty=f.person(),
    )
    return task, officer, item


async def approved_expert_in(w: World, pool: Department, reviewer: User) -> pl.Expert:
    """An approved expert of a field of its own in the pool, so a draw of one always finds it."""
    expert = await expert_of(w, pool, field=f"矩阵专业{next(_n)}")
    approved: pl.Expert = await pl.set_entry_status(reviewer, pl.Expert, expert.id, PoolStatus.APPROVED, None, now=NOW)
    return approved


async def an_inspection(w: World, dept: Department) -> Target:
    task, _, _ = await task_of(w, dept)
    return Target({"id": gid("InspectionTask", task.id)}, gid("InspectionTask", task.id))


async def new_inspection(w: World, dept: Department) -> Target:
    invitee = w.spare_supervision if _is_approval(dept) else dept
    item = await joint_item(invitee)
    return Target(
        {
            "i": {
                "kind": "SITE_SURVEY",
                "site": "济宁市任城区工业园8号",
                "plannedAt": PLANNED.isoformat(),
                "invitedDepartmentIds": [gid("Department", invitee.id)],
                "applicationReference": f"SQ2026{next(_n):05d}",
                "itemId": gid("ApprovalItem", item.id),
                "counterparty": {
                    "name": "济宁鲁兴餐饮管理有限公司",
                    "kind": "ORGANIZATION",
                    "creditCode": make_credit_code("91370800MA3C4D5E6"),
                },
            }
        }
    )


async def an_invitation(w: World, dept: Department) -> Target:
    task, _, _ = await task_of(w, dept)
    invitation = await ins.InspectionInvitation.get(task_id=task.id)
    return Target({"id": gid("InspectionInvitation", invitation.id)})


async def a_draw(w: World, dept: Department) -> Target:
    """A task with an approved expert of its own field in the organiser's pool."""
    task, officer, _ = await task_of(w, dept)
    organiser = await Department.get(id=task.organiser_id)
    expert = await approved_expert_in(w, organiser, officer)
    return Target({"i": {"taskId": gid("InspectionTask", task.id), "field": expert.field, "count": 1}})


async def an_opinion(w: World, dept: Department) -> Target:
    """What the department has to say: a drawn expert's opinion (organiser), or its own after accepting."""
    task, officer, _ = await task_of(w, dept)
    opinion = {"taskId": gid("InspectionTask", task.id), "opinion": "AGREE", "text": "现场条件符合要求"}
    if _is_approval(dept):
        expert = await approved_expert_in(w, dept, officer)
        await ins.draw_experts(officer, task.id, field=expert.field, count=1, lookback_days=0, now=NOW)
        opinion["expertId"] = gid("Expert", expert.id)
    else:
        invitation = await ins.InspectionInvitation.get(task_id=task.id)
        await ins.reply_invitation(await officer_of(dept), invitation.id, accept=True, reason=None, now=NOW)
    return Target({"i": opinion})


async def a_closable_inspection(w: World, dept: Department) -> Target:
    task, _, _ = await task_of(w, dept)
    return Target({"id": gid("InspectionTask", task.id), "c": "现场踏勘完毕，符合许可条件"})


async def a_linkable_inspection(w: World, dept: Department) -> Target:
    """An application's inspection and the decision that followed it: same item, same applicant."""
    task, officer, item = await task_of(w, dept)
    decision = await f.decision(officer, item, now=ISSUED)
    return Target({"id": gid("InspectionTask", task.id), "d": gid("ApprovalDecision", decision.id)})


# --- targets: verification and credit -----------------------------------------------------


async def verification_of(w: World, dept: Department) -> VerificationTask:
    """An open verification the department must carry out: of its own decision (approval side, verified by
    the issuer), or of a decision pushed to it (supervision side, verified by the supervisor)."""
    if _is_approval(dept):
        issuer, supervisor, side = dept, w.spare_supervision, ResponsibleSide.APPROVAL
    else:
        issuer, supervisor, side = w.third_approval, dept, ResponsibleSide.SUPERVISION
    item = await joint_item(supervisor)
    await set_verification_plan(
        item.id,
        exempt=False,
        working_days=5,
        standard="《食品生产许可审查通则》",
        method=VerificationMethod.DOCUMENTS,
        side=side,
    )
    data = DecisionInput(
        item_id=item.id,
        document_number=f"济审批〔2026〕核查{next(_n)}号",
        content="准予食品生产许可（告知承诺）",
        approved_on=ISSUED.date(),
        counterparty=f.person(),
        commitment_based=True,
    )
    decision, _ = await issue_decision(await officer_of(issuer), data, now=ISSUED)
    assert isinstance(decision, Decision)
    return await VerificationTask.get(decision_id=decision.id, department_id=dept.id)


async def false_commitment_of(w: World, dept: Department) -> VerificationTask:
    """Verified false by the department, which must then terminate the licence itself."""
    task = await verification_of(w, dept)
    result = cr.ResultInput(
        result=VerificationResult.FALSE,
        note="承诺的生产场所与实际不符",
        outcomes=[cr.OutcomeInput(kind=CommitmentOutcomeKind.TERMINATE, note="终止许可")],
    )
    return await cr.record_verification_result(await officer_of(dept), task.id, result, now=NOW)


async def a_verification(w: World, dept: Department) -> Target:
    task = await verification_of(w, dept)
    return Target(
        {"i": {"verificationId": gid("VerificationTask", task.id), "result": "TRUE", "note": "现场核查属实"}},
        gid("VerificationTask", task.id),
    )


async def an_outcome(w: World, dept: Department) -> Target:
    task = await false_commitment_of(w, dept)
    outcome = await cr.CommitmentOutcome.get(verification_id=task.id)
    return Target({"id": gid("CommitmentOutcome", outcome.id), "n": "已终止许可"})


async def a_credit_record(w: World, dept: Department) -> Target:
    task = await false_commitment_of(w, dept)
    record = await cr.CreditRecord.get(verification_id=task.id)
    return Target({}, gid("CreditRecord", record.id))


async def an_item_to_plan(w: World, dept: Department) -> Target:
    item = await joint_item(w.spare_supervision)
    plan = {
        "workingDays": 5,
        "standard": "《食品生产许可审查通则》",
        "method": "ON_SITE",
        "responsibleSide": "SUPERVISION",
    }
    return Target({"i": {"itemId": gid("ApprovalItem", item.id), **plan}})


# --- the rows -----------------------------------------------------------------------------

READ = "*/own:allow */foreign:empty admin:allow anon:deny"  # department-scoped reads
HANDLERS = "*:deny appr/own:allow sup/own:allow liaison/own:allow"  # the responsible department's handlers

ROWS: dict[str, Case] = {
    # Query
    "experts": Case(f"{{ experts(first: 100) {{ {PAGE} }} }}", an_expert, READ),
    "agencies": Case(f"{{ agencies(first: 100) {{ {PAGE} }} }}", an_agency, READ),
    "inspectionTasks": Case(f"{{ inspectionTasks(first: 100) {{ {PAGE} }} }}", an_inspection, READ),
    "verificationTasks": Case(f"{{ verificationTasks(first: 100) {{ {PAGE} }} }}", a_verification, READ),
    "creditRecords": Case(f"{{ creditRecords(first: 100) {{ {PAGE} }} }}", a_credit_record, f"{READ} integ:deny auditor:deny"),
    # Mutation: pools
    "proposeExpert": Case("mutation($i: ProposeExpertInput!) { proposeExpert(input: $i) { errors { code } } }", new_expert, "*:deny sup:allow liaison:allow"),
    "proposeAgency": Case("mutation($i: ProposeAgencyInput!) { proposeAgency(input: $i) { errors { code } } }", new_agency, "*:deny sup:allow liaison:allow"),
    "recommendExpert": Case("mutation($id: ID!) { recommendExpert(id: $id) { errors { code } } }", an_expert, "*:deny sup:allow liaison:allow"),
    "setExpertStatus": Case("mutation($id: ID!) { setExpertStatus(id: $id, status: APPROVED) { errors { code } } }", an_expert, "*:deny appr/own:allow admin:allow"),
    "setExpertAvailability": Case("mutation($id: ID!) { setExpertAvailability(id: $id, available: false) { errors { code } } }", an_expert, "*:deny appr/own:allow admin:allow"),
    "setAgencyStatus": Case("mutation($id: ID!) { setAgencyStatus(id: $id, status: APPROVED) { errors { code } } }", an_agency, "*:deny appr/own:allow admin:allow"),
    # Mutation: joint inspections
    "createInspectionTask": Case("mutation($i: CreateInspectionTaskInput!) { createInspectionTask(input: $i) { errors { code } } }", new_inspection, "*:deny appr:allow"),
    "replyInspectionInvitation": Case("mutation($id: ID!) { replyInspectionInvitation(id: $id, accept: true) { errors { code } } }", an_invitation, "*:deny sup/own:allow liaison/own:allow"),
    "drawExperts": Case("mutation($i: DrawExpertsInput!) { drawExperts(input: $i) { errors { code } } }", a_draw, "*:deny appr/own:allow"),
    "recordInspectionOpinion": Case("mutation($i: RecordInspectionOpinionInput!) { recordInspectionOpinion(input: $i) { errors { code } } }", an_opinion, HANDLERS),
    "closeInspectionTask": Case("mutation($id: ID!, $c: String!) { closeInspectionTask(id: $id, conclusion: $c) { errors { code } } }", a_closable_inspection, "*:deny appr/own:allow"),
    "linkInspectionTask": Case("mutation($id: ID!, $d: ID!) { linkInspectionTask(id: $id, decisionId: $d) { errors { code } } }", a_linkable_inspection, "*:deny appr/own:allow"),
    # Mutation: notification-commitment verification
    "setVerificationPlan": Case("mutation($i: SetVerificationPlanInput!) { setVerificationPlan(input: $i) { errors { code } } }", an_item_to_plan, "*:deny admin:allow"),
    "recordVerificationResult": Case("mutation($i: RecordVerificationResultInput!) { recordVerificationResult(input: $i) { errors { code } } }", a_verification, HANDLERS),
    "completeCommitmentOutcome": Case("mutation($id: ID!, $n: String!) { completeCommitmentOutcome(id: $id, note: $n) { errors { code } } }", an_outcome, HANDLERS),
}  # fmt: skip
