"""Art. 22 pools, joint inspections and expert draws; Art. 24 verification plans, tasks, outcomes, credit records.

Items gain their verification plan and decisions the commitment_based flag (both default to none/false).
"""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from models.enums import (
    CommitmentOutcomeKind,
    CounterpartyKind,
    InspectionKind,
    InspectionOpinionKind,
    InspectionStatus,
    InvitationStatus,
    OutcomeStatus,
    PoolStatus,
    ResponsibleSide,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
)


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0008_liaison")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Agency",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("pool_department_id", fields.IntField(db_index=True)),
                ("name", fields.CharField(max_length=128)),
                ("credit_code", fields.CharField(max_length=18)),
                ("qualification", fields.CharField(max_length=256)),
                ("valid_from", fields.DateField()),
                ("valid_until", fields.DateField()),
                (
                    "recommended_by",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=PoolStatus.PROPOSED,
                        description="PROPOSED: PROPOSED\nAPPROVED: APPROVED\nSUSPENDED: SUSPENDED\nREJECTED: REJECTED",
                        enum_type=PoolStatus,
                        max_length=16,
                    ),
                ),
                ("status_reason", fields.CharField(null=True, max_length=500)),
                ("proposed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("reviewed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "pool_agency",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "A qualified intermediary agency (中介机构) in the pool of an approval department. Never deleted.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CommitmentOutcome",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("verification_id", fields.BigIntField(db_index=True)),
                ("decision_id", fields.BigIntField()),
                ("issuer_id", fields.IntField()),
                ("verifier_id", fields.IntField()),
                ("department_id", fields.IntField(db_index=True)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="TERMINATE: TERMINATE\nRECTIFY: RECTIFY\nREVOKE: REVOKE\nPENALTY: PENALTY",
                        enum_type=CommitmentOutcomeKind,
                        max_length=16,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=OutcomeStatus.REQUESTED,
                        description="REQUESTED: REQUESTED\nDONE: DONE",
                        enum_type=OutcomeStatus,
                        max_length=16,
                    ),
                ),
                ("note", fields.TextField(unique=False)),
                ("rectify_by", fields.DateField(null=True)),
                ("done_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("done_note", fields.TextField(null=True, unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "commitment_outcome",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "What follows a false commitment: terminate, rectify by a date, revoke, or a penalty. Never deleted.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CreditRecord",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("lookup_key", fields.CharField(db_index=True, max_length=80)),
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
                ("decision_id", fields.BigIntField()),
                ("verification_id", fields.BigIntField()),
                ("issuer_id", fields.IntField()),
                ("recorded_by_department_id", fields.IntField()),
                ("reason", fields.TextField(unique=False)),
                ("referred_to_judiciary", fields.BooleanField(default=False)),
                ("referral_reference", fields.CharField(null=True, max_length=64)),
                ("recorded_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "credit_record",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "A false commitment on the record of a counterparty (信用记录), found by its lookup key. Never deleted.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Expert",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("pool_department_id", fields.IntField(db_index=True)),
                ("name", fields.CharField(max_length=64)),
                ("field", fields.CharField(db_index=True, max_length=64)),
                ("title", fields.CharField(max_length=64)),
                ("employer", fields.CharField(max_length=128)),
                ("phone", fields.CharField(max_length=20)),
                (
                    "recommended_by",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("is_available", fields.BooleanField(default=True)),
                (
                    "conflicts",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=PoolStatus.PROPOSED,
                        description="PROPOSED: PROPOSED\nAPPROVED: APPROVED\nSUSPENDED: SUSPENDED\nREJECTED: REJECTED",
                        enum_type=PoolStatus,
                        max_length=16,
                    ),
                ),
                ("status_reason", fields.CharField(null=True, max_length=500)),
                ("proposed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("reviewed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "pool_expert",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "An expert proposed by supervision departments for joint inspections (专家库). Never deleted.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ExpertDraw",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("task_id", fields.BigIntField(db_index=True)),
                ("field", fields.CharField(max_length=64)),
                ("count", fields.IntField()),
                ("lookback_days", fields.IntField()),
                ("seed", fields.BigIntField()),
                (
                    "candidates",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "exclusions",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "result",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("drawn_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("drawn_by_id", fields.IntField()),
            ],
            options={
                "table": "expert_draw",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "One draw: the seed, the sorted candidates, the exclusions with reasons and the result. Never changed.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="InspectionInvitation",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("task_id", fields.BigIntField(db_index=True)),
                ("department_id", fields.IntField(db_index=True)),
                (
                    "status",
                    fields.CharEnumField(
                        default=InvitationStatus.PENDING,
                        description="PENDING: PENDING\nACCEPTED: ACCEPTED\nDECLINED: DECLINED",
                        enum_type=InvitationStatus,
                        max_length=16,
                    ),
                ),
                ("reason", fields.CharField(null=True, max_length=500)),
                ("replied_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("replied_by_id", fields.IntField(null=True)),
            ],
            options={
                "table": "inspection_invitation",
                "app": "shenguan",
                "unique_together": (("task_id", "department_id"),),
                "pk_attr": "id",
                "table_description": "A supervision department invited to a task, which accepts or declines (with a reason) in 2 working days.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="InspectionOpinion",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("task_id", fields.BigIntField(db_index=True)),
                ("department_id", fields.IntField(null=True)),
                ("expert_id", fields.IntField(null=True)),
                (
                    "opinion",
                    fields.CharEnumField(
                        description="AGREE: AGREE\nAGREE_WITH_CONDITIONS: AGREE_WITH_CONDITIONS\nDISAGREE: DISAGREE",
                        enum_type=InspectionOpinionKind,
                        max_length=32,
                    ),
                ),
                ("text", fields.TextField(unique=False)),
                ("recorded_by_id", fields.IntField()),
                ("recorded_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "inspection_opinion",
                "app": "shenguan",
                "unique_together": (("task_id", "department_id", "expert_id"),),
                "pk_attr": "id",
                "table_description": "The opinion of one participant: a department, or an expert as recorded by the organiser.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="InspectionTask",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("organiser_id", fields.IntField(db_index=True)),
                ("item_id", fields.IntField()),
                ("decision_id", fields.BigIntField(null=True, db_index=True)),
                ("application_reference", fields.CharField(null=True, max_length=64)),
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
                ("site", fields.CharField(max_length=256)),
                ("planned_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="REVIEW: REVIEW\nSITE_SURVEY: SITE_SURVEY\nINSPECTION: INSPECTION\nTESTING: TESTING",
                        enum_type=InspectionKind,
                        max_length=16,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=InspectionStatus.PLANNED,
                        description="PLANNED: PLANNED\nCLOSED: CLOSED",
                        enum_type=InspectionStatus,
                        max_length=16,
                    ),
                ),
                ("conclusion", fields.TextField(null=True, unique=False)),
                ("closed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_by_id", fields.IntField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "inspection_task",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "A joint site inspection or review (联合踏勘评审) of an application or a decision. Never deleted.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="VerificationTask",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("decision_id", fields.BigIntField(db_index=True)),
                ("issuer_id", fields.IntField(db_index=True)),
                ("department_id", fields.IntField(db_index=True)),
                (
                    "side",
                    fields.CharEnumField(
                        null=True,
                        description="APPROVAL: APPROVAL\nSUPERVISION: SUPERVISION",
                        enum_type=ResponsibleSide,
                        max_length=16,
                    ),
                ),
                (
                    "method",
                    fields.CharEnumField(
                        null=True,
                        description="ON_SITE: ON_SITE\nDOCUMENTS: DOCUMENTS\nONLINE_DATA: ONLINE_DATA",
                        enum_type=VerificationMethod,
                        max_length=16,
                    ),
                ),
                ("standard", fields.CharField(null=True, max_length=512)),
                (
                    "status",
                    fields.CharEnumField(
                        description="OPEN: OPEN\nDONE: DONE\nEXEMPT: EXEMPT",
                        enum_type=VerificationStatus,
                        max_length=16,
                    ),
                ),
                ("due_on", fields.DateField(null=True)),
                (
                    "result",
                    fields.CharEnumField(
                        null=True, description="TRUE: TRUE\nFALSE: FALSE", enum_type=VerificationResult, max_length=8
                    ),
                ),
                ("note", fields.TextField(null=True, unique=False)),
                ("recorded_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("recorded_by_id", fields.IntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "verification_task",
                "app": "shenguan",
                "pk_attr": "id",
                "table_description": "Checking one commitment-based decision (核查), by the department the plan of the item names. Never deleted.",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="ApprovalItem",
            name="verification_days",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="ApprovalItem",
            name="verification_exempt",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name="ApprovalItem",
            name="verification_method",
            field=fields.CharEnumField(
                null=True,
                description="ON_SITE: ON_SITE\nDOCUMENTS: DOCUMENTS\nONLINE_DATA: ONLINE_DATA",
                enum_type=VerificationMethod,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="ApprovalItem",
            name="verification_side",
            field=fields.CharEnumField(
                null=True,
                description="APPROVAL: APPROVAL\nSUPERVISION: SUPERVISION",
                enum_type=ResponsibleSide,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="ApprovalItem",
            name="verification_standard",
            field=fields.CharField(null=True, max_length=512),
        ),
        ops.AddField(
            model_name="Decision",
            name="commitment_based",
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
