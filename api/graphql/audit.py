"""The audit trail in the schema (Art. 9): a paged, filtered read for auditors; no mutation touches it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.graphql.base import Connection, Node, from_global_id, given, global_id, query_errors, to_global_id
from api.graphql.pagination import paginate
from models import audit
from models.enums import Role


@strawberry.type(
    name="AuditRecord",
    description="One audited action: who, which department, what, on which record, when, from where.",
)
class AuditEntry(Node):
    row: strawberry.Private[audit.AuditRecord]

    id: strawberry.ID = global_id("AuditRecord")

    @strawberry.field
    def at(self) -> datetime:
        return self.row.at

    @strawberry.field(description="Global id of the acting user (null: anonymous, e.g. a failed login).")
    def actor_id(self) -> strawberry.ID | None:
        return to_global_id("User", self.row.actor_id) if self.row.actor_id is not None else None

    @strawberry.field
    def department_id(self) -> strawberry.ID | None:
        return to_global_id("Department", self.row.department_id) if self.row.department_id is not None else None

    @strawberry.field(description="The operation, e.g. issueDecision, login_failed, reveal_counterparty.")
    def action(self) -> str:
        return self.row.action

    @strawberry.field
    def object_type(self) -> str:
        return self.row.object_type

    @strawberry.field
    def object_id(self) -> str:
        return self.row.object_id

    @strawberry.field(description="The client address the request came from.")
    def address(self) -> str:
        return self.row.address

    @strawberry.field
    def detail(self) -> JSON:
        value: Any = self.row.detail
        return value  # type: ignore[no-any-return]

    @strawberry.field(description="Hash of the previous record (the chain link).")
    def prev_hash(self) -> str:
        return self.row.prev_hash

    @strawberry.field(description="SHA-256 over this record's fields and prevHash.")
    def row_hash(self) -> str:
        return self.row.row_hash


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Auditors only: the audit trail, oldest first, with optional filters.")
    async def audit_records(
        self,
        info: Info,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        actor_id: strawberry.ID | None = strawberry.UNSET,
        object_type: str | None = strawberry.UNSET,
        since: Annotated[datetime | None, strawberry.argument(name="from")] = strawberry.UNSET,
        until: Annotated[datetime | None, strawberry.argument(name="to")] = strawberry.UNSET,
    ) -> Connection[AuditEntry]:
        viewer = info.context.require_role(Role.AUDITOR)
        actor = given(actor_id)
        with query_errors():
            actor_pk = from_global_id(actor, "User", field="actorId")[1] if actor else None
        query = audit.audit_records(
            viewer,
            actor_id=actor_pk,
            object_type=given(object_type),
            since=given(since),
            until=given(until),
        )
        return await paginate(
            query, keys=("id",), samples=(0,), first=given(first), after=given(after), wrap=lambda r: AuditEntry(row=r)
        )
