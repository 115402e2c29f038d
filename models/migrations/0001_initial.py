import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.enums import (
    AdminLevel,
    CalendarSource,
    CalendarYearStatus,
    Channel,
    CounterpartyKind,
    DecisionStatus,
    DepartmentKind,
    PushStatus,
    ResponsibilityKind,
)
from models.event import EventKind


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="AuditRecord",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("actor_id", fields.IntField(null=True)),
                ("department_id", fields.IntField(null=True)),
                ("action", fields.CharField(max_length=64)),
                ("object_type", fields.CharField(default="", max_length=32)),
                ("object_id", fields.CharField(default="", max_length=64)),
                ("address", fields.CharField(default="", max_length=64)),
                (
                    "detail",
                    fields.JSONField(
                        default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
            ],
            options={
                "table": "audit_record",
                "app": "shenguan",
                "indexes": [Index(fields=["object_type", "object_id"]), Index(fields=["actor_id", "at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CalendarDay",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("day", fields.DateField(unique=True)),
                ("is_workday", fields.BooleanField()),
                ("name", fields.CharField(default="", max_length=64)),
                (
                    "source",
                    fields.CharEnumField(
                        description="PACKAGE: PACKAGE\nADMIN: ADMIN", enum_type=CalendarSource, max_length=16
                    ),
                ),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "calendar_day",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "A day that breaks the weekend rule: a statutory holiday or a make-up workday (调休).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CalendarState",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("version", fields.IntField(default=0)),
            ],
            options={
                "table": "calendar_state",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "One row whose version changes with every calendar edit, so every process reloads.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CalendarYear",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("year", fields.IntField(unique=True)),
                (
                    "status",
                    fields.CharEnumField(
                        description="OFFICIAL: OFFICIAL\nPROVISIONAL: PROVISIONAL",
                        enum_type=CalendarYearStatus,
                        max_length=16,
                    ),
                ),
                (
                    "source",
                    fields.CharEnumField(
                        description="PACKAGE: PACKAGE\nADMIN: ADMIN", enum_type=CalendarSource, max_length=16
                    ),
                ),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "calendar_year",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "Whether the schedule of a year is official (published) or provisional (weekends only).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Department",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("code", fields.CharField(unique=True, max_length=64)),
                ("name", fields.CharField(max_length=128)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="APPROVAL: APPROVAL\nSUPERVISION: SUPERVISION",
                        enum_type=DepartmentKind,
                        max_length=16,
                    ),
                ),
                (
                    "level",
                    fields.CharEnumField(description="CITY: CITY\nCOUNTY: COUNTY", enum_type=AdminLevel, max_length=16),
                ),
                ("region_code", fields.CharField(max_length=6)),
                (
                    "parent",
                    fields.ForeignKeyField(
                        "shenguan.Department",
                        source_field="parent_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="children",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "department",
                "app": "shenguan",
                "indexes": [Index(fields=["kind", "level"]), Index(fields=["region_code"])],
                "pk_attr": "id",
                "table_description": "A department at city or county level, on the approval or the supervision side.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ApprovalItem",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("code", fields.CharField(unique=True, max_length=64)),
                ("name", fields.CharField(max_length=128)),
                ("legal_basis", fields.CharField(max_length=512)),
                ("commitment_based", fields.BooleanField(default=False)),
                ("joint_inspection", fields.BooleanField(default=False)),
                (
                    "responsibility",
                    fields.CharEnumField(
                        default=ResponsibilityKind.NORMAL,
                        description="NORMAL: NORMAL\nABOLISHED: ABOLISHED\nFILING: FILING\nDELEGATED: DELEGATED\nENTRUSTED: ENTRUSTED",
                        enum_type=ResponsibilityKind,
                        max_length=16,
                    ),
                ),
                ("is_active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "supervisors",
                    fields.ManyToManyField(
                        "shenguan.Department",
                        unique=True,
                        db_constraint=True,
                        through="item_supervisor",
                        forward_key="department_id",
                        backward_key="approval_item_id",
                        related_name="supervised_items",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
            ],
            options={
                "table": "approval_item",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "A kind of licence in the catalogue, with the departments that supervise it.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Event",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("seq", fields.BigIntField(null=True, unique=True)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="PUSH_CREATED: PUSH_CREATED\nPUSH_CLAIMED: PUSH_CLAIMED\nPUSH_RETURNED: PUSH_RETURNED\nPUSH_REMINDER: PUSH_REMINDER\nPUSH_OVERDUE: PUSH_OVERDUE\nDECISION_STATUS_CHANGED: DECISION_STATUS_CHANGED\nCALENDAR_CHANGED: CALENDAR_CHANGED\nDEADLINE_MOVED: DEADLINE_MOVED\nACCESS_CHANGED: ACCESS_CHANGED",
                        enum_type=EventKind,
                        max_length=32,
                    ),
                ),
                ("subject_type", fields.CharField(max_length=32)),
                ("subject_id", fields.BigIntField()),
                (
                    "roles",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "payload",
                    fields.JSONField(
                        default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("sequenced_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("published_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "event",
                "app": "shenguan",
                "indexes": [Index(fields=["published_at", "seq"])],
                "pk_attr": "id",
                "table_description": "One thing someone must hear about, with seq as its cursor (set after commit).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="EventRecipient",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "event",
                    fields.ForeignKeyField(
                        "shenguan.Event",
                        source_field="event_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="recipients",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("department_id", fields.IntField()),
            ],
            options={
                "table": "event_recipient",
                "app": "shenguan",
                "unique_together": (("department_id", "event_id"),),
                "pk_attr": "id",
                "table_description": "The audience of an event: one row per department that may see it.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("username", fields.CharField(unique=True, max_length=64)),
                ("password_hash", fields.CharField(max_length=256)),
                ("display_name", fields.CharField(max_length=64)),
                (
                    "department",
                    fields.ForeignKeyField(
                        "shenguan.Department",
                        source_field="department_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="users",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "roles",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("is_active", fields.BooleanField(default=True)),
                ("token_version", fields.IntField(default=1)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "user_account",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "An account, never deleted, only disabled. token_version revokes issued tokens.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Decision",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "issuer",
                    fields.ForeignKeyField(
                        "shenguan.Department",
                        source_field="issuer_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="decisions",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "item",
                    fields.ForeignKeyField(
                        "shenguan.ApprovalItem",
                        source_field="item_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="decisions",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("document_number", fields.CharField(max_length=64)),
                ("content", fields.TextField(unique=False)),
                ("approved_on", fields.DateField()),
                ("valid_from", fields.DateField(null=True)),
                ("valid_until", fields.DateField(null=True)),
                (
                    "channel",
                    fields.CharEnumField(
                        default=Channel.PLATFORM,
                        description="PLATFORM: PLATFORM\nOFFLINE: OFFLINE",
                        enum_type=Channel,
                        max_length=16,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=DecisionStatus.VALID,
                        description="VALID: VALID\nAMENDED: AMENDED\nWITHDRAWN: WITHDRAWN\nREVOKED: REVOKED\nCANCELLED: CANCELLED\nEXPIRED: EXPIRED",
                        enum_type=DecisionStatus,
                        max_length=16,
                    ),
                ),
                ("counterparty_name", fields.CharField(max_length=128)),
                (
                    "counterparty_kind",
                    fields.CharEnumField(
                        description="PERSON: PERSON\nORGANIZATION: ORGANIZATION",
                        enum_type=CounterpartyKind,
                        max_length=16,
                    ),
                ),
                ("id_number", fields.CharField(null=True, max_length=18)),
                ("credit_code", fields.CharField(null=True, max_length=18)),
                ("contact_name", fields.CharField(null=True, max_length=64)),
                ("phone", fields.CharField(null=True, max_length=20)),
                ("address", fields.CharField(null=True, max_length=256)),
                ("content_hash", fields.CharField(max_length=64)),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "shenguan.User",
                        source_field="created_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "decision",
                "app": "shenguan",
                "unique_together": (("issuer_id", "document_number"),),
                "indexes": [Index(fields=["issuer_id", "created_at"])],
                "pk_attr": "id",
                "table_description": "An issued licence (审批决定), with its counterparty (行政相对人).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="DecisionPush",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "decision",
                    fields.ForeignKeyField(
                        "shenguan.Decision",
                        source_field="decision_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="pushes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "department",
                    fields.ForeignKeyField(
                        "shenguan.Department",
                        source_field="department_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="pushes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=PushStatus.PENDING,
                        description="PENDING: PENDING\nCLAIMED: CLAIMED\nRETURNED: RETURNED",
                        enum_type=PushStatus,
                        max_length=16,
                    ),
                ),
                ("pushed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("claim_due_on", fields.DateField()),
                ("claim_deadline", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("deadline_provisional", fields.BooleanField(default=False)),
                ("claimed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "claimed_by",
                    fields.ForeignKeyField(
                        "shenguan.User",
                        source_field="claimed_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("claimed_late", fields.BooleanField(default=False)),
                ("return_reason", fields.CharField(null=True, max_length=500)),
                ("returned_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "returned_by",
                    fields.ForeignKeyField(
                        "shenguan.User",
                        source_field="returned_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "rerouted_from",
                    fields.ForeignKeyField(
                        "shenguan.DecisionPush",
                        source_field="rerouted_from_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("reminded_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("overdue_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "decision_push",
                "app": "shenguan",
                "indexes": [
                    Index(fields=["department_id", "status", "claim_deadline", "id"]),
                    Index(fields=["status", "claim_deadline"]),
                ],
                "pk_attr": "id",
                "table_description": "A decision pushed to one supervising department, to be claimed within 3 working days.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="LiaisonAppointment",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "department",
                    fields.ForeignKeyField(
                        "shenguan.Department",
                        source_field="department_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="liaisons",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "shenguan.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="liaison_terms",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("title", fields.CharField(max_length=64)),
                ("phone", fields.CharField(max_length=20)),
                ("started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("ended_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "appointed_by",
                    fields.ForeignKeyField(
                        "shenguan.User",
                        source_field="appointed_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
            ],
            options={
                "table": "liaison_appointment",
                "app": "shenguan",
                "indexes": [Index(fields=["department_id", "ended_at"])],
                "pk_attr": "id",
                "table_description": "Art. 27–28: one term of a liaison officer, from appointment until replaced or removed.",
            },
            bases=["Model"],
        ),
    ]
