"""Liaison meetings and the joint conference (Art. 17, 28–31) end to end through the schema."""

from __future__ import annotations

from typing import Any

import pytest

from api.graphql.base import to_global_id
from models.event import Event
from models.meeting import ActionItem, Meeting, MeetingTopic
from models.obligation import Obligation
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_inquiries import LiaisonWorld, audience, dep, errors_of, lw, ok

__all__ = ["lw"]
NOW = f.at(2026, 9, 30)  # Wednesday before the National Day week (10-01..10-07)
MEETING = """id kind status title reason heldAt topicCutoff requestedBy { name } convener { name }
  departments { name } topics { id title status agendaPosition carriedOver department { name } }
  invitations { id reply declineReason department { name } deadlines { dueOn status } }
  minutes conclusions actionItems { id task department { name } deadlines { dueOn status } completedAt }
  escalations { id proposedResolution decision topic { title } }"""
REQUEST = f"""mutation($i: RequestMeetingInput!) {{ requestMeeting(input: $i) {{ meeting {{ {MEETING} }}
  errors {{ code field message }} }} }}"""
CONVENE = f"""mutation($i: ConveneMeetingInput!) {{ conveneMeeting(input: $i) {{ meeting {{ {MEETING} }}
  errors {{ code field message }} }} }}"""
TOPIC = """mutation($m: ID!, $t: String!, $d: String!) { submitMeetingTopic(meetingId: $m, title: $t, description: $d) {
  topic { id title status } errors { code field message } } }"""
AGENDA = f"""mutation($i: SetMeetingAgendaInput!) {{ setMeetingAgenda(input: $i) {{ meeting {{ {MEETING} }}
  errors {{ code field message }} }} }}"""
RSVP = """mutation($id: ID!, $a: Boolean!, $r: String) { replyToMeetingInvitation(id: $id, attending: $a, reason: $r) {
  invitation { reply declineReason deadlines { status } } errors { code field message } } }"""
MINUTES = f"""mutation($i: RecordMinutesInput!) {{ recordMeetingMinutes(input: $i) {{ meeting {{ {MEETING} }}
  errors {{ code field message }} }} }}"""
COMPLETE = """mutation($id: ID!, $n: String!) { completeActionItem(id: $id, note: $n) {
  actionItem { completedAt completionNote deadlines { status doneLate } } errors { code field message } } }"""
CONFERENCE = """mutation($i: RecordJointConferenceInput!) { recordJointConference(input: $i) {
  jointConferenceSession { id title heldOn decisions { decision proposedResolution topic { title } } }
  errors { code field message } } }"""
MEETINGS = "query { meetings { totalCount edges { node { title status } } } }"
SESSIONS = "query { jointConferenceSessions { totalCount edges { node { title decisions { decision } } } } }"
NODE = (
    "query($id: ID!) { node(id: $id) { __typename ... on Meeting { title } ... on JointConferenceSession { title } } }"
)


def convene_input(w: LiaisonWorld, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "AD_HOC",
        "title": "食品经营许可衔接专题会",
        "reason": "审管衔接中的认领超期问题",
        "departmentIds": [dep(w.market), dep(w.health)],
        "heldAt": f.at(2026, 10, 8, 9).isoformat(),
        "topicCutoff": f.at(2026, 9, 30, 18).isoformat(),
        **extra,
    }


async def convened(gql: Gql, w: LiaisonWorld, **extra: Any) -> dict[str, Any]:
    return dict((await ok(gql, CONVENE, {"i": convene_input(w, **extra)}, w.approval_liaison, NOW))["meeting"])


async def topic(gql: Gql, meeting_id: str, user: Any, title: str) -> str:
    payload = await ok(gql, TOPIC, {"m": meeting_id, "t": title, "d": "说明"}, user, NOW)
    return str(payload["topic"]["id"])


