"""Liaison meetings and the joint conference (Art. 17, 28–31) in the schema."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.context import Context, Info
from api.graphql.backflow import EvidenceFile, evidence_ids, evidence_of
from api.graphql.base import Connection, Node, UserError, given, global_id
from api.graphql.mutation import attempt, pk_of, run
from api.graphql.nodes import node_loader
from api.graphql.obligations import Obligation, obligations_of
from api.graphql.pagination import paginate
from api.graphql.types import Department, User
from models import meeting as mt
from models.visibility import can_see_user

for _enum in (mt.MeetingKind, mt.MeetingStatus, mt.TopicStatus, mt.UnresolvedDisposition, mt.AttendanceReply):
    strawberry.enum(_enum)


async def _department(info: Info, pk: int) -> Department:
    row = await info.context.loaders.department.load(pk)
    assert row is not None
    return Department(row=row)


@strawberry.type(description="A topic proposed for a meeting (议题).")
class MeetingTopic:
    row: strawberry.Private[mt.MeetingTopic]

    id: strawberry.ID = global_id("MeetingTopic")

    @strawberry.field
    async def department(self, info: Info) -> Department:
        return await _department(info, self.row.department_id)

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field
    def status(self) -> mt.TopicStatus:
        return self.row.status

    @strawberry.field
    def agenda_position(self) -> int | None:
        return self.row.agenda_position

    @strawberry.field(description="True when an earlier meeting carried this topic over.")
    def carried_over(self) -> bool:
        return self.row.carried_from_id is not None


@strawberry.type(description="An invitation to a meeting and its reply (参会回执).")
class MeetingInvitation(Node):
    row: strawberry.Private[mt.MeetingInvitation]

    id: strawberry.ID = global_id("MeetingInvitation")

    @strawberry.field
    async def meeting(self, info: Info) -> Meeting:
        row = await info.context.loaders.of(mt.Meeting).load(self.row.meeting_id)
        assert row is not None
        return Meeting(row=row)

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        row = await info.context.loaders.user.load(self.row.user_id)
        return User(row=row) if row and can_see_user(info.context.require_user(), row) else None

    @strawberry.field
    async def department(self, info: Info) -> Department:
        return await _department(info, self.row.department_id)

    @strawberry.field
    def reply(self) -> mt.AttendanceReply:
        return self.row.reply

    @strawberry.field
    def decline_reason(self) -> str | None:
        return self.row.decline_reason

    @strawberry.field
    def replied_at(self) -> datetime | None:
        return self.row.replied_at

    @strawberry.field
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "MeetingInvitation", self.row.id)


@strawberry.type(description="An action item from the minutes (议定事项), tracked to completion.")
class ActionItem(Node):
    row: strawberry.Private[mt.ActionItem]

    id: strawberry.ID = global_id("ActionItem")

    @strawberry.field
    async def meeting(self, info: Info) -> Meeting:
        row = await info.context.loaders.of(mt.Meeting).load(self.row.meeting_id)
        assert row is not None
        return Meeting(row=row)

    @strawberry.field
    async def department(self, info: Info) -> Department:
        return await _department(info, self.row.department_id)

    @strawberry.field
    def task(self) -> str:
        return self.row.task

    @strawberry.field
    def working_days(self) -> int:
        return self.row.working_days

    @strawberry.field
    def completed_at(self) -> datetime | None:
        return self.row.completed_at

    @strawberry.field
    def completion_note(self) -> str | None:
        return self.row.completion_note

    @strawberry.field
    async def deadlines(self, info: Info) -> list[Obligation]:
        return await obligations_of(info, "ActionItem", self.row.id)


@strawberry.type(description="A topic escalated to the joint conference, with the proposed resolution and decision.")
class Escalation:
    row: strawberry.Private[mt.Escalation]

    id: strawberry.ID = global_id("Escalation")

    @strawberry.field
    async def topic(self) -> MeetingTopic:
        return MeetingTopic(row=await mt.MeetingTopic.get(id=self.row.topic_id))

    @strawberry.field
    def proposed_resolution(self) -> str:
        return self.row.proposed_resolution

    @strawberry.field
    def decision(self) -> str | None:
        return self.row.decision

    @strawberry.field
    def decided_at(self) -> datetime | None:
        return self.row.decided_at


@strawberry.type(description="A liaison meeting (例会 / 专题会议 / 紧急会议), Art. 28–31.")
class Meeting(Node):
    row: strawberry.Private[mt.Meeting]

    id: strawberry.ID = global_id("Meeting")

    @strawberry.field
    def kind(self) -> mt.MeetingKind:
        return self.row.kind

    @strawberry.field
    def status(self) -> mt.MeetingStatus:
        return self.row.status

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field(description="The month of a regular meeting, e.g. 2026-10.")
    def period(self) -> str | None:
        return self.row.period

    @strawberry.field
    async def requested_by(self, info: Info) -> Department | None:
        pk = self.row.requested_by_department_id
        return await _department(info, pk) if pk else None

    @strawberry.field
    async def convener(self, info: Info) -> Department | None:
        pk = self.row.convener_department_id
        return await _department(info, pk) if pk else None

    @strawberry.field
    def held_at(self) -> datetime | None:
        return self.row.held_at

    @strawberry.field
    def topic_cutoff(self) -> datetime | None:
        return self.row.topic_cutoff

    @strawberry.field
    async def departments(self, info: Info) -> list[Department]:
        ids = await mt.participant_ids(self.row.id)
        rows = await info.context.loaders.department.load_many(ids)
        return [Department(row=r) for r in rows if r is not None]

    @strawberry.field(description="Topics in agenda order, then those not on the agenda.")
    async def topics(self) -> list[MeetingTopic]:
        rows = await mt.MeetingTopic.filter(meeting_id=self.row.id).order_by("id")
        rows.sort(key=lambda t: (t.agenda_position is None, t.agenda_position or 0, t.id))
        return [MeetingTopic(row=r) for r in rows]

    @strawberry.field
    async def invitations(self) -> list[MeetingInvitation]:
        rows = await mt.MeetingInvitation.filter(meeting_id=self.row.id).order_by("id")
        return [MeetingInvitation(row=r) for r in rows]

    @strawberry.field
    def minutes(self) -> str | None:
        return self.row.minutes

    @strawberry.field
    def conclusions(self) -> list[str]:
        return list(self.row.conclusions)

    @strawberry.field(description="Files recorded with the minutes (the memorandum, 会议纪要).")
    async def evidence(self, info: Info) -> list[EvidenceFile]:
        return await evidence_of(info, "Meeting", self.row.id)

    @strawberry.field
    async def action_items(self) -> list[ActionItem]:
        rows = await mt.ActionItem.filter(meeting_id=self.row.id).order_by("id")
        return [ActionItem(row=r) for r in rows]

    @strawberry.field
    async def escalations(self) -> list[Escalation]:
        rows = await mt.Escalation.filter(meeting_id=self.row.id).order_by("id")
        return [Escalation(row=r) for r in rows]


@strawberry.type(description="A session of the joint conference (联席会议), Art. 17.")
class JointConferenceSession(Node):
    row: strawberry.Private[mt.JointConferenceSession]

    id: strawberry.ID = global_id("JointConferenceSession")

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def held_on(self) -> date:
        return self.row.held_on

    @strawberry.field
    async def convener(self, info: Info) -> Department:
        return await _department(info, self.row.convener_department_id)

    @strawberry.field(description="The escalated topics decided, those of the viewer's meetings only.")
    async def decisions(self, info: Info) -> list[Escalation]:
        viewer = info.context.require_user()
        rows = await mt.Escalation.filter(session_id=self.row.id).order_by("id")
        if not (viewer.is_admin or viewer.department_id == self.row.convener_department_id):
            mine = set(
                await mt.MeetingParticipant.filter(department_id=viewer.department_id).values_list(
                    "meeting_id", flat=True
                )
            )
            rows = [r for r in rows if r.meeting_id in mine]
        return [Escalation(row=r) for r in rows]


async def _visible_meeting(context: Context, pk: int) -> mt.Meeting | None:
    row = await context.loaders.of(mt.Meeting).load(pk)
    return row if row and await mt.can_see_meeting(context.require_user(), row) else None


@node_loader("Meeting")
async def _meeting(context: Context, pk: int) -> Node | None:
    row = await _visible_meeting(context, pk)
    return Meeting(row=row) if row else None


@node_loader("MeetingInvitation")
async def _invitation(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(mt.MeetingInvitation).load(pk)
    return MeetingInvitation(row=row) if row and await _visible_meeting(context, row.meeting_id) else None


@node_loader("ActionItem")
async def _action_item(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(mt.ActionItem).load(pk)
    return ActionItem(row=row) if row and await _visible_meeting(context, row.meeting_id) else None


@node_loader("JointConferenceSession")
async def _session(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(mt.JointConferenceSession).load(pk)
    visible = row is not None and await mt.can_see_session(context.require_user(), row)
    return JointConferenceSession(row=row) if row and visible else None


@strawberry.input
class RequestMeetingInput:
    kind: mt.MeetingKind
    title: str
    reason: str
    department_ids: list[strawberry.ID]


@strawberry.input
class ConveneMeetingInput:
    kind: mt.MeetingKind
    title: str
    reason: str
    department_ids: list[strawberry.ID]
    held_at: datetime | None = None
    topic_cutoff: datetime | None = None
    request_id: strawberry.ID | None = strawberry.field(default=None, description="The requested meeting to convene.")


@strawberry.input
class SetMeetingAgendaInput:
    meeting_id: strawberry.ID
    topic_ids: list[strawberry.ID]
    held_at: datetime | None = None
    leader_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class ActionItemInput:
    department_id: strawberry.ID
    task: str
    working_days: int = 10


@strawberry.input
class UnresolvedTopicInput:
    topic_id: strawberry.ID
    disposition: mt.UnresolvedDisposition
    proposed_resolution: str | None = None


@strawberry.input
class RecordMinutesInput:
    meeting_id: strawberry.ID
    minutes: str
    conclusions: list[str] = strawberry.field(default_factory=list)
    agreed_topic_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    action_items: list[ActionItemInput] = strawberry.field(default_factory=list)
    unresolved: list[UnresolvedTopicInput] = strawberry.field(default_factory=list)
    evidence_file_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="The memorandum (会议纪要) and other files, uploaded first."
    )


@strawberry.input
class ConferenceDecisionInput:
    escalation_id: strawberry.ID
    decision: str


@strawberry.input
class RecordJointConferenceInput:
    title: str
    held_on: date
    decisions: list[ConferenceDecisionInput]


@strawberry.type
class MeetingPayload:
    meeting: Meeting | None
    errors: list[UserError]


@strawberry.type
class MeetingTopicPayload:
    topic: MeetingTopic | None
    errors: list[UserError]


@strawberry.type
class MeetingInvitationPayload:
    invitation: MeetingInvitation | None
    errors: list[UserError]


@strawberry.type
class ActionItemPayload:
    action_item: ActionItem | None
    errors: list[UserError]


@strawberry.type
class JointConferenceSessionPayload:
    joint_conference_session: JointConferenceSession | None
    errors: list[UserError]


@strawberry.type
class MeetingQuery:
    @strawberry.field(
        description="Meetings the viewer's department convened, requested or is concerned by, newest first."
    )
    async def meetings(
        self,
        info: Info,
        status: mt.MeetingStatus | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[Meeting]:
        query = await mt.visible_meetings(info.context.require_user())
        if wanted := given(status):
            query = query.filter(status=wanted)
        return await paginate(
            query, keys=("id",), samples=(0,), first=given(first), after=given(after), wrap=lambda r: Meeting(row=r)
        )

    @strawberry.field(description="Joint conference sessions the viewer's department convened or is concerned by.")
    async def joint_conference_sessions(
        self, info: Info, first: int | None = strawberry.UNSET, after: str | None = strawberry.UNSET
    ) -> Connection[JointConferenceSession]:
        return await paginate(
            mt.visible_sessions(info.context.require_user()),
            keys=("id",),
            samples=(0,),
            first=given(first),
            after=given(after),
            wrap=lambda r: JointConferenceSession(row=r),
        )


def _meeting_payload(row: mt.Meeting | None, errors: list[UserError]) -> MeetingPayload:
    return MeetingPayload(meeting=Meeting(row=row) if row else None, errors=errors)


def _ids(values: list[strawberry.ID], type_name: str, field: str) -> list[int]:
    return [pk_of(v, type_name, f"{field}.{i}") for i, v in enumerate(values)]


@strawberry.type
class MeetingMutation:
    @strawberry.mutation(description="Art. 29: ask the approval department to convene a meeting, with a reason.")
    async def request_meeting(self, info: Info, input: RequestMeetingInput) -> MeetingPayload:
        actor = info.context.require_user()

        async def work() -> mt.Meeting:
            return await mt.request_meeting(
                actor,
                kind=input.kind,
                title=input.title,
                reason=input.reason,
                department_ids=_ids(input.department_ids, "Department", "departmentIds"),
                now=info.context.now(),
            )

        return _meeting_payload(*await attempt(lambda: run(info, work)))

    @strawberry.mutation(
        description="Art. 29–30: the approval department convenes a meeting and opens topic collection."
    )
    async def convene_meeting(self, info: Info, input: ConveneMeetingInput) -> MeetingPayload:
        actor = info.context.require_user()

        async def work() -> mt.Meeting:
            data = mt.ConveneInput(
                kind=input.kind,
                title=input.title,
                reason=input.reason,
                department_ids=_ids(input.department_ids, "Department", "departmentIds"),
                held_at=input.held_at,
                topic_cutoff=input.topic_cutoff,
                request_id=pk_of(input.request_id, "Meeting", "requestId") if input.request_id else None,
            )
            return await mt.convene_meeting(actor, data, now=info.context.now())

        return _meeting_payload(*await attempt(lambda: run(info, work)))

    @strawberry.mutation(description="Art. 30: a liaison officer proposes a topic before the cut-off.")
    async def submit_meeting_topic(
        self, info: Info, meeting_id: strawberry.ID, title: str, description: str
    ) -> MeetingTopicPayload:
        actor = info.context.require_user()

        async def work() -> mt.MeetingTopic:
            pk = pk_of(meeting_id, "Meeting", "meetingId")
            return await mt.submit_topic(actor, pk, title=title, description=description, now=info.context.now())

        row, errors = await attempt(lambda: run(info, work))
        return MeetingTopicPayload(topic=MeetingTopic(row=row) if row else None, errors=errors)

    @strawberry.mutation(description="The convener sets the agenda from the topics and invites the participants.")
    async def set_meeting_agenda(self, info: Info, input: SetMeetingAgendaInput) -> MeetingPayload:
        actor = info.context.require_user()

        async def work() -> mt.Meeting:
            return await mt.set_agenda(
                actor,
                pk_of(input.meeting_id, "Meeting", "meetingId"),
                topic_ids=_ids(input.topic_ids, "MeetingTopic", "topicIds"),
                held_at=input.held_at,
                leader_ids=_ids(input.leader_ids, "User", "leaderIds"),
                now=info.context.now(),
            )

        return _meeting_payload(*await attempt(lambda: run(info, work)))

    @strawberry.mutation(description="Confirm or decline (with a reason) an invitation.")
    async def reply_to_meeting_invitation(
        self, info: Info, id: strawberry.ID, attending: bool, reason: str | None = None
    ) -> MeetingInvitationPayload:
        actor = info.context.require_user()

        async def work() -> mt.MeetingInvitation:
            pk = pk_of(id, "MeetingInvitation", "id")
            return await mt.reply_to_invitation(actor, pk, attending=attending, reason=reason, now=info.context.now())

        row, errors = await attempt(lambda: run(info, work))
        return MeetingInvitationPayload(invitation=MeetingInvitation(row=row) if row else None, errors=errors)

    @strawberry.mutation(description="Art. 31: record the minutes, action items, and topics carried over or escalated.")
    async def record_meeting_minutes(self, info: Info, input: RecordMinutesInput) -> MeetingPayload:
        actor = info.context.require_user()

        async def work() -> mt.Meeting:
            data = mt.MinutesInput(
                minutes=input.minutes,
                conclusions=list(input.conclusions),
                agreed_topic_ids=_ids(input.agreed_topic_ids, "MeetingTopic", "agreedTopicIds"),
                action_items=[
                    mt.ActionItemInput(
                        department_id=pk_of(a.department_id, "Department", f"actionItems.{i}.departmentId"),
                        task=a.task,
                        working_days=a.working_days,
                    )
                    for i, a in enumerate(input.action_items)
                ],
                unresolved=[
                    mt.UnresolvedInput(
                        topic_id=pk_of(u.topic_id, "MeetingTopic", f"unresolved.{i}.topicId"),
                        disposition=u.disposition,
                        proposed_resolution=u.proposed_resolution,
                    )
                    for i, u in enumerate(input.unresolved)
                ],
                evidence_file_ids=evidence_ids(input.evidence_file_ids),
            )
            pk = pk_of(input.meeting_id, "Meeting", "meetingId")
            return await mt.record_minutes(actor, pk, data, now=info.context.now())

        return _meeting_payload(*await attempt(lambda: run(info, work)))

    @strawberry.mutation(description="The assigned department reports an action item done.")
    async def complete_action_item(self, info: Info, id: strawberry.ID, note: str) -> ActionItemPayload:
        actor = info.context.require_user()

        async def work() -> mt.ActionItem:
            return await mt.complete_action_item(actor, pk_of(id, "ActionItem", "id"), note, now=info.context.now())

        row, errors = await attempt(lambda: run(info, work))
        return ActionItemPayload(action_item=ActionItem(row=row) if row else None, errors=errors)

    @strawberry.mutation(description="Art. 17: record a joint conference session deciding escalated topics.")
    async def record_joint_conference(
        self, info: Info, input: RecordJointConferenceInput
    ) -> JointConferenceSessionPayload:
        actor = info.context.require_user()

        async def work() -> mt.JointConferenceSession:
            decisions = [
                mt.ConferenceDecisionInput(
                    escalation_id=pk_of(d.escalation_id, "Escalation", f"decisions.{i}.escalationId"),
                    decision=d.decision,
                )
                for i, d in enumerate(input.decisions)
            ]
            return await mt.record_joint_conference(
                actor, title=input.title, held_on=input.held_on, decisions=decisions, now=info.context.now()
            )

        row, errors = await attempt(lambda: run(info, work))
        return JointConferenceSessionPayload(
            joint_conference_session=JointConferenceSession(row=row) if row else None, errors=errors
        )
