"""Authorisation-matrix rows: inquiry letters, liaison meetings, the joint conference and public submissions.

Only the approval department convenes meetings, and the joint conference is recorded by an approval
department's liaison officer or leader, a role pair the matrix's roles do not include: every
one of them is denied there, and tests/api/test_meetings.py shows the approval liaison allowed.
A meeting invitation is personal: only the person invited answers it, not a colleague.
The public intake is open to everyone; its per-address window is emptied before each cell, since
every cell comes from the same address and the window is tested in tests/api/test_public.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models import inquiry as inq
from models import meeting as mt
from models import public as pub
from models.account import Department, User
from models.enums import DepartmentKind, Role
from tests import factories as f
from tests.api.authz import ISSUED, PAGE, Case, Target, World, gid, officer_of

HELD_AT = f.at(2026, 10, 15, 9)  # a week after the matrix's NOW: enough notice for every kind


# --- inquiries ----------------------------------------------------------------------------


async def _inquiry(sender: Department, receiver: Department) -> inq.Inquiry:
    return await inq.send_inquiry(
        await officer_of(sender),
        receiver_ids=[receiver.id],
        topic=inq.InquiryTopic.POLICY,
        subject="监管标准衔接",
        body="请说明该事项的监管标准。",
        now=ISSUED,
    )


def _counterpart(w: World, dept: Department) -> Department:
    """A department of neither side of the matrix that deals with `dept`."""
    return w.spare_supervision if dept.kind is DepartmentKind.APPROVAL else w.third_approval


async def a_sent_inquiry(w: World, dept: Department) -> Target:
    row = await _inquiry(dept, _counterpart(w, dept))
    return Target({"id": gid("Inquiry", row.id)}, gid("Inquiry", row.id))


async def a_received_inquiry(w: World, dept: Department) -> Target:
    row = await _inquiry(_counterpart(w, dept), dept)
    return Target({"id": gid("Inquiry", row.id)}, gid("Inquiry", row.id))


async def new_inquiry(w: World, dept: Department) -> Target:
    return Target(
        {
            "i": {
                "receiverIds": [gid("Department", w.spare_supervision.id)],
                "topic": "PLAN",
                "subject": "年度监管计划",
                "body": "请提供年度监管计划。",
            }
        }
    )


# --- meetings and the joint conference ----------------------------------------------------


def _convener_of(w: World, dept: Department) -> Department:
    """An approval department convenes its own meetings; a supervision department is concerned by one."""
    return dept if dept.kind is DepartmentKind.APPROVAL else w.third_approval


async def _convened(w: World, dept: Department) -> tuple[mt.Meeting, User]:
    """A meeting collecting topics that concerns `dept`, and the convener's officer."""
    convener = await officer_of(_convener_of(w, dept))
    data = mt.ConveneInput(
        kind=mt.MeetingKind.AD_HOC,
        title="审管衔接专题会",
        reason="认领超期问题",
        department_ids=[dept.id],
        held_at=HELD_AT,
    )
    return await mt.convene_meeting(convener, data, now=ISSUED), convener


async def _liaison_of(w: World, dept: Department) -> User:
    """The matrix's liaison officer in its own department, elsewhere a fresh one."""
    liaison = w.actors["liaison"]
    if liaison is not None and liaison.department_id == dept.id:
        return liaison
    return await f.user(dept, Role.LIAISON)


@dataclass(frozen=True)
class Scheduled:
    """A meeting with its agenda set: the convener's officer, the topic, and the invited liaison of `dept`."""

    meeting: mt.Meeting
    convener: User
    topic: mt.MeetingTopic
    invited: User


async def _scheduled(w: World, dept: Department) -> Scheduled:
    meeting, convener = await _convened(w, dept)
    liaison = await _liaison_of(w, dept)
    topic = await mt.submit_topic(liaison, meeting.id, title="超期认领的处理", description="说明", now=ISSUED)
    await mt.set_agenda(convener, meeting.id, topic_ids=[topic.id], now=ISSUED)
    return Scheduled(meeting, convener, topic, liaison)


async def _held(w: World, dept: Department, *, escalate: bool = False) -> mt.Meeting:
    """A meeting with minutes: an action item for `dept`, its topic agreed or escalated."""
    s = await _scheduled(w, dept)
    unresolved = [mt.UnresolvedInput(s.topic.id, mt.UnresolvedDisposition.ESCALATE, "建议由联席会议明确职责")]
    data = mt.MinutesInput(
        minutes="会议纪要",
        conclusions=["明确认领时限"],
        agreed_topic_ids=[] if escalate else [s.topic.id],
        action_items=[mt.ActionItemInput(department_id=dept.id, task="完成认领", working_days=10)],
        unresolved=unresolved if escalate else [],
    )
    return await mt.record_minutes(s.convener, s.meeting.id, data, now=ISSUED)