async def scheduled(gql: Gql, w: LiaisonWorld) -> tuple[dict[str, Any], str, str]:
    meeting = await convened(gql, w)
    first = await topic(gql, meeting["id"], w.market_liaison, "超期认领的处理")
    second = await topic(gql, meeting["id"], w.health_liaison, "职责边界")
    agenda = {"meetingId": meeting["id"], "topicIds": [second, first], "leaderIds": [to_global_id("User", w.leader.id)]}
    return dict((await ok(gql, AGENDA, {"i": agenda}, w.approval_liaison, NOW))["meeting"]), first, second


async def test_a_requested_meeting_is_convened_collects_topics_invites_and_records_minutes(
    gql: Gql, lw: LiaisonWorld
) -> None:
    request = {"kind": "AD_HOC", "title": "认领超期", "reason": "多次超期认领", "departmentIds": [dep(lw.health)]}
    requested = (await ok(gql, REQUEST, {"i": request}, lw.market_liaison, NOW))["meeting"]
    assert (requested["status"], requested["requestedBy"]["name"]) == ("REQUESTED", "市场监督管理局")
    assert await audience("MEETING_REQUESTED") == [sorted([lw.market.id, lw.approval.id])]
    # Any approval department sees an open request; it convenes it.
    assert (await gql(MEETINGS, user=lw.approval_officer))["data"]["meetings"]["totalCount"] == 1
    meeting = await convened(gql, lw, requestId=requested["id"])
    assert (meeting["id"], meeting["status"], meeting["convener"]["name"]) == (
        requested["id"],
        "COLLECTING_TOPICS",
        "行政审批服务局",
    )
    assert await audience("MEETING_CONVENED") == [sorted([lw.approval.id, lw.market.id, lw.health.id])]

    first = await topic(gql, meeting["id"], lw.market_liaison, "超期认领的处理")
    second = await topic(gql, meeting["id"], lw.health_liaison, "职责边界")
    assert await audience("MEETING_TOPIC_SUBMITTED") == [
        sorted([lw.approval.id, lw.market.id]),
        sorted([lw.approval.id, lw.health.id]),
    ]
    agenda = {
        "meetingId": meeting["id"],
        "topicIds": [second, first],
        "leaderIds": [to_global_id("User", lw.leader.id)],
    }
    meeting = (await ok(gql, AGENDA, {"i": agenda}, lw.approval_liaison, NOW))["meeting"]
    assert meeting["status"] == "SCHEDULED"
    assert [(t["title"], t["agendaPosition"]) for t in meeting["topics"]] == [("职责边界", 1), ("超期认领的处理", 2)]
    # The liaison officers of the three departments and the invited leader; one working day to reply,
    # counted across the holiday: 2026-10-08.
    invitations = meeting["invitations"]
    assert sorted(i["department"]["name"] for i in invitations) == sorted(
        ["行政审批服务局", "行政审批服务局", "市场监督管理局", "卫生健康委员会"]
    )
    assert {d["dueOn"] for i in invitations for d in i["deadlines"]} == {"2026-10-08"}
    assert sorted(await audience("MEETING_INVITED")) == sorted(
        [[lw.approval.id], [lw.approval.id], [lw.market.id], [lw.health.id]]
    )

    mine = {i["department"]["name"]: i["id"] for i in invitations}
    accepted = (await ok(gql, RSVP, {"id": mine["市场监督管理局"], "a": True}, lw.market_liaison, NOW))["invitation"]
    assert (accepted["reply"], accepted["deadlines"]) == ("ATTENDING", [{"status": "DONE"}])
    health = mine["卫生健康委员会"]
    assert await errors_of(gql, RSVP, {"id": health, "a": False}, lw.health_liaison, NOW) == [("reason", "REQUIRED")]
    assert await errors_of(gql, RSVP, {"id": health, "a": True}, lw.market_liaison, NOW) == [
        ("id", "INVITATION_NOT_FOUND")
    ]
    declined = (await ok(gql, RSVP, {"id": health, "a": False, "r": "同日有检查任务"}, lw.health_liaison, NOW))[
        "invitation"
    ]
    assert (declined["reply"], declined["declineReason"]) == ("DECLINED", "同日有检查任务")

    held = f.at(2026, 10, 8, 16)
    minutes = {
        "meetingId": meeting["id"],
        "minutes": "会议讨论了两项议题。",
        "conclusions": ["超期认领按月通报"],
        "agreedTopicIds": [first],
        "actionItems": [{"departmentId": dep(lw.market), "task": "整理超期清单", "workingDays": 3}],
        "unresolved": [{"topicId": second, "disposition": "ESCALATE", "proposedResolution": "由联席会议明确职责"}],
    }
    meeting = (await ok(gql, MINUTES, {"i": minutes}, lw.approval_liaison, held))["meeting"]
    assert (meeting["status"], meeting["conclusions"]) == ("HELD", ["超期认领按月通报"])
    assert {t["title"]: t["status"] for t in meeting["topics"]} == {"职责边界": "ESCALATED", "超期认领的处理": "AGREED"}
    [item] = meeting["actionItems"]
    assert item["deadlines"] == [{"dueOn": "2026-10-12", "status": "OPEN"}]  # 10-09, 10-10 (make-up), 10-12
    assert await audience("ACTION_ITEM_ASSIGNED") == [sorted([lw.approval.id, lw.market.id])]
    # Invitations nobody answered fall away with the meeting held.
    unanswered = await Obligation.filter(kind="MEETING_REPLY", status="CANCELLED").count()
    assert unanswered == 2

    done = (await ok(gql, COMPLETE, {"id": item["id"], "n": "清单已报送"}, lw.market_officer, f.at(2026, 10, 13)))[
        "actionItem"
    ]
    assert done["deadlines"] == [{"status": "DONE", "doneLate": True}]
    assert await audience("ACTION_ITEM_COMPLETED") == [sorted([lw.approval.id, lw.market.id])]

    [escalation] = meeting["escalations"]
    decision = {"escalationId": escalation["id"], "decision": "由市场监管局牵头"}
    session_input = {"title": "2026年第三次联席会议", "heldOn": "2026-10-14", "decisions": [decision]}
    session = (await ok(gql, CONFERENCE, {"i": session_input}, lw.leader, f.at(2026, 10, 14, 17)))[
        "jointConferenceSession"
    ]
    assert session["decisions"] == [
        {"decision": "由市场监管局牵头", "proposedResolution": "由联席会议明确职责", "topic": {"title": "职责边界"}}
    ]
    assert await audience("JOINT_CONFERENCE_DECIDED") == [sorted([lw.approval.id, lw.market.id, lw.health.id])]
    again = await errors_of(gql, CONFERENCE, {"i": session_input}, lw.leader, f.at(2026, 10, 14, 17))
    assert again == [("decisions.0.escalationId", "ALREADY_DECIDED")]

    # Scoping: the uninvolved department sees neither the meeting nor the session.
    for query in (MEETINGS, SESSIONS):
        data = (await gql(query, user=lw.other_liaison))["data"]
        assert next(iter(data.values()))["totalCount"] == 0
    assert (await gql(NODE, {"id": session["id"]}, user=lw.other_liaison))["data"]["node"] is None
    assert (await gql(NODE, {"id": meeting["id"]}, user=lw.other_liaison))["data"]["node"] is None
    assert (await gql(SESSIONS, user=lw.health_liaison))["data"]["jointConferenceSessions"]["totalCount"] == 1
    assert (await gql(NODE, {"id": session["id"]}, user=lw.health_liaison))["data"]["node"]["title"] == session["title"]


