"""Back-flow: evidence files, supervision actions, formal notices and decision status changes (Art. 21, 34).

The daily expiry job looks decisions up by (status, valid_until): a plain index, so SQLite needs no rebuild.
"""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.backflow import ActionKind, ActionStatus, OfflineChannel
from models.enums import Channel, CounterpartyKind, DecisionStatus
from models.notice import NoticeDirection, NoticeKind, NoticeOutcome, NoticeStatus


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0009_inspections_and_commitments")]

    initial = False

    operations = [
        ops.CreateModel(
            name="DecisionStatusChange",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "decision",
                    fields.ForeignKeyField(
                        "shenguan.Decision",
                        source_field="decision_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="status_changes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "from_status",
                    fields.CharEnumField(
                        description="VALID: VALID\nAMENDED: AMENDED\nWITHDRAWN: WITHDRAWN\nREVOKED: REVOKED\nCANCELLED: CANCELLED\nEXPIRED: EXPIRED",
                        enum_type=DecisionStatus,
                        max_length=16,
                    ),
                ),
                (
                    "to_status",
                    fields.CharEnumField(
                        description="VALID: VALID\nAMENDED: AMENDED\nWITHDRAWN: WITHDRAWN\nREVOKED: REVOKED\nCANCELLED: CANCELLED\nEXPIRED: EXPIRED",
                        enum_type=DecisionStatus,
                        max_length=16,
                    ),
                ),
                ("document_number", fields.CharField(null=True, max_length=64)),
                ("decided_on", fields.DateField()),
                ("reason", fields.TextField(null=True, unique=False)),
                ("notice_id", fields.BigIntField(null=True)),
                ("actor_id", fields.IntField(null=True)),
                ("department_id", fields.IntField()),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "decision_status_change",
                "app": "shenguan",
                "indexes": [Index(fields=["decision_id", "id"])],
                "pk_attr": "id",
                "table_description": "One change of a decision's status, with the disposition document (or the expiry). Never deleted.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="EvidenceFile",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("name", fields.CharField(max_length=200)),
                ("file_type", fields.CharField(max_length=8)),
                ("content_type", fields.CharField(max_length=100)),
                ("size", fields.BigIntField()),
                ("sha256", fields.CharField(max_length=64)),
                ("storage_key", fields.CharField(max_length=80)),
                ("department_id", fields.IntField()),
                ("uploaded_by_id", fields.IntField()),
                ("uploaded_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("owner_type", fields.CharField(null=True, max_length=32)),
                ("owner_id", fields.BigIntField(null=True)),
            ],
            options={
                "table": "evidence_file",
                "app": "shenguan",
                "indexes": [Index(fields=["owner_type", "owner_id"])],
                "pk_attr": "id",
                "table_description": "An uploaded evidence file. Never deleted. owner_type and owner_id are set once it is attached.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Notice",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "direction",
                    fields.CharEnumField(
                        description="TO_APPROVAL: TO_APPROVAL\nTO_SUPERVISION: TO_SUPERVISION",
                        enum_type=NoticeDirection,
                        max_length=16,
                    ),
                ),
                (
                    "kind",
                    fields.CharEnumField(
                        description="AMEND: AMEND\nWITHDRAW: WITHDRAW\nREVOKE: REVOKE\nCANCEL: CANCEL\nNOT_CHANGE: NOT_CHANGE\nPENALTY: PENALTY",
                        enum_type=NoticeKind,
                        max_length=16,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=NoticeStatus.RECEIVED,
                        description="RECEIVED: RECEIVED\nUNDER_REVIEW: UNDER_REVIEW\nMEETING_SCHEDULED: MEETING_SCHEDULED\nDECIDED: DECIDED",
                        enum_type=NoticeStatus,
                        max_length=20,
                    ),
                ),
                (
                    "decision",
                    fields.ForeignKeyField(
                        "shenguan.Decision",
                        source_field="decision_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="notices",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("sender_department_id", fields.IntField()),
                ("recipient_department_id", fields.IntField()),
                ("document_number", fields.CharField(null=True, max_length=64)),
                ("reasons", fields.TextField(unique=False)),
                ("reply_working_days", fields.IntField()),
                ("sent_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("sent_by_id", fields.IntField()),
                ("review_started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("review_started_by_id", fields.IntField(null=True)),
                ("meeting_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("meeting_place", fields.CharField(null=True, max_length=200)),
                ("meeting_scheduled_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("meeting_scheduled_by_id", fields.IntField(null=True)),
                (
                    "outcome",
                    fields.CharEnumField(
                        null=True,
                        description="ACCEPTED: ACCEPTED\nREJECTED: REJECTED",
                        enum_type=NoticeOutcome,
                        max_length=16,
                    ),
                ),
                ("outcome_reasons", fields.TextField(null=True, unique=False)),
                ("decided_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("decided_by_id", fields.IntField(null=True)),
                ("replied_late", fields.BooleanField(default=False)),
            ],
            options={
                "table": "notice",
                "app": "shenguan",
                "indexes": [
                    Index(fields=["sender_department_id", "id"]),
                    Index(fields=["recipient_department_id", "id"]),
                    Index(fields=["decision_id"]),
                ],
                "pk_attr": "id",
                "table_description": "A formal notice between an approval and a supervision department about one decision. Never deleted.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SupervisionAction",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "department",
                    fields.ForeignKeyField(
                        "shenguan.Department",
                        source_field="department_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "kind",
                    fields.CharEnumField(
                        description="SUSPENSION_ORDER: SUSPENSION_ORDER\nLICENCE_REVOCATION: LICENCE_REVOCATION\nFINE: FINE\nRECTIFICATION_ORDER: RECTIFICATION_ORDER\nOTHER: OTHER",
                        enum_type=ActionKind,
                        max_length=24,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=ActionStatus.RECORDED,
                        description="RECORDED: RECORDED\nPENDING: PENDING\nCLAIMED: CLAIMED\nRETURNED: RETURNED",
                        enum_type=ActionStatus,
                        max_length=16,
                    ),
                ),
                ("penalty_document_number", fields.CharField(max_length=64)),
                ("penalty_decided_on", fields.DateField()),
                ("push_due_on", fields.DateField()),
                ("target_department_id", fields.IntField()),
                (
                    "decisions",
                    fields.ManyToManyField(
                        "shenguan.Decision",
                        unique=True,
                        db_constraint=True,
                        through="supervision_action_decision",
                        forward_key="decision_id",
                        backward_key="supervision_action_id",
                        related_name="supervision_actions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("counterparty_name", fields.CharField(max_length=128)),
                (
                    "counterparty_kind",
                    fields.CharEnumField(
                        null=True,
                        description="PERSON: PERSON\nORGANIZATION: ORGANIZATION",
                        enum_type=CounterpartyKind,
                        max_length=16,
                    ),
                ),
                ("id_number", fields.CharField(null=True, max_length=18)),
                ("credit_code", fields.CharField(null=True, max_length=18)),
                ("affects_licence", fields.BooleanField(default=True)),
                ("content", fields.TextField(unique=False)),
                ("created_by_id", fields.IntField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "channel",
                    fields.CharEnumField(
                        null=True, description="PLATFORM: PLATFORM\nOFFLINE: OFFLINE", enum_type=Channel, max_length=16
                    ),
                ),
                ("pushed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("pushed_on", fields.DateField(null=True)),
                ("pushed_by_id", fields.IntField(null=True)),
                ("pushed_late", fields.BooleanField(default=False)),
                (
                    "offline_channel",
                    fields.CharEnumField(
                        null=True,
                        description="OFFICIAL_LETTER: OFFICIAL_LETTER\nCASE_FILE_TRANSFER: CASE_FILE_TRANSFER\nCOORDINATION_MEETING: COORDINATION_MEETING",
                        enum_type=OfflineChannel,
                        max_length=24,
                    ),
                ),
                ("offline_reference", fields.CharField(null=True, max_length=128)),
                ("claimed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("claimed_by_id", fields.IntField(null=True)),
                ("claimed_late", fields.BooleanField(default=False)),
                ("returned_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("returned_by_id", fields.IntField(null=True)),
                ("return_reason", fields.CharField(null=True, max_length=500)),
                (
                    "previous_pushes",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
            ],
            options={
                "table": "supervision_action",
                "app": "shenguan",
                "indexes": [Index(fields=["department_id", "id"]), Index(fields=["target_department_id", "id"])],
                "pk_attr": "id",
                "table_description": "A supervision action (监管信息) of a supervision department about a licence holder. Never deleted.",
            },
            bases=["Model"],
        ),
        ops.RunSQL(
            "CREATE INDEX idx_decision_status_valid_until ON decision (status, valid_until)",
            reverse_sql="DROP INDEX idx_decision_status_valid_until",
        ),
    ]
