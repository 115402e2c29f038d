"""Input types of the mutations."""

from __future__ import annotations

from datetime import date

import strawberry

from api.graphql.enums import AdminLevel, Channel, CounterpartyKind, DepartmentKind, ResponsibilityKind, Role


@strawberry.input
class CreateDepartmentInput:
    code: str
    name: str
    kind: DepartmentKind
    level: AdminLevel
    region_code: str = strawberry.field(default="370800", description="6-digit administrative division code.")
    parent_id: strawberry.ID | None = None


@strawberry.input
class CreateUserInput:
    username: str
    password: str
    display_name: str
    department_id: strawberry.ID
    roles: list[Role]


@strawberry.input
class AppointLiaisonInput:
    department_id: strawberry.ID
    user_id: strawberry.ID
    title: str
    phone: str


@strawberry.input
class CreateApprovalItemInput:
    code: str
    name: str
    legal_basis: str
    commitment_based: bool = False
    joint_inspection: bool = False
    supervising_department_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    responsibility: ResponsibilityKind = ResponsibilityKind.NORMAL


@strawberry.input
class CounterpartyInput:
    name: str
    kind: CounterpartyKind
    id_number: str | None = None
    credit_code: str | None = None
    contact_name: str | None = None
    phone: str | None = None
    address: str | None = None


@strawberry.input
class IssueDecisionInput:
    item_id: strawberry.ID
    document_number: str
    content: str
    approved_on: date
    counterparty: CounterpartyInput
    valid_from: date | None = None
    valid_until: date | None = None
    channel: Channel | None = Channel.PLATFORM
    commitment_based: bool | None = strawberry.field(default=False, description="Art. 24: notification-commitment.")


@strawberry.input
class CalendarDayInput:
    day: date
    name: str = ""


@strawberry.input
class PublishCalendarYearInput:
    year: int
    holidays: list[CalendarDayInput]
    make_up_workdays: list[CalendarDayInput]
