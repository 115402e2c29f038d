"""Art. 22 pools in the schema: experts and agencies, proposed by supervision, approved by the approval side."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.context import Context, Info
from api.graphql.base import Connection, Node, UserError, given, global_id
from api.graphql.mutation import attempt, pk_of, run
from api.graphql.nodes import node_loader
from api.graphql.pagination import paginate
from api.graphql.types import Department
from models import pool as pl
from models.enums import PoolStatus, Role
from models.identifiers import citizen_id_is_valid, mask_citizen_id, mask_phone

strawberry.enum(PoolStatus)
POOL_ROLES = (Role.ADMIN, Role.OFFICER, Role.LIAISON)


async def _departments(info: Info, ids: list[int]) -> list[Department]:
    rows = await info.context.loaders.department.load_many(ids)
    return [Department(row=r) for r in rows if r is not None]


def _masked_identifier(value: str) -> str:
    return mask_citizen_id(value) if citizen_id_is_valid(value) else value


@strawberry.type(description="An expert in the approval department's pool (专家库), Art. 22.")
class Expert(Node):
    row: strawberry.Private[pl.Expert]

    id: strawberry.ID = global_id("Expert")

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="Field of expertise; experts are drawn by field.")
    def field(self) -> str:
        return self.row.field

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def employer(self) -> str:
        return self.row.employer

    @strawberry.field(description="Masked (138****5678).")
    def phone(self) -> str:
        return mask_phone(self.row.phone)

    @strawberry.field
    def status(self) -> PoolStatus:
        return self.row.status

    @strawberry.field(description="Why it was rejected or suspended.")
    def status_reason(self) -> str | None:
        return self.row.status_reason

    @strawberry.field(description="False: stays in the pool but is not drawn.")
    def is_available(self) -> bool:
        return self.row.is_available

    @strawberry.field(description="Counterparties the expert must not review (USCC, or citizen ID masked).")
    def conflicts(self) -> list[str]:
        return [_masked_identifier(c) for c in pl.conflicts_of(self.row)]

    @strawberry.field
    async def pool_department(self, info: Info) -> Department:
        return (await _departments(info, [self.row.pool_department_id]))[0]

    @strawberry.field(description="The supervision departments that recommended the expert.")
    async def recommended_by(self, info: Info) -> list[Department]:
        return await _departments(info, self.row.recommended_by)

    @strawberry.field
    def proposed_at(self) -> datetime:
        return self.row.proposed_at

    @strawberry.field
    def reviewed_at(self) -> datetime | None:
        return self.row.reviewed_at


@strawberry.type(description="A qualified intermediary agency in the pool (中介机构库), Art. 22.")
class Agency(Node):
    row: strawberry.Private[pl.Agency]

    id: strawberry.ID = global_id("Agency")

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def credit_code(self) -> str:
        return self.row.credit_code

    @strawberry.field
    def qualification(self) -> str:
        return self.row.qualification

    @strawberry.field
    def valid_from(self) -> date:
        return self.row.valid_from

    @strawberry.field
    def valid_until(self) -> date:
        return self.row.valid_until

    @strawberry.field
    def status(self) -> PoolStatus:
        return self.row.status

    @strawberry.field
    def status_reason(self) -> str | None:
        return self.row.status_reason

    @strawberry.field
    async def pool_department(self, info: Info) -> Department:
        return (await _departments(info, [self.row.pool_department_id]))[0]

    @strawberry.field
    async def recommended_by(self, info: Info) -> list[Department]:
        return await _departments(info, self.row.recommended_by)


@node_loader("Expert")
async def _expert(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(pl.Expert).load(pk)
    return Expert(row=row) if row and pl.can_see_entry(context.require_user(), row) else None


@node_loader("Agency")
async def _agency(context: Context, pk: int) -> Node | None:
    row = await context.loaders.of(pl.Agency).load(pk)
    return Agency(row=row) if row and pl.can_see_entry(context.require_user(), row) else None


@strawberry.input
class ProposeExpertInput:
    pool_department_id: strawberry.ID = strawberry.field(description="The approval department whose pool.")
    name: str
    field: str
    title: str
    employer: str
    phone: str
    conflicts: list[str] = strawberry.field(
        default_factory=list, description="USCCs or citizen IDs of counterparties with a conflict of interest."
    )


@strawberry.input
class ProposeAgencyInput:
    pool_department_id: strawberry.ID
    name: str
    credit_code: str
    qualification: str
    valid_from: date
    valid_until: date


@strawberry.type
class ExpertPayload:
    expert: Expert | None
    errors: list[UserError]


@strawberry.type
class AgencyPayload:
    agency: Agency | None
    errors: list[UserError]


@strawberry.type
class PoolQuery:
    @strawberry.field(description="Experts the viewer may see: its own pool, or those it recommended.")
    async def experts(
        self,
        info: Info,
        status: PoolStatus | None = strawberry.UNSET,
        field: str | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[Expert]:
        query = await pl.visible_entries(info.context.require_user(), pl.Expert)
        if wanted := given(status):
            query = query.filter(status=wanted)
        if wanted_field := given(field):
            query = query.filter(field=wanted_field)
        return await paginate(
            query, keys=("id",), samples=(0,), first=given(first), after=given(after), wrap=lambda r: Expert(row=r)
        )

    @strawberry.field(description="Agencies the viewer may see: its own pool, or those it recommended.")
    async def agencies(
        self,
        info: Info,
        status: PoolStatus | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Connection[Agency]:
        query = await pl.visible_entries(info.context.require_user(), pl.Agency)
        if wanted := given(status):
            query = query.filter(status=wanted)
        return await paginate(
            query, keys=("id",), samples=(0,), first=given(first), after=given(after), wrap=lambda r: Agency(row=r)
        )


def _wrap_expert(row: pl.Expert | None) -> Expert | None:
    return Expert(row=row) if row else None


def _wrap_agency(row: pl.Agency | None) -> Agency | None:
    return Agency(row=row) if row else None


@strawberry.type
class PoolMutation:
    @strawberry.mutation(description="Art. 22: a supervision department proposes an expert to a pool.")
    async def propose_expert(self, info: Info, input: ProposeExpertInput) -> ExpertPayload:
        actor = info.context.require_role(Role.OFFICER, Role.LIAISON)

        async def work() -> pl.Expert:
            return await pl.propose_expert(
                actor,
                pool_department_id=pk_of(input.pool_department_id, "Department", "poolDepartmentId"),
                name=input.name,
                field=input.field,
                title=input.title,
                employer=input.employer,
                phone=input.phone,
                conflicts=list(input.conflicts),
                now=info.context.now(),
            )

        row, errors = await attempt(lambda: run(info, work))
        return ExpertPayload(expert=_wrap_expert(row), errors=errors)

    @strawberry.mutation(description="Art. 22: another supervision department recommends the same expert.")
    async def recommend_expert(self, info: Info, id: strawberry.ID) -> ExpertPayload:
        actor = info.context.require_role(Role.OFFICER, Role.LIAISON)
        row, errors = await attempt(lambda: run(info, lambda: pl.recommend_expert(actor, pk_of(id, "Expert", "id"))))
        return ExpertPayload(expert=_wrap_expert(row), errors=errors)

    @strawberry.mutation(
        description="Art. 22: approve, reject, suspend or reinstate an expert (reason for reject/suspend)."
    )
    async def set_expert_status(
        self, info: Info, id: strawberry.ID, status: PoolStatus, reason: str | None = None
    ) -> ExpertPayload:
        actor = info.context.require_role(*POOL_ROLES)
        row, errors = await attempt(
            lambda: run(
                info,
                lambda: pl.set_entry_status(
                    actor, pl.Expert, pk_of(id, "Expert", "id"), status, reason, now=info.context.now()
                ),
            )
        )
        return ExpertPayload(expert=_wrap_expert(row), errors=errors)

    @strawberry.mutation(description="Mark an expert available or not for draws.")
    async def set_expert_availability(self, info: Info, id: strawberry.ID, available: bool) -> ExpertPayload:
        actor = info.context.require_role(*POOL_ROLES)
        row, errors = await attempt(
            lambda: run(info, lambda: pl.set_expert_availability(actor, pk_of(id, "Expert", "id"), available))
        )
        return ExpertPayload(expert=_wrap_expert(row), errors=errors)

    @strawberry.mutation(description="Art. 22: a supervision department proposes a qualified intermediary agency.")
    async def propose_agency(self, info: Info, input: ProposeAgencyInput) -> AgencyPayload:
        actor = info.context.require_role(Role.OFFICER, Role.LIAISON)

        async def work() -> pl.Agency:
            return await pl.propose_agency(
                actor,
                pool_department_id=pk_of(input.pool_department_id, "Department", "poolDepartmentId"),
                name=input.name,
                credit_code=input.credit_code,
                qualification=input.qualification,
                valid_from=input.valid_from,
                valid_until=input.valid_until,
                now=info.context.now(),
            )

        row, errors = await attempt(lambda: run(info, work))
        return AgencyPayload(agency=_wrap_agency(row), errors=errors)

    @strawberry.mutation(description="Art. 22: approve, reject, suspend or reinstate an agency.")
    async def set_agency_status(
        self, info: Info, id: strawberry.ID, status: PoolStatus, reason: str | None = None
    ) -> AgencyPayload:
        actor = info.context.require_role(*POOL_ROLES)
        row, errors = await attempt(
            lambda: run(
                info,
                lambda: pl.set_entry_status(
                    actor, pl.Agency, pk_of(id, "Agency", "id"), status, reason, now=info.context.now()
                ),
            )
        )
        return AgencyPayload(agency=_wrap_agency(row), errors=errors)


__all__ = ["Agency", "Expert", "PoolMutation", "PoolQuery"]
