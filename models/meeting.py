"""Liaison meetings (例会, Art. 28–31) and the joint conference (联席会议, Art. 17).

Either side may request a meeting; the approval department convenes it. Liaison officers submit
topics until a cut-off, the convener sets the agenda from them and invites the liaison officers of
the departments concerned (and any leaders), who each confirm or decline with a reason. The
minutes record conclusions and action items with working-day due dates. A topic not agreed is
carried to the next meeting or escalated to the joint conference, whose decisions go back to the
departments concerned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.account import Department, LiaisonAppointment, User, check_length
from models.calendar import SHANGHAI, current_calendar, deadline_at, local_date
from models.enums import AdminLevel, DepartmentKind, Role
from models.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound, raise_all
from models.event import EventKind, record_event
from models.files import attach_evidence
from models.obligation import close_obligations, obligation_kind, open_obligation
from models.workdays import WorkCalendar

MEETING_REPLY = obligation_kind("MEETING_REPLY", "参会回执", 1)
ACTION_ITEM = obligation_kind("ACTION_ITEM", "会议议定事项办理", 10)
CONVENER_ROLES = (Role.LIAISON, Role.OFFICER, Role.LEADER)
TEXT_MAX = 2000
TITLE_MAX = 200
TOPIC_COLLECTION_DAYS = 5  # a regular meeting collects topics until the end of its 5th working day


class MeetingKind(StrEnum):
    REGULAR = "REGULAR"
    AD_HOC = "AD_HOC"
    EMERGENCY = "EMERGENCY"


class MeetingStatus(StrEnum):
    REQUESTED = "REQUESTED"
    COLLECTING_TOPICS = "COLLECTING_TOPICS"
    SCHEDULED = "SCHEDULED"
    HELD = "HELD"


class TopicStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    ON_AGENDA = "ON_AGENDA"
    AGREED = "AGREED"
    CARRIED_OVER = "CARRIED_OVER"
    ESCALATED = "ESCALATED"


class UnresolvedDisposition(StrEnum):
    CARRY_OVER = "CARRY_OVER"
    ESCALATE = "ESCALATE"


class AttendanceReply(StrEnum):
    PENDING = "PENDING"
    ATTENDING = "ATTENDING"
    DECLINED = "DECLINED"


class Meeting(Model):
    """A liaison meeting, from request or convening to its minutes. Never deleted."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(MeetingKind, max_length=16)
    status = fields.CharEnumField(MeetingStatus, max_length=24)
    title = fields.CharField(max_length=TITLE_MAX)
    reason = fields.TextField()
    requested_by_department_id = fields.IntField(null=True)
    convener_department_id = fields.IntField(null=True)
    period = fields.CharField(max_length=7, null=True)  # "2026-10" for the regular meeting of a month
    held_at = fields.DatetimeField(null=True)
    topic_cutoff = fields.DatetimeField(null=True)
    minutes = fields.TextField(null=True)
    conclusions: list[str] = fields.JSONField(default=list)
    created_at = fields.DatetimeField()
    convened_at = fields.DatetimeField(null=True)
    minutes_at = fields.DatetimeField(null=True)

    class Meta:
        table = "meeting"
        unique_together = (("convener_department_id", "period"),)


class MeetingParticipant(Model):
    """A department concerned by a meeting: it sees the meeting and may submit topics."""

    id = fields.BigIntField(primary_key=True)
    meeting: fields.ForeignKeyRelation[Meeting] = fields.ForeignKeyField(
        "shenguan.Meeting", related_name="participants", on_delete=fields.RESTRICT
    )
    meeting_id: int
    department_id = fields.IntField()

    class Meta:
        table = "meeting_participant"
        unique_together = (("meeting_id", "department_id"),)
        indexes = (("department_id", "meeting_id"),)


