"""Indexes the benchmarks called for: inbox pages in order at any depth, pushes by decision,
recipients by event (bench/RESULTS.md)."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0002_seed_calendar")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="DecisionPush",
            index=Index(fields=["department_id", "claim_deadline", "id"]),
        ),
        ops.AddIndex(
            model_name="DecisionPush",
            index=Index(fields=["decision_id"]),
        ),
        ops.AddIndex(
            model_name="EventRecipient",
            index=Index(fields=["event_id"]),
        ),
    ]