async def test_notice_rules_emergency_same_day_and_others_one_working_day(gql: Gql, lw: LiaisonWorld) -> None:
    tomorrow = f.at(2026, 10, 1, 9).isoformat()  # a holiday: the first working day after 09-30 is 10-08
    errors = await errors_of(gql, CONVENE, {"i": convene_input(lw, heldAt=tomorrow)}, lw.approval_liaison, NOW)
    assert errors == [("heldAt", "NOTICE_TOO_SHORT")]
    same_day = f.at(2026, 9, 30, 15).isoformat()
    emergency = await convened(
        gql, lw, kind="EMERGENCY", heldAt=same_day, topicCutoff=f.at(2026, 9, 30, 12).isoformat()
    )
    assert (emergency["kind"], emergency["status"]) == ("EMERGENCY", "COLLECTING_TOPICS")
    past = f.at(2026, 9, 30, 8).isoformat()
    assert await errors_of(
        gql,
        CONVENE,
        {"i": convene_input(lw, kind="EMERGENCY", heldAt=past, topicCutoff=None)},
        lw.approval_liaison,
        NOW,
    ) == [("heldAt", "IN_THE_PAST")]


@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        ({"kind": "REGULAR"}, "kind", "REGULAR_IS_SCHEDULED"),
        ({"title": ""}, "title", "REQUIRED"),
        ({"reason": "理" * 2001}, "reason", "TOO_LONG"),
        ({"departmentIds": []}, "departmentIds", "REQUIRED"),
        ({"departmentIds": [to_global_id("Department", 99999)]}, "departmentIds", "DEPARTMENT_NOT_FOUND"),
        ({"topicCutoff": f.at(2026, 10, 9).isoformat()}, "topicCutoff", "INVALID_CUTOFF"),
        ({"requestId": to_global_id("Meeting", 99999)}, "requestId", "REQUEST_NOT_FOUND"),
    ],
)
async def test_convening_bad_input_per_field_writes_nothing(
    gql: Gql, lw: LiaisonWorld, extra: dict[str, Any], field: str, code: str
) -> None:
    assert await errors_of(gql, CONVENE, {"i": convene_input(lw, **extra)}, lw.approval_liaison, NOW) == [(field, code)]
    assert await Meeting.all().count() == 0
    assert await Event.all().count() == 0