async def a_meeting(w: World, dept: Department) -> Target:
    meeting, _ = await _convened(w, dept)
    return Target({}, gid("Meeting", meeting.id))


async def new_request(w: World, dept: Department) -> Target:
    return Target(
        {
            "i": {
                "kind": "AD_HOC",
                "title": "认领超期",
                "reason": "多次超期认领",
                "departmentIds": [gid("Department", w.spare_supervision.id)],
            }
        }
    )


async def new_meeting(w: World, dept: Department) -> Target:
    return Target(
        {
            "i": {
                "kind": "AD_HOC",
                "title": "审管衔接专题会",
                "reason": "认领超期问题",
                "departmentIds": [gid("Department", w.spare_supervision.id)],
                "heldAt": HELD_AT.isoformat(),
            }
        }
    )


async def a_collecting_meeting(w: World, dept: Department) -> Target:
    meeting, _ = await _convened(w, dept)
    return Target({"m": gid("Meeting", meeting.id)})


async def an_agenda(w: World, dept: Department) -> Target:
    meeting, _ = await _convened(w, dept)
    topic = await mt.submit_topic(
        await _liaison_of(w, dept), meeting.id, title="职责边界", description="说明", now=ISSUED
    )
    return Target({"i": {"meetingId": gid("Meeting", meeting.id), "topicIds": [gid("MeetingTopic", topic.id)]}})


async def an_invitation(w: World, dept: Department) -> Target:
    s = await _scheduled(w, dept)
    row = await mt.MeetingInvitation.get(meeting_id=s.meeting.id, user_id=s.invited.id)
    return Target({"id": gid("MeetingInvitation", row.id)})


async def minutes_of(w: World, dept: Department) -> Target:
    s = await _scheduled(w, dept)
    return Target(
        {
            "i": {
                "meetingId": gid("Meeting", s.meeting.id),
                "minutes": "会议纪要",
                "agreedTopicIds": [gid("MeetingTopic", s.topic.id)],
            }
        }
    )


async def an_action_item(w: World, dept: Department) -> Target:
    meeting = await _held(w, dept)
    row = await mt.ActionItem.get(meeting_id=meeting.id)
    return Target({"id": gid("ActionItem", row.id)})


async def an_escalation(w: World, dept: Department) -> Target:
    meeting = await _held(w, dept, escalate=True)
    row = await mt.Escalation.get(meeting_id=meeting.id)
    decision = {"escalationId": gid("Escalation", row.id), "decision": "由市场监管部门负责"}
    return Target({"i": {"title": "联席会议", "heldOn": "2026-10-08", "decisions": [decision]}})


async def a_session(w: World, dept: Department) -> Target:
    meeting = await _held(w, dept, escalate=True)
    escalation = await mt.Escalation.get(meeting_id=meeting.id)
    recorder = await f.user(_convener_of(w, dept), Role.LIAISON)
    decision = mt.ConferenceDecisionInput(escalation_id=escalation.id, decision="由市场监管部门负责")
    session = await mt.record_joint_conference(
        recorder, title="联席会议", held_on=date(2026, 9, 30), decisions=[decision], now=ISSUED
    )
    return Target({}, gid("JointConferenceSession", session.id))


# --- public submissions -------------------------------------------------------------------


async def _submitted() -> tuple[pub.PublicSubmission, str]:
    data = pub.SubmissionInput(
        kind=pub.SubmissionKind.OPINION, subject="办事难", content="窗口排队时间过长", anonymous=True
    )
    return await pub.submit(data, now=ISSUED)


async def _routed(to: Department, by: Department) -> pub.PublicSubmission:
    row, _ = await _submitted()
    return await pub.route_submission(await officer_of(by), row.id, to.id, now=ISSUED)


async def a_submission_seen(w: World, dept: Department) -> Target:
    """Routed by `dept` (approval side) or to `dept` (supervision side)."""
    if dept.kind is DepartmentKind.APPROVAL:
        row = await _routed(w.spare_supervision, dept)
    else:
        row = await _routed(dept, w.third_approval)
    return Target({}, gid("PublicSubmission", row.id))


async def a_submission_to_answer(w: World, dept: Department) -> Target:
    row = await _routed(dept, w.third_approval)
    return Target({"id": gid("PublicSubmission", row.id)})