class MeetingTopic(Model):
    """A topic a liaison officer proposed, possibly carried over from an earlier meeting."""

    id = fields.BigIntField(primary_key=True)
    meeting: fields.ForeignKeyRelation[Meeting] = fields.ForeignKeyField(
        "shenguan.Meeting", related_name="topics", on_delete=fields.RESTRICT
    )
    meeting_id: int
    department_id = fields.IntField()
    submitted_by_id = fields.IntField(null=True)
    title = fields.CharField(max_length=TITLE_MAX)
    description = fields.TextField()
    status = fields.CharEnumField(TopicStatus, max_length=16, default=TopicStatus.SUBMITTED)
    agenda_position = fields.IntField(null=True)
    carried_from_id = fields.BigIntField(null=True, unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "meeting_topic"


class MeetingInvitation(Model):
    """One person invited to a meeting and their reply (declining needs a reason)."""

    id = fields.BigIntField(primary_key=True)
    meeting: fields.ForeignKeyRelation[Meeting] = fields.ForeignKeyField(
        "shenguan.Meeting", related_name="invitations", on_delete=fields.RESTRICT
    )
    meeting_id: int
    user_id = fields.IntField()
    department_id = fields.IntField()
    reply = fields.CharEnumField(AttendanceReply, max_length=16, default=AttendanceReply.PENDING)
    decline_reason = fields.TextField(null=True)
    replied_at = fields.DatetimeField(null=True)

    class Meta:
        table = "meeting_invitation"
        unique_together = (("meeting_id", "user_id"),)


class ActionItem(Model):
    """An agreed task from the minutes, assigned to a department with a working-day due date."""

    id = fields.BigIntField(primary_key=True)
    meeting: fields.ForeignKeyRelation[Meeting] = fields.ForeignKeyField(
        "shenguan.Meeting", related_name="action_items", on_delete=fields.RESTRICT
    )
    meeting_id: int
    department_id = fields.IntField()
    task = fields.TextField()
    working_days = fields.IntField()
    completed_at = fields.DatetimeField(null=True)
    completed_by_id = fields.IntField(null=True)
    completion_note = fields.TextField(null=True)

    class Meta:
        table = "meeting_action_item"


class JointConferenceSession(Model):
    """A session of the joint conference deciding escalated topics."""

    id = fields.BigIntField(primary_key=True)
    convener_department_id = fields.IntField()
    title = fields.CharField(max_length=TITLE_MAX)
    held_on = fields.DateField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "joint_conference_session"


class Escalation(Model):
    """A topic a meeting could not agree on, sent to the joint conference with a proposed resolution."""

    id = fields.BigIntField(primary_key=True)
    topic_id = fields.BigIntField(unique=True)
    meeting_id = fields.BigIntField()
    proposed_resolution = fields.TextField()
    session_id = fields.BigIntField(null=True)
    decision = fields.TextField(null=True)
    decided_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "meeting_escalation"


# --- Visibility ---


def _meetings_of(department_id: int) -> Subquery:
    return Subquery(MeetingParticipant.filter(department_id=department_id).values_list("meeting_id", flat=True))


async def visible_meetings(viewer: User) -> QuerySet[Meeting]:
    """Departments concerned, the convener, the requester, and approval departments for open requests."""
    if viewer.is_admin:
        return Meeting.all()
    d = viewer.department_id
    seen = Q(convener_department_id=d) | Q(requested_by_department_id=d) | Q(id__in=_meetings_of(d))
    if await _is_approval(viewer):
        seen |= Q(status=MeetingStatus.REQUESTED)
    return Meeting.filter(seen)


async def can_see_meeting(viewer: User, meeting: Meeting) -> bool:
    d = viewer.department_id
    if viewer.is_admin or d in (meeting.convener_department_id, meeting.requested_by_department_id):
        return True
    if meeting.status is MeetingStatus.REQUESTED and await _is_approval(viewer):
        return True
    return await MeetingParticipant.filter(meeting_id=meeting.id, department_id=d).exists()


def visible_sessions(viewer: User) -> QuerySet[JointConferenceSession]:
    """The convener and the departments of the meetings whose topics a session decided."""
    if viewer.is_admin:
        return JointConferenceSession.all()
    d = viewer.department_id
    decided = Escalation.filter(meeting_id__in=_meetings_of(d), session_id__not_isnull=True).values_list(
        "session_id", flat=True
    )
    return JointConferenceSession.filter(Q(convener_department_id=d) | Q(id__in=Subquery(decided)))


async def can_see_session(viewer: User, session: JointConferenceSession) -> bool:
    return await visible_sessions(viewer).filter(id=session.id).exists()


async def participant_ids(meeting_id: int) -> list[int]:
    rows = await MeetingParticipant.filter(meeting_id=meeting_id).order_by("department_id")
    return [r.department_id for r in rows]


async def _audience(meeting: Meeting) -> list[int]:
    extra = [d for d in (meeting.convener_department_id, meeting.requested_by_department_id) if d is not None]
    return sorted({*await participant_ids(meeting.id), *extra})


async def _is_approval(user: User) -> bool:
    return await Department.filter(id=user.department_id, kind=DepartmentKind.APPROVAL).exists()


# --- Input checks ---


def _text(value: str, field: str, limit: int, errors: list[DomainError], *, required: bool = True) -> str:
    try:
        return check_length(value, field, limit, required=required)
    except DomainError as error:
        errors.append(error)
        return value


async def _check_departments(ids: list[int], field: str, errors: list[DomainError]) -> list[int]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        errors.append(InvalidInput("至少选择一个相关部门", field=field, code="REQUIRED"))
    elif len(unique) > 100:
        errors.append(InvalidInput("相关部门不能超过100个", field=field, code="TOO_MANY"))
    elif await Department.filter(id__in=unique).count() != len(unique):
        errors.append(NotFound("部门不存在", field=field, code="DEPARTMENT_NOT_FOUND"))
    return unique


async def check_notice(kind: MeetingKind, held_at: datetime, now: datetime, field: str = "heldAt") -> None:
    """Emergency meetings may be held at once; the others need at least one working day's notice."""
    if held_at < now:
        raise InvalidInput("会议时间不能早于当前时间", field=field, code="IN_THE_PAST")
    if kind is MeetingKind.EMERGENCY:
        return
    earliest = (await current_calendar()).add_working_days(local_date(now), 1)
    if local_date(held_at) < earliest:
        raise InvalidInput(
            f"非紧急会议须至少提前1个工作日通知，最早可安排在{earliest.isoformat()}",
            field=field,
            code="NOTICE_TOO_SHORT",
        )


# --- Requesting and convening ---


async def request_meeting(
    actor: User, *, kind: MeetingKind, title: str, reason: str, department_ids: list[int], now: datetime
) -> Meeting:
    """Art. 29: either side asks the approval department to convene a meeting, with a reason."""
    if not actor.has_role(*CONVENER_ROLES):
        raise Forbidden("只有联络员、经办人或领导可以提请召开会议", field=None)
    errors: list[DomainError] = []
    if kind is MeetingKind.REGULAR:
        errors.append(InvalidInput("例会由系统每月自动召集，不能提请", field="kind", code="REGULAR_NOT_REQUESTABLE"))
    title = _text(title, "title", TITLE_MAX, errors)
    reason = _text(reason, "reason", TEXT_MAX, errors)
    departments = await _check_departments(department_ids, "departmentIds", errors)
    raise_all(errors)
    meeting = await Meeting.create(
        kind=kind,
        status=MeetingStatus.REQUESTED,
        title=title,
        reason=reason,
        requested_by_department_id=actor.department_id,
        created_at=now,
    )
    for department_id in sorted({*departments, actor.department_id}):
        await MeetingParticipant.create(meeting_id=meeting.id, department_id=department_id)
    approval = await Department.filter(kind=DepartmentKind.APPROVAL).values_list("id", flat=True)
    await record_event(
        EventKind.MEETING_REQUESTED,
        subject_type="Meeting",
        subject_id=meeting.id,
        departments=[actor.department_id, *(int(a) for a in approval)],  # type: ignore[call-overload]
        payload={"meetingId": meeting.id, "meetingKind": kind.value},
    )
    return meeting


@dataclass(frozen=True)
class ConveneInput:
    kind: MeetingKind
    title: str
    reason: str
    department_ids: list[int]
    held_at: datetime | None = None
    topic_cutoff: datetime | None = None
    request_id: int | None = None


async def _carry_over_into(meeting: Meeting, now: datetime) -> int:
    """Topics an earlier meeting of this convener carried over become topics of this one (once each)."""
    carried = await MeetingTopic.filter(
        status=TopicStatus.CARRIED_OVER,
        meeting_id__in=Subquery(
            Meeting.filter(convener_department_id=meeting.convener_department_id, id__lt=meeting.id).values_list(
                "id", flat=True
            )
        ),
    ).order_by("id")
    taken = set(
        await MeetingTopic.filter(carried_from_id__in=[t.id for t in carried]).values_list("carried_from_id", flat=True)
    )
    count = 0
    for topic in carried:
        if topic.id in taken:
            continue
        await MeetingTopic.create(
            meeting_id=meeting.id,
            department_id=topic.department_id,
            submitted_by_id=topic.submitted_by_id,
            title=topic.title,
            description=topic.description,
            carried_from_id=topic.id,
            created_at=now,
        )
        count += 1
    return count


async def _open_topic_collection(meeting: Meeting, departments: list[int], now: datetime) -> None:
    for department_id in departments:
        await MeetingParticipant.get_or_create(meeting_id=meeting.id, department_id=department_id)
    carried = await _carry_over_into(meeting, now)
    await record_event(
        EventKind.MEETING_CONVENED,
        subject_type="Meeting",
        subject_id=meeting.id,
        departments=await _audience(meeting),
        payload={
            "meetingId": meeting.id,
            "meetingKind": meeting.kind.value,
            "topicCutoff": meeting.topic_cutoff.isoformat() if meeting.topic_cutoff else None,
            "carriedOver": carried,
        },
    )


async def convene_meeting(actor: User, data: ConveneInput, *, now: datetime) -> Meeting:
    """Art. 29–30: the approval department convenes a meeting (from a request or on its own)."""
    if not actor.has_role(*CONVENER_ROLES) or not await _is_approval(actor):
        raise Forbidden("只有审批部门的联络员、经办人或领导可以召集会议", field=None)
    errors: list[DomainError] = []
    if data.kind is MeetingKind.REGULAR:
        errors.append(InvalidInput("例会由系统每月自动召集", field="kind", code="REGULAR_IS_SCHEDULED"))
    title = _text(data.title, "title", TITLE_MAX, errors)
    reason = _text(data.reason, "reason", TEXT_MAX, errors)
    departments = await _check_departments(data.department_ids, "departmentIds", errors)
    if data.held_at is not None:
        try:
            await check_notice(data.kind, data.held_at, now)
        except DomainError as error:
            errors.append(error)
    cutoff = data.topic_cutoff or data.held_at
    given = data.topic_cutoff
    if given is not None and (given < now or (data.held_at is not None and given > data.held_at)):
        errors.append(
            InvalidInput("议题征集截止时间须在当前时间与会议时间之间", field="topicCutoff", code="INVALID_CUTOFF")
        )
    request = None
    if data.request_id is not None:
        request = await Meeting.filter(id=data.request_id).select_for_update().first()
        if request is None or request.status is not MeetingStatus.REQUESTED:
            errors.append(NotFound("待召集的会议申请不存在", field="requestId", code="REQUEST_NOT_FOUND"))
    raise_all(errors)
    fields_: dict[str, Any] = {
        "kind": data.kind,
        "status": MeetingStatus.COLLECTING_TOPICS,
        "title": title,
        "reason": reason,
        "convener_department_id": actor.department_id,
        "held_at": data.held_at,
        "topic_cutoff": cutoff,
        "convened_at": now,
    }
    if request is not None:
        if not await Meeting.filter(id=request.id, status=MeetingStatus.REQUESTED).update(**fields_):
            raise InvalidTransition("该申请已被召集", field="requestId", code="ALREADY_CONVENED")
        meeting = await Meeting.get(id=request.id)
    else:
        meeting = await Meeting.create(created_at=now, **fields_)
    await _open_topic_collection(meeting, sorted({*departments, actor.department_id}), now)
    return meeting


def first_workday_of_month(year: int, month: int, calendar: WorkCalendar) -> date:
    first = date(year, month, 1)
    return first if calendar.is_workday(first) else calendar.add_working_days(first, 1)


async def open_regular_meetings(now: datetime) -> list[Meeting]:
    """The monthly regular meeting of each approval department, from the month's first working day.

    Idempotent: one meeting per convener and month (a unique key); running again, or on a later day
    of the month, creates nothing more. The supervision departments of the same level (and county)
    are concerned; topic collection is open until the end of the 5th working day.
    """
    calendar = await current_calendar()
    today = local_date(now)
    first = first_workday_of_month(today.year, today.month, calendar)
    if today < first:
        return []
    period = f"{today.year:04d}-{today.month:02d}"
    cutoff = deadline_at(calendar.add_working_days(first, TOPIC_COLLECTION_DAYS))
    created = []
    for convener in await Department.filter(kind=DepartmentKind.APPROVAL).order_by("id"):
        if await Meeting.filter(convener_department_id=convener.id, period=period).exists():
            continue
        concerned = Department.filter(kind=DepartmentKind.SUPERVISION, level=convener.level)
        if convener.level is AdminLevel.COUNTY:
            concerned = concerned.filter(region_code=convener.region_code)
        # A concurrent worker creating the same month's meeting fails on the unique key and is retried.
        meeting = await Meeting.create(
            kind=MeetingKind.REGULAR,
            status=MeetingStatus.COLLECTING_TOPICS,
            title=f"{today.year}年{today.month}月审管联动例会",
            reason="每月例会",
            convener_department_id=convener.id,
            period=period,
            topic_cutoff=cutoff,
            created_at=now,
            convened_at=now,
        )
        ids = [int(i) for i in await concerned.order_by("id").values_list("id", flat=True)]  # type: ignore[call-overload]
        await _open_topic_collection(meeting, sorted({*ids, convener.id}), now)
        created.append(meeting)
    return created


# --- Topics and agenda ---


async def _meeting_for(actor: User, meeting_id: int, *, lock: bool = False) -> Meeting:
    query = Meeting.filter(id=meeting_id)
    meeting = await (query.select_for_update() if lock else query).first()
    if meeting is None or not await can_see_meeting(actor, meeting):
        raise NotFound("会议不存在", field="meetingId", code="MEETING_NOT_FOUND")
    return meeting


def _require_convener(actor: User, meeting: Meeting) -> None:
    if actor.department_id != meeting.convener_department_id or not actor.has_role(*CONVENER_ROLES):
        raise Forbidden("只有召集部门的联络员、经办人或领导可以操作", field="meetingId")


async def submit_topic(actor: User, meeting_id: int, *, title: str, description: str, now: datetime) -> MeetingTopic:
    """Art. 30: a liaison officer of a department concerned proposes a topic before the cut-off."""
    meeting = await _meeting_for(actor, meeting_id)
    if not actor.has_role(Role.LIAISON):
        raise Forbidden("只有联络员可以提交议题", field="meetingId")
    d = actor.department_id
    if d != meeting.convener_department_id and d not in await participant_ids(meeting.id):
        raise Forbidden("本部门不是该会议的相关部门", field="meetingId")
    if meeting.status is not MeetingStatus.COLLECTING_TOPICS or (
        meeting.topic_cutoff is not None and now > meeting.topic_cutoff
    ):
        raise InvalidTransition("议题征集已截止", field="meetingId", code="TOPIC_COLLECTION_CLOSED")
    errors: list[DomainError] = []
    title = _text(title, "title", TITLE_MAX, errors)
    description = _text(description, "description", TEXT_MAX, errors)
    raise_all(errors)
    topic = await MeetingTopic.create(
        meeting_id=meeting.id,
        department_id=d,
        submitted_by_id=actor.id,
        title=title,
        description=description,
        created_at=now,
    )
    await record_event(
        EventKind.MEETING_TOPIC_SUBMITTED,
        subject_type="Meeting",
        subject_id=meeting.id,
        departments=[d, *([meeting.convener_department_id] if meeting.convener_department_id else [])],
        payload={"meetingId": meeting.id, "topicId": topic.id},
    )
    return topic


async def _invitees(meeting: Meeting, leader_ids: list[int], errors: list[DomainError]) -> list[User]:
    """The liaison officers (current terms, or holders of the role) of every department concerned, and leaders."""
    departments = await participant_ids(meeting.id)
    appointed = await LiaisonAppointment.filter(department_id__in=departments, ended_at=None).values_list(
        "user_id", flat=True
    )
    users = {u.id: u for u in await User.filter(id__in=list(appointed), is_active=True)}
    for user in await User.filter(department_id__in=departments, is_active=True):
        if user.has_role(Role.LIAISON):
            users[user.id] = user
    leaders = await User.filter(id__in=list(dict.fromkeys(leader_ids)), is_active=True) if leader_ids else []
    if len(leaders) != len(set(leader_ids)) or any(not u.has_role(Role.LEADER) for u in leaders):
        errors.append(NotFound("受邀领导不存在", field="leaderIds", code="LEADER_NOT_FOUND"))
    for leader in leaders:
        users[leader.id] = leader
    return [users[k] for k in sorted(users)]


async def set_agenda(
    actor: User,
    meeting_id: int,
    *,
    topic_ids: list[int],
    now: datetime,
    held_at: datetime | None = None,
    leader_ids: list[int] | None = None,
) -> Meeting:
    """Art. 30: the convener fixes the agenda from the submitted topics and sends the invitations."""
    meeting = await _meeting_for(actor, meeting_id, lock=True)
    _require_convener(actor, meeting)
    if meeting.status is not MeetingStatus.COLLECTING_TOPICS:
        raise InvalidTransition("会议议程已确定", field="meetingId", code="AGENDA_ALREADY_SET")
    errors: list[DomainError] = []
    when = held_at or meeting.held_at
    if when is None:
        errors.append(InvalidInput("请确定会议时间", field="heldAt", code="REQUIRED"))
    else:
        try:
            await check_notice(meeting.kind, when, now)
        except DomainError as error:
            errors.append(error)
    ids = list(dict.fromkeys(topic_ids))
    topics = {t.id: t for t in await MeetingTopic.filter(meeting_id=meeting.id, id__in=ids)}
    if not ids:
        errors.append(InvalidInput("议程至少包含一个议题", field="topicIds", code="REQUIRED"))
    for i, pk in enumerate(ids):
        if pk not in topics:
            errors.append(NotFound("议题不属于该会议", field=f"topicIds.{i}", code="TOPIC_NOT_FOUND"))
    invitees = await _invitees(meeting, leader_ids or [], errors)
    raise_all(errors)
    assert when is not None
    for position, pk in enumerate(ids, start=1):
        await MeetingTopic.filter(id=pk).update(status=TopicStatus.ON_AGENDA, agenda_position=position)
    await Meeting.filter(id=meeting.id).update(status=MeetingStatus.SCHEDULED, held_at=when)
    meeting.status, meeting.held_at = MeetingStatus.SCHEDULED, when
    for user in invitees:
        invitation = await MeetingInvitation.create(
            meeting_id=meeting.id, user_id=user.id, department_id=user.department_id
        )
        obligation = await open_obligation(
            MEETING_REPLY.kind,
            subject_type="MeetingInvitation",
            subject_id=invitation.id,
            department_id=user.department_id,
            watchers=[actor.department_id],
            start=now,
        )
        await record_event(
            EventKind.MEETING_INVITED,
            subject_type="MeetingInvitation",
            subject_id=invitation.id,
            departments=[user.department_id],
            payload={"meetingId": meeting.id, "userId": user.id, "heldAt": when.isoformat(), **obligation.payload()},
        )
    await record_event(
        EventKind.MEETING_AGENDA_SET,
        subject_type="Meeting",
        subject_id=meeting.id,
        departments=await _audience(meeting),
        payload={"meetingId": meeting.id, "heldAt": when.isoformat(), "topics": len(ids)},
    )
    return meeting


async def reply_to_invitation(
    actor: User, invitation_id: int, *, attending: bool, reason: str | None, now: datetime
) -> MeetingInvitation:
    """Art. 30: the invited person confirms attendance; declining needs a reason, which is recorded."""
    invitation = await MeetingInvitation.get_or_none(id=invitation_id)
    if invitation is None or invitation.user_id != actor.id:
        raise NotFound("会议邀请不存在", field="id", code="INVITATION_NOT_FOUND")
    meeting = await Meeting.get(id=invitation.meeting_id)
    if meeting.status is not MeetingStatus.SCHEDULED:
        raise InvalidTransition("会议已召开，不能再回复", field="id", code="MEETING_HELD")
    text: str | None = None
    if not attending:
        text = check_length(reason or "", "reason", TEXT_MAX)
    elif reason is not None:
        text = check_length(reason, "reason", TEXT_MAX, required=False) or None
    answer = AttendanceReply.ATTENDING if attending else AttendanceReply.DECLINED
    await MeetingInvitation.filter(id=invitation.id).update(reply=answer, decline_reason=text, replied_at=now)
    invitation = await MeetingInvitation.get(id=invitation.id)
    closed = await close_obligations("MeetingInvitation", invitation.id, now=now, kind=MEETING_REPLY.kind)
    await record_event(
        EventKind.MEETING_INVITATION_REPLIED,
        subject_type="MeetingInvitation",
        subject_id=invitation.id,
        departments=[
            invitation.department_id,
            *([meeting.convener_department_id] if meeting.convener_department_id else []),
        ],
        payload={
            "meetingId": meeting.id,
            "reply": answer.value,
            **(closed[0].payload() if closed else {}),
        },
    )
    return invitation


# --- Minutes, action items, escalation ---


@dataclass(frozen=True)
class ActionItemInput:
    department_id: int
    task: str
    working_days: int


@dataclass(frozen=True)
class UnresolvedInput:
    topic_id: int
    disposition: UnresolvedDisposition
    proposed_resolution: str | None = None


@dataclass(frozen=True)
class MinutesInput:
    minutes: str
    conclusions: list[str]
    agreed_topic_ids: list[int]
    action_items: list[ActionItemInput]
    unresolved: list[UnresolvedInput]
    evidence_file_ids: list[int] = field(default_factory=list)


async def _check_minutes(meeting: Meeting, data: MinutesInput, participants: list[int]) -> None:
    errors: list[DomainError] = []
    _text(data.minutes, "minutes", 20000, errors)
    if len(data.conclusions) > 50:
        errors.append(InvalidInput("结论不能超过50条", field="conclusions", code="TOO_MANY"))
    for i, text in enumerate(data.conclusions):
        _text(text, f"conclusions.{i}", TEXT_MAX, errors)
    if len(data.action_items) > 100:
        errors.append(InvalidInput("议定事项不能超过100项", field="actionItems", code="TOO_MANY"))
    for i, item in enumerate(data.action_items):
        if item.department_id not in participants:
            errors.append(
                NotFound("承办部门不是会议相关部门", field=f"actionItems.{i}.departmentId", code="DEPARTMENT_NOT_FOUND")
            )
        _text(item.task, f"actionItems.{i}.task", TEXT_MAX, errors)
        if not 1 <= item.working_days <= 60:
            errors.append(
                InvalidInput("办理期限须为1至60个工作日", field=f"actionItems.{i}.workingDays", code="INVALID_TERM")
            )
    agenda = {t.id for t in await MeetingTopic.filter(meeting_id=meeting.id, status=TopicStatus.ON_AGENDA)}
    seen: set[int] = set()
    for i, pk in enumerate(data.agreed_topic_ids):
        if pk not in agenda or pk in seen:
            errors.append(NotFound("议题不在本次议程中", field=f"agreedTopicIds.{i}", code="TOPIC_NOT_FOUND"))
        seen.add(pk)
    for i, u in enumerate(data.unresolved):
        if u.topic_id not in agenda or u.topic_id in seen:
            errors.append(NotFound("议题不在本次议程中", field=f"unresolved.{i}.topicId", code="TOPIC_NOT_FOUND"))
        seen.add(u.topic_id)
        if u.disposition is UnresolvedDisposition.ESCALATE:
            _text(u.proposed_resolution or "", f"unresolved.{i}.proposedResolution", TEXT_MAX, errors)
    if agenda - seen:
        errors.append(
            InvalidInput("每个议题须记为议定、结转或提交联席会议", field="agreedTopicIds", code="TOPIC_UNDECIDED")
        )
    raise_all(errors)


async def record_minutes(actor: User, meeting_id: int, data: MinutesInput, *, now: datetime) -> Meeting:
    """Art. 31: minutes with conclusions and action items; open topics carried over or escalated."""
    meeting = await _meeting_for(actor, meeting_id, lock=True)
    _require_convener(actor, meeting)
    if meeting.status is not MeetingStatus.SCHEDULED:
        raise InvalidTransition("只有已确定议程的会议可以记录纪要", field="meetingId", code="NOT_SCHEDULED")
    participants = await participant_ids(meeting.id)
    await _check_minutes(meeting, data, participants)
    minutes = data.minutes.strip()
    conclusions = [c.strip() for c in data.conclusions]
    if not await Meeting.filter(id=meeting.id, status=MeetingStatus.SCHEDULED).update(
        status=MeetingStatus.HELD, minutes=minutes, conclusions=conclusions, minutes_at=now
    ):
        raise InvalidTransition("纪要已记录", field="meetingId", code="NOT_SCHEDULED")
    meeting.status, meeting.minutes, meeting.conclusions, meeting.minutes_at = (
        MeetingStatus.HELD,
        minutes,
        conclusions,
        now,
    )
    await attach_evidence(actor, data.evidence_file_ids, "Meeting", meeting.id, field="evidenceFileIds")
    for invitation in await MeetingInvitation.filter(meeting_id=meeting.id, reply=AttendanceReply.PENDING):
        await close_obligations("MeetingInvitation", invitation.id, now=now, kind=MEETING_REPLY.kind, cancel=True)
    if data.agreed_topic_ids:
        await MeetingTopic.filter(id__in=data.agreed_topic_ids).update(status=TopicStatus.AGREED)
    escalated = 0
    for u in data.unresolved:
        if u.disposition is UnresolvedDisposition.CARRY_OVER:
            await MeetingTopic.filter(id=u.topic_id).update(status=TopicStatus.CARRIED_OVER)
            continue
        await MeetingTopic.filter(id=u.topic_id).update(status=TopicStatus.ESCALATED)
        escalation = await Escalation.create(
            topic_id=u.topic_id,
            meeting_id=meeting.id,
            proposed_resolution=(u.proposed_resolution or "").strip(),
            created_at=now,
        )
        escalated += 1
        await record_event(
            EventKind.MEETING_ESCALATED,
            subject_type="Meeting",
            subject_id=meeting.id,
            departments=await _audience(meeting),
            payload={"meetingId": meeting.id, "escalationId": escalation.id},
        )
    convener = meeting.convener_department_id
    for item in data.action_items:
        row = await ActionItem.create(
            meeting_id=meeting.id,
            department_id=item.department_id,
            task=item.task.strip(),
            working_days=item.working_days,
        )
        obligation = await open_obligation(
            ACTION_ITEM.kind,
            subject_type="ActionItem",
            subject_id=row.id,
            department_id=item.department_id,
            watchers=[convener] if convener else [],
            start=now,
            working_days=item.working_days,
        )
        await record_event(
            EventKind.ACTION_ITEM_ASSIGNED,
            subject_type="ActionItem",
            subject_id=row.id,
            departments=[item.department_id, *([convener] if convener else [])],
            payload={"meetingId": meeting.id, **obligation.payload()},
        )
    await record_event(
        EventKind.MEETING_MINUTES_RECORDED,
        subject_type="Meeting",
        subject_id=meeting.id,
        departments=await _audience(meeting),
        payload={"meetingId": meeting.id, "actionItems": len(data.action_items), "escalated": escalated},
    )
    return meeting


async def complete_action_item(actor: User, item_id: int, note: str, *, now: datetime) -> ActionItem:
    """The assigned department reports an action item done; a late completion stays recorded as late."""
    item = await ActionItem.get_or_none(id=item_id)
    if item is None or item.department_id != actor.department_id:
        raise NotFound("议定事项不存在", field="id", code="ACTION_ITEM_NOT_FOUND")
    if not actor.has_role(Role.LIAISON, Role.OFFICER):
        raise Forbidden("只有承办部门的联络员或经办人可以办结", field="id")
    note = check_length(note, "note", TEXT_MAX)
    if not await ActionItem.filter(id=item.id, completed_at=None).update(
        completed_at=now, completed_by_id=actor.id, completion_note=note
    ):
        raise InvalidTransition("该事项已办结", field="id", code="ALREADY_COMPLETED")
    item.completed_at, item.completed_by_id, item.completion_note = now, actor.id, note
    closed = await close_obligations("ActionItem", item.id, now=now, kind=ACTION_ITEM.kind)
    meeting = await Meeting.get(id=item.meeting_id)
    await record_event(
        EventKind.ACTION_ITEM_COMPLETED,
        subject_type="ActionItem",
        subject_id=item.id,
        departments=[item.department_id, *([meeting.convener_department_id] if meeting.convener_department_id else [])],
        payload={
            "meetingId": meeting.id,
            "late": bool(closed and closed[0].done_late),
            **(closed[0].payload() if closed else {}),
        },
    )
    return item


@dataclass(frozen=True)
class ConferenceDecisionInput:
    escalation_id: int
    decision: str


async def record_joint_conference(
    actor: User, *, title: str, held_on: date, decisions: list[ConferenceDecisionInput], now: datetime
) -> JointConferenceSession:
    """Art. 17: a joint conference session decides escalated topics; each decision goes back to the
    departments of the meeting that escalated it."""
    if not actor.has_role(Role.LIAISON, Role.LEADER) or not await _is_approval(actor):
        raise Forbidden("只有审批部门的联络员或领导可以记录联席会议", field=None)
    errors: list[DomainError] = []
    title = _text(title, "title", TITLE_MAX, errors)
    if held_on > now.astimezone(SHANGHAI).date():
        errors.append(InvalidInput("会议日期不能晚于今天", field="heldOn", code="IN_THE_FUTURE"))
    if not decisions:
        errors.append(InvalidInput("至少记录一项决定", field="decisions", code="REQUIRED"))
    rows: list[Escalation] = []
    seen: set[int] = set()
    for i, d in enumerate(decisions):
        row = await Escalation.get_or_none(id=d.escalation_id)
        meeting = await Meeting.get_or_none(id=row.meeting_id) if row else None
        if (
            row is None
            or meeting is None
            or meeting.convener_department_id != actor.department_id
            or d.escalation_id in seen
        ):
            errors.append(
                NotFound("提交联席会议的议题不存在", field=f"decisions.{i}.escalationId", code="ESCALATION_NOT_FOUND")
            )
        elif row.session_id is not None:
            errors.append(
                InvalidTransition("该议题已有决定", field=f"decisions.{i}.escalationId", code="ALREADY_DECIDED")
            )
        else:
            rows.append(row)
        seen.add(d.escalation_id)
        _text(d.decision, f"decisions.{i}.decision", TEXT_MAX, errors)
    raise_all(errors)
    session = await JointConferenceSession.create(
        convener_department_id=actor.department_id, title=title, held_on=held_on, created_at=now
    )
    texts = {d.escalation_id: d.decision.strip() for d in decisions}
    for row in rows:
        if not await Escalation.filter(id=row.id, session_id=None).update(
            session_id=session.id, decision=texts[row.id], decided_at=now
        ):
            raise InvalidTransition("该议题已有决定", field="decisions", code="ALREADY_DECIDED")
        meeting = await Meeting.get(id=row.meeting_id)
        await record_event(
            EventKind.JOINT_CONFERENCE_DECIDED,
            subject_type="JointConferenceSession",
            subject_id=session.id,
            departments=await _audience(meeting),
            payload={"sessionId": session.id, "escalationId": row.id, "meetingId": meeting.id},
        )
    return session