async def test_only_the_approval_side_convenes_and_only_liaison_officers_submit_topics(
    gql: Gql, lw: LiaisonWorld
) -> None:
    assert await errors_of(gql, CONVENE, {"i": convene_input(lw)}, lw.market_liaison, NOW) == [(None, "FORBIDDEN")]
    anonymous = await gql(CONVENE, {"i": convene_input(lw)}, user=None, now=NOW)
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    meeting = await convened(gql, lw)
    variables = {"m": meeting["id"], "t": "议题", "d": "说明"}
    assert await errors_of(gql, TOPIC, variables, lw.market_officer, NOW) == [("meetingId", "FORBIDDEN")]
    assert await errors_of(gql, TOPIC, variables, lw.other_liaison, NOW) == [("meetingId", "MEETING_NOT_FOUND")]
    assert await errors_of(gql, TOPIC, {**variables, "t": ""}, lw.market_liaison, NOW) == [("title", "REQUIRED")]
    late = f.at(2026, 9, 30, 18, 1)
    assert await errors_of(gql, TOPIC, variables, lw.market_liaison, late) == [("meetingId", "TOPIC_COLLECTION_CLOSED")]
    assert await MeetingTopic.all().count() == 0


async def test_minutes_bad_input_per_field(gql: Gql, lw: LiaisonWorld) -> None:
    meeting, first, second = await scheduled(gql, lw)
    base = {"meetingId": meeting["id"], "minutes": "纪要", "agreedTopicIds": [first, second]}
    cases = [
        ({"minutes": ""}, "minutes", "REQUIRED"),
        ({"conclusions": [""]}, "conclusions.0", "REQUIRED"),
        (
            {"actionItems": [{"departmentId": dep(lw.other), "task": "x"}]},
            "actionItems.0.departmentId",
            "DEPARTMENT_NOT_FOUND",
        ),
        ({"actionItems": [{"departmentId": dep(lw.market), "task": ""}]}, "actionItems.0.task", "REQUIRED"),
        (
            {"actionItems": [{"departmentId": dep(lw.market), "task": "x", "workingDays": 0}]},
            "actionItems.0.workingDays",
            "INVALID_TERM",
        ),
        ({"agreedTopicIds": [first]}, "agreedTopicIds", "TOPIC_UNDECIDED"),
        (
            {"agreedTopicIds": [first], "unresolved": [{"topicId": second, "disposition": "ESCALATE"}]},
            "unresolved.0.proposedResolution",
            "REQUIRED",
        ),
    ]
    for extra, field, code in cases:
        errors = await errors_of(gql, MINUTES, {"i": {**base, **extra}}, lw.approval_liaison, NOW)
        assert errors == [(field, code)], extra
    assert await errors_of(gql, MINUTES, {"i": base}, lw.market_liaison, NOW) == [("meetingId", "FORBIDDEN")]
    assert await ActionItem.all().count() == 0
    assert (await Meeting.get()).status == "SCHEDULED"


