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


class ObligationStatus(StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class ReportKind(StrEnum):
    MONTHLY = "MONTHLY"
    ON_DEMAND = "ON_DEMAND"


class PoolStatus(StrEnum):
    """Art. 22: an expert's or agency's standing in the approval department's pool."""

    PROPOSED = "PROPOSED"
    APPROVED = "APPROVED"
    SUSPENDED = "SUSPENDED"
    REJECTED = "REJECTED"


class InspectionKind(StrEnum):
    REVIEW = "REVIEW"
    SITE_SURVEY = "SITE_SURVEY"
    INSPECTION = "INSPECTION"
    TESTING = "TESTING"


class InspectionStatus(StrEnum):
    PLANNED = "PLANNED"
    CLOSED = "CLOSED"


class InvitationStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"


class InspectionOpinionKind(StrEnum):
    AGREE = "AGREE"
    AGREE_WITH_CONDITIONS = "AGREE_WITH_CONDITIONS"
    DISAGREE = "DISAGREE"


class VerificationMethod(StrEnum):
    ON_SITE = "ON_SITE"
    DOCUMENTS = "DOCUMENTS"
    ONLINE_DATA = "ONLINE_DATA"


class ResponsibleSide(StrEnum):
    APPROVAL = "APPROVAL"
    SUPERVISION = "SUPERVISION"


class VerificationStatus(StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"
    EXEMPT = "EXEMPT"


class VerificationResult(StrEnum):
    TRUE = "TRUE"
    FALSE = "FALSE"


class CommitmentOutcomeKind(StrEnum):
    """Art. 24: what follows a false commitment."""

    TERMINATE = "TERMINATE"
    RECTIFY = "RECTIFY"
    REVOKE = "REVOKE"
    PENALTY = "PENALTY"


class OutcomeStatus(StrEnum):
    REQUESTED = "REQUESTED"
    DONE = "DONE"
