"""The domain's enumerations, exposed as GraphQL enums of the same names."""

from __future__ import annotations

import strawberry

from models.enums import (
    AdminLevel,
    Channel,
    CounterpartyKind,
    DecisionStatus,
    DepartmentKind,
    ObligationStatus,
    PushStatus,
    ReportKind,
    ResponsibilityKind,
    Role,
)

DOMAIN_ENUMS = (
    AdminLevel,
    Channel,
    CounterpartyKind,
    DecisionStatus,
    DepartmentKind,
    ObligationStatus,
    PushStatus,
    ReportKind,
    ResponsibilityKind,
    Role,
)
for _enum in DOMAIN_ENUMS:
    strawberry.enum(_enum)

__all__ = [
    "AdminLevel",
    "Channel",
    "CounterpartyKind",
    "DecisionStatus",
    "DepartmentKind",
    "ObligationStatus",
    "PushStatus",
    "ReportKind",
    "ResponsibilityKind",
    "Role",
]