async def test_a_topic_carried_over_appears_on_the_next_meeting_once(gql: Gql, lw: LiaisonWorld) -> None:
    meeting, first, second = await scheduled(gql, lw)
    minutes = {
        "meetingId": meeting["id"],
        "minutes": "纪要",
        "agreedTopicIds": [first],
        "unresolved": [{"topicId": second, "disposition": "CARRY_OVER"}],
    }
    await ok(gql, MINUTES, {"i": minutes}, lw.approval_liaison, NOW)
    later = {"heldAt": f.at(2026, 10, 20, 9).isoformat(), "topicCutoff": f.at(2026, 10, 16, 18).isoformat()}
    nxt = await convened(gql, lw, **later)
    assert [(t["title"], t["carriedOver"], t["department"]["name"]) for t in nxt["topics"]] == [
        ("职责边界", True, "卫生健康委员会")
    ]
    third = await convened(gql, lw, **later)
    assert third["topics"] == []


async def test_the_regular_meeting_collects_topics_and_needs_a_time_when_the_agenda_is_set(
    gql: Gql, lw: LiaisonWorld
) -> None:
    from tortoise.transactions import in_transaction

    from models.meeting import open_regular_meetings

    opened = f.at(2026, 10, 8, 0, 5)
    async with in_transaction():
        [regular] = await open_regular_meetings(opened)
    meeting_id = to_global_id("Meeting", regular.id)
    assert (await gql(NODE, {"id": meeting_id}, user=lw.other_liaison))["data"]["node"] == {
        "__typename": "Meeting",
        "title": "2026年10月审管联动例会",
    }  # every city supervision department is concerned
    first = await ok(
        gql, TOPIC, {"m": meeting_id, "t": "月度通报", "d": "说明"}, lw.market_liaison, f.at(2026, 10, 8, 9)
    )
    agenda = {"meetingId": meeting_id, "topicIds": [first["topic"]["id"]]}
    assert await errors_of(gql, AGENDA, {"i": agenda}, lw.approval_liaison, f.at(2026, 10, 8, 10)) == [
        ("heldAt", "REQUIRED")
    ]
    too_soon = {**agenda, "heldAt": f.at(2026, 10, 8, 15).isoformat()}
    assert await errors_of(gql, AGENDA, {"i": too_soon}, lw.approval_liaison, f.at(2026, 10, 8, 10)) == [
        ("heldAt", "NOTICE_TOO_SHORT")
    ]
    bad_topic = {
        **agenda,
        "topicIds": [to_global_id("MeetingTopic", 99999)],
        "heldAt": f.at(2026, 10, 9, 9).isoformat(),
    }
    assert await errors_of(gql, AGENDA, {"i": bad_topic}, lw.approval_liaison, f.at(2026, 10, 8, 10)) == [
        ("topicIds.0", "TOPIC_NOT_FOUND")
    ]
    ready = {**agenda, "heldAt": f.at(2026, 10, 9, 9).isoformat()}
    meeting = (await ok(gql, AGENDA, {"i": ready}, lw.approval_liaison, f.at(2026, 10, 8, 10)))["meeting"]
    assert (meeting["kind"], meeting["status"]) == ("REGULAR", "SCHEDULED")
    # Every liaison officer of the city's departments is invited.
    assert len(meeting["invitations"]) == 4