async def an_unrouted_submission(w: World, dept: Department) -> Target:
    row, _ = await _submitted()
    return Target({"id": gid("PublicSubmission", row.id), "to": gid("Department", w.spare_supervision.id)})


async def a_receipt(w: World, dept: Department) -> Target:
    row, secret = await _submitted()
    return Target({"t": row.tracking_number, "s": secret})


async def a_new_opinion(w: World, dept: Department) -> Target:
    """A fresh intake window: the fourteen cells share one address."""
    assert w.redis is not None
    await w.redis.delete("public-intake:127.0.0.1")
    return Target({"i": {"kind": "OPINION", "subject": "办事难", "content": "窗口排队时间过长", "anonymous": True}})


# --- the rows -----------------------------------------------------------------------------

WRITERS = "*:deny appr:allow sup:allow liaison:allow leader:allow"
OWN_WRITERS = "*:deny appr/own:allow sup/own:allow liaison/own:allow leader/own:allow"
OWN_HANDLERS = "*:deny appr/own:allow sup/own:allow liaison/own:allow"
SCOPED = "*/own:allow */foreign:empty admin:allow anon:deny"

ROWS: dict[str, Case] = {
    # Query
    "inquiries": Case(f"{{ inquiries(first: 100) {{ {PAGE} }} }}", a_sent_inquiry, SCOPED),
    "meetings": Case(f"{{ meetings(first: 100) {{ {PAGE} }} }}", a_meeting, SCOPED),
    "jointConferenceSessions": Case(f"{{ jointConferenceSessions(first: 100) {{ {PAGE} }} }}", a_session, SCOPED),
    "publicSubmissions": Case(f"{{ publicSubmissions(first: 100) {{ {PAGE} }} }}", a_submission_seen, SCOPED),
    "publicSubmissionStatus": Case("query($t: String!, $s: String!) { publicSubmissionStatus(trackingNumber: $t, secret: $s) { status } }", a_receipt, "*:allow"),
    # Mutation
    "sendInquiry": Case("mutation($i: SendInquiryInput!) { sendInquiry(input: $i) { errors { code } } }", new_inquiry, WRITERS),
    "replyToInquiry": Case('mutation($id: ID!) { replyToInquiry(id: $id, body: "已按标准执行") { errors { code } } }', a_received_inquiry, OWN_WRITERS),
    "closeInquiry": Case("mutation($id: ID!) { closeInquiry(id: $id) { errors { code } } }", a_sent_inquiry, OWN_WRITERS),
    "requestMeeting": Case("mutation($i: RequestMeetingInput!) { requestMeeting(input: $i) { errors { code } } }", new_request, WRITERS),
    "conveneMeeting": Case("mutation($i: ConveneMeetingInput!) { conveneMeeting(input: $i) { errors { code } } }", new_meeting, "*:deny appr:allow"),
    "submitMeetingTopic": Case('mutation($m: ID!) { submitMeetingTopic(meetingId: $m, title: "职责边界", description: "说明") { errors { code } } }', a_collecting_meeting, "*:deny liaison/own:allow"),
    "setMeetingAgenda": Case("mutation($i: SetMeetingAgendaInput!) { setMeetingAgenda(input: $i) { errors { code } } }", an_agenda, "*:deny appr/own:allow"),
    "replyToMeetingInvitation": Case("mutation($id: ID!) { replyToMeetingInvitation(id: $id, attending: true) { errors { code } } }", an_invitation, "*:deny liaison/own:allow"),
    "recordMeetingMinutes": Case("mutation($i: RecordMinutesInput!) { recordMeetingMinutes(input: $i) { errors { code } } }", minutes_of, "*:deny appr/own:allow"),
    "completeActionItem": Case('mutation($id: ID!) { completeActionItem(id: $id, note: "已完成") { errors { code } } }', an_action_item, OWN_HANDLERS),
    "recordJointConference": Case("mutation($i: RecordJointConferenceInput!) { recordJointConference(input: $i) { errors { code } } }", an_escalation, "*:deny"),
    "submitPublicOpinion": Case("mutation($i: SubmitPublicOpinionInput!) { submitPublicOpinion(input: $i) { errors { code } } }", a_new_opinion, "*:allow"),
    "routePublicSubmission": Case("mutation($id: ID!, $to: ID!) { routePublicSubmission(id: $id, departmentId: $to) { errors { code } } }", an_unrouted_submission, "*:deny appr:allow"),
    "replyToPublicSubmission": Case('mutation($id: ID!) { replyToPublicSubmission(id: $id, reply: "已整改") { errors { code } } }', a_submission_to_answer, OWN_HANDLERS),
}  # fmt: skip
