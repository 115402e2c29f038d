"""The domain's enumerations, exposed as GraphQL enums of the same names."""

from __future__ import annotations

import strawberry

from models.enums import (
    AdminLevel,
    Channel,
    CounterpartyKind,
    DecisionStatus,
    DepartmentKind,
    PushStatus,
    ResponsibilityKind,
    Role,
)
from models.event import EventKind

for _enum in (AdminLevel, Channel, CounterpartyKind, DecisionStatus, DepartmentKind, PushStatus, ResponsibilityKind, Role):
    strawberry.enum(_enum)
strawberry.enum(EventKind, name="EventKind", description="What happened.")

__all__ = [
    "AdminLevel",
    "Channel",
    "CounterpartyKind",
    "DecisionStatus",
    "DepartmentKind",
    "EventKind",
    "PushStatus",
    "ResponsibilityKind",
    "Role",
]
