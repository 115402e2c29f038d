"""Enumerations shared by the domain and the schema."""

from __future__ import annotations

from enum import StrEnum


class DepartmentKind(StrEnum):
    APPROVAL = "APPROVAL"
    SUPERVISION = "SUPERVISION"


class AdminLevel(StrEnum):
    CITY = "CITY"
    COUNTY = "COUNTY"


class Role(StrEnum):
    ADMIN = "ADMIN"
    LIAISON = "LIAISON"
    OFFICER = "OFFICER"
    LEADER = "LEADER"
    INTEGRATION = "INTEGRATION"
    AUDITOR = "AUDITOR"  # Art. 9: reads the audit trail, nothing else's personal data


class CounterpartyKind(StrEnum):
    PERSON = "PERSON"
    ORGANIZATION = "ORGANIZATION"


class Channel(StrEnum):
    PLATFORM = "PLATFORM"
    OFFLINE = "OFFLINE"


class PushStatus(StrEnum):
    PENDING = "PENDING"
    CLAIMED = "CLAIMED"
    RETURNED = "RETURNED"


class DecisionStatus(StrEnum):
    VALID = "VALID"
    AMENDED = "AMENDED"
    WITHDRAWN = "WITHDRAWN"
    REVOKED = "REVOKED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class ResponsibilityKind(StrEnum):
    """Art. 23: how supervision responsibility follows an item."""

    NORMAL = "NORMAL"
    ABOLISHED = "ABOLISHED"
    FILING = "FILING"
    DELEGATED = "DELEGATED"
    ENTRUSTED = "ENTRUSTED"


class CalendarYearStatus(StrEnum):
    OFFICIAL = "OFFICIAL"
    PROVISIONAL = "PROVISIONAL"


class CalendarSource(StrEnum):
    PACKAGE = "PACKAGE"
    ADMIN = "ADMIN"
