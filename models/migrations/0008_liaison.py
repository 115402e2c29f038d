"""Inquiry letters, liaison meetings, the joint conference and public submissions (Art. 17, 25, 28-31, 35)."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.inquiry import InquiryMessageKind, InquiryStatus, InquiryTopic
from models.meeting import AttendanceReply, MeetingKind, MeetingStatus, TopicStatus
from models.public import SubmissionKind, SubmissionStatus


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0007_timeliness_reports")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Escalation",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("topic_id", fields.BigIntField(unique=True)),
                ("meeting_id", fields.BigIntField()),
                ("proposed_resolution", fields.TextField(unique=False)),
                ("session_id", fields.BigIntField(null=True)),
                ("decision", fields.TextField(null=True, unique=False)),
                ("decided_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "meeting_escalation",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "A topic a meeting could not agree on, sent to the joint conference with a proposed resolution.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Inquiry",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("sender_department_id", fields.IntField()),
                ("created_by_id", fields.IntField()),
                (
                    "topic",
                    fields.CharEnumField(
                        description="PLAN: PLAN\nPOLICY: POLICY\nITEM_STANDARD: ITEM_STANDARD",
                        enum_type=InquiryTopic,
                        max_length=16,
                    ),
                ),
                ("subject", fields.CharField(max_length=200)),
                ("item_id", fields.IntField(null=True)),
                ("decision_id", fields.BigIntField(null=True)),
                ("reply_working_days", fields.IntField()),
                (
                    "status",
                    fields.CharEnumField(
                        default=InquiryStatus.OPEN,
                        description="OPEN: OPEN\nCLOSED: CLOSED",
                        enum_type=InquiryStatus,
                        max_length=16,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("closed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("closed_by_id", fields.IntField(null=True)),
            ],
            options={
                "table": "inquiry",
                "app": "shenguan",
                "indexes": [Index(fields=["sender_department_id", "id"])],
                "pk_attr": "id",
                "table_description": "An inquiry letter from one department to others. Never deleted, only closed.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="InquiryMessage",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "inquiry",
                    fields.ForeignKeyField(
                        "shenguan.Inquiry",
                        source_field="inquiry_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="messages",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("position", fields.IntField()),
                (
                    "kind",
                    fields.CharEnumField(
                        description="QUESTION: QUESTION\nANSWER: ANSWER\nFOLLOW_UP: FOLLOW_UP",
                        enum_type=InquiryMessageKind,
                        max_length=16,
                    ),
                ),
                ("department_id", fields.IntField()),
                ("author_id", fields.IntField()),
                ("body", fields.TextField(unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "inquiry_message",
                "app": "shenguan",
                "unique_together": (("inquiry_id", "position"),),
                "pk_attr": "id",
                "table_description": "One letter of the thread, numbered in order within its inquiry.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="InquiryReceiver",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "inquiry",
                    fields.ForeignKeyField(
                        "shenguan.Inquiry",
                        source_field="inquiry_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="receivers",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("department_id", fields.IntField()),
                ("answered_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "inquiry_receiver",
                "app": "shenguan",
                "unique_together": (("inquiry_id", "department_id"),),
                "indexes": [Index(fields=["department_id", "inquiry_id"])],
                "pk_attr": "id",
                "table_description": "One department an inquiry is addressed to, and when it first answered.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="JointConferenceSession",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("convener_department_id", fields.IntField()),
                ("title", fields.CharField(max_length=200)),
                ("held_on", fields.DateField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "joint_conference_session",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "A session of the joint conference deciding escalated topics.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Meeting",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="REGULAR: REGULAR\nAD_HOC: AD_HOC\nEMERGENCY: EMERGENCY",
                        enum_type=MeetingKind,
                        max_length=16,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        description="REQUESTED: REQUESTED\nCOLLECTING_TOPICS: COLLECTING_TOPICS\nSCHEDULED: SCHEDULED\nHELD: HELD",
                        enum_type=MeetingStatus,
                        max_length=24,
                    ),
                ),
                ("title", fields.CharField(max_length=200)),
                ("reason", fields.TextField(unique=False)),
                ("requested_by_department_id", fields.IntField(null=True)),
                ("convener_department_id", fields.IntField(null=True)),
                ("period", fields.CharField(null=True, max_length=7)),
                ("held_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("topic_cutoff", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("minutes", fields.TextField(null=True, unique=False)),
                (
                    "conclusions",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("convened_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("minutes_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "meeting",
                "app": "shenguan",
                "unique_together": (("convener_department_id", "period"),),
                "pk_attr": "id",
                "table_description": "A liaison meeting, from request or convening to its minutes. Never deleted.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ActionItem",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "meeting",
                    fields.ForeignKeyField(
                        "shenguan.Meeting",
                        source_field="meeting_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="action_items",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("department_id", fields.IntField()),
                ("task", fields.TextField(unique=False)),
                ("working_days", fields.IntField()),
                ("completed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("completed_by_id", fields.IntField(null=True)),
                ("completion_note", fields.TextField(null=True, unique=False)),
            ],
            options={
                "table": "meeting_action_item",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "An agreed task from the minutes, assigned to a department with a working-day due date.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="MeetingInvitation",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "meeting",
                    fields.ForeignKeyField(
                        "shenguan.Meeting",
                        source_field="meeting_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="invitations",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("user_id", fields.IntField()),
                ("department_id", fields.IntField()),
                (
                    "reply",
                    fields.CharEnumField(
                        default=AttendanceReply.PENDING,
                        description="PENDING: PENDING\nATTENDING: ATTENDING\nDECLINED: DECLINED",
                        enum_type=AttendanceReply,
                        max_length=16,
                    ),
                ),
                ("decline_reason", fields.TextField(null=True, unique=False)),
                ("replied_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "meeting_invitation",
                "app": "shenguan",
                "unique_together": (("meeting_id", "user_id"),),
                "pk_attr": "id",
                "table_description": "One person invited to a meeting and their reply (declining needs a reason).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="MeetingParticipant",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "meeting",
                    fields.ForeignKeyField(
                        "shenguan.Meeting",
                        source_field="meeting_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="participants",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("department_id", fields.IntField()),
            ],
            options={
                "table": "meeting_participant",
                "app": "shenguan",
                "unique_together": (("meeting_id", "department_id"),),
                "indexes": [Index(fields=["department_id", "meeting_id"])],
                "pk_attr": "id",
                "table_description": "A department concerned by a meeting: it sees the meeting and may submit topics.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="MeetingTopic",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "meeting",
                    fields.ForeignKeyField(
                        "shenguan.Meeting",
                        source_field="meeting_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="topics",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("department_id", fields.IntField()),
                ("submitted_by_id", fields.IntField(null=True)),
                ("title", fields.CharField(max_length=200)),
                ("description", fields.TextField(unique=False)),
                (
                    "status",
                    fields.CharEnumField(
                        default=TopicStatus.SUBMITTED,
                        description="SUBMITTED: SUBMITTED\nON_AGENDA: ON_AGENDA\nAGREED: AGREED\nCARRIED_OVER: CARRIED_OVER\nESCALATED: ESCALATED",
                        enum_type=TopicStatus,
                        max_length=16,
                    ),
                ),
                ("agenda_position", fields.IntField(null=True)),
                ("carried_from_id", fields.BigIntField(null=True, unique=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "meeting_topic",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "A topic a liaison officer proposed, possibly carried over from an earlier meeting.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PublicSubmission",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("tracking_number", fields.CharField(unique=True, max_length=32)),
                ("secret_hash", fields.CharField(max_length=64)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="OPINION: OPINION\nREPORT: REPORT", enum_type=SubmissionKind, max_length=16
                    ),
                ),
                ("subject", fields.CharField(max_length=100)),
                ("content", fields.TextField(unique=False)),
                ("anonymous", fields.BooleanField()),
                ("contact_name", fields.CharField(null=True, max_length=50)),
                ("contact_phone", fields.CharField(null=True, max_length=20)),
                ("about_item_id", fields.IntField(null=True)),
                ("about_department_id", fields.IntField(null=True)),
                ("about_holder_name", fields.CharField(null=True, max_length=128)),
                ("about_holder_credit_code", fields.CharField(null=True, max_length=18)),
                (
                    "status",
                    fields.CharEnumField(
                        description="RECEIVED: RECEIVED\nROUTED: ROUTED\nREPLIED: REPLIED",
                        enum_type=SubmissionStatus,
                        max_length=16,
                    ),
                ),
                ("department_id", fields.IntField(null=True)),
                ("routed_by_department_id", fields.IntField(null=True)),
                ("routed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("reply", fields.TextField(null=True, unique=False)),
                ("replied_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("replied_by_id", fields.IntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "public_submission",
                "app": "shenguan",
                "indexes": [Index(fields=["department_id", "id"]), Index(fields=["status", "id"])],
                "pk_attr": "id",
                "table_description": "An opinion or a report from the public. Never deleted.",
            },
            bases=["Model"],
        ),
    ]
