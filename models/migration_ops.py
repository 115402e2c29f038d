"""Migration operations of our own, for hand-written migrations."""

from __future__ import annotations

from tortoise.migrations.operations import TortoiseOperation
from tortoise.migrations.schema_generator.state import State


class StateOnly(TortoiseOperation):
    """Record a change in the migration state without touching the database.

    For changes an earlier migration already made by hand (raw SQL in a RunPython step): replaying
    them as generated operations would rebuild whole tables on SQLite.
    """

    def __init__(self, operation: TortoiseOperation) -> None:
        self.operation = operation

    def describe(self) -> str:
        return f"{self.operation.describe()} (state only)"

    def state_forward(self, app_label: str, state: State) -> None:
        self.operation.state_forward(app_label, state)
