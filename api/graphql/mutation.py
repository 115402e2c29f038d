"""Mutations: parse, call models/, map. Input and rule errors come back in `errors`, converted once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from api.auth import issue_token
from api.context import Info
from api.graphql.base import UserError, from_global_id, user_errors
from api.graphql.denials import note_denial
from api.graphql.inputs import (
    AppointLiaisonInput,
    CreateApprovalItemInput,
    CreateDepartmentInput,
    CreateUserInput,
    IssueDecisionInput,
    PublishCalendarYearInput,
)
from api.graphql.query import CalendarYearView, year_view
from api.graphql.types import ApprovalDecision, ApprovalItem, DecisionPush, Department, Liaison, User
from models import account, catalogue, claim, issuance, login_guard, personal_data
from models.audit import record_audit
from models.calendar import current_calendar
from models.db import write_transaction
from models.enums import Channel, Role
from models.errors import DomainError, Forbidden

log = logging.getLogger(__name__)
T = TypeVar("T")


async def run(
    info: Info, work: Callable[[], Awaitable[T]], *, audit: dict[str, Any] | None = None, audited: bool = True
) -> T:
    """One transaction for the change, its events and its audit record; then publish, once.

    `audited=False` is for work that writes its own, more specific audit record.

    A unique-key race (two identical requests at once) is retried once, so the retry sees the winner.
    A refusal rolls everything back; it is audited after the operation (api/graphql/denials.py).
    """
    for attempt in (1, 2):
        try:
            async with write_transaction():
                result = await work()
                if audited:
                    await _audit(info, audit, result)
            break
        except IntegrityError:
            if attempt == 2:
                raise DomainError("数据冲突，请重试", code="CONFLICT") from None
        except Forbidden as refused:
            note_denial(info.field_name, refused.code)
            raise
    await info.context.services.after_commit(info.context.now())
    return result


async def _audit(info: Info, detail: dict[str, Any] | None, result: object = None) -> None:
    """Who did what from where; and which record, when the work returns one."""
    user = info.context.user
    target = result if isinstance(result, Model) else None
    await record_audit(
        info.field_name,
        actor_id=user.id if user else None,
        department_id=user.department_id if user else None,
        object_type=type(target).__name__ if target is not None else "",
        object_id=target.pk if target is not None else "",
        address=info.context.address,
        detail=detail or {},
    )


def pk_of(value: str, type_name: str, field: str) -> int:
    """The key of a global id of the expected type; a typed error naming `field` otherwise."""
    return from_global_id(value, type_name, field=field)[1]


@strawberry.type
class LoginPayload:
    token: str | None
    user: User | None
    errors: list[UserError]
    retry_at: datetime | None = strawberry.field(
        default=None, description="LOGIN_LOCKED: when this account or address may sign in again."
    )


@strawberry.type
class DepartmentPayload:
    department: Department | None
    errors: list[UserError]


@strawberry.type
class UserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class LiaisonPayload:
    liaison: Liaison | None
    errors: list[UserError]


@strawberry.type
class ApprovalItemPayload:
    approval_item: ApprovalItem | None
    errors: list[UserError]


@strawberry.type
class DecisionPayload:
    decision: ApprovalDecision | None
    errors: list[UserError]


@strawberry.type
class DecisionPushPayload:
    push: DecisionPush | None
    errors: list[UserError]


@strawberry.type
class CalendarYearPayload:
    calendar_year: CalendarYearView | None
    moved_deadlines: int
    errors: list[UserError]


@strawberry.type(description="Full personal data of a decision's counterparty; every reveal is audited.")
class CounterpartyReveal:
    id_number: str | None
    phone: str | None


@strawberry.type
class RevealPayload:
    counterparty: CounterpartyReveal | None
    errors: list[UserError]


async def attempt(work: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run a mutation's work; a domain error becomes the payload's `errors` (nothing was written)."""
    try:
        return await work(), []
    except DomainError as error:
        return None, user_errors(error)


def _wrap(row: Any, cls: Callable[..., T]) -> T | None:
    return cls(row=row) if row is not None else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Sign in; returns a signed token for `Authorization: Bearer`.")
    async def login(self, info: Info, username: str, password: str) -> LoginPayload:
        signed = await login_guard.sign_in(username, password, address=info.context.address, now=info.context.now())
        user = signed.user
        if signed.retry_at is not None:
            locked = login_guard.LoginLocked(signed.retry_at)
            return LoginPayload(token=None, user=None, retry_at=signed.retry_at, errors=user_errors(locked))
        if user is None:
            return LoginPayload(
                token=None,
                user=None,
                errors=[
                    UserError(code="INVALID_CREDENTIALS", field="password", message="用户名或密码错误，或账号已停用")
                ],
            )
        settings = info.context.settings
        token = issue_token(
            user, secret=settings.secret_key, ttl_minutes=settings.token_ttl_minutes, now=info.context.now()
        )
        info.context.user = user
        return LoginPayload(token=token, user=User(row=user), errors=[])

    @strawberry.mutation(description="Admin: add a department.")
    async def create_department(self, info: Info, input: CreateDepartmentInput) -> DepartmentPayload:
        info.context.require_role(Role.ADMIN)

        async def work() -> account.Department:
            parent = pk_of(input.parent_id, "Department", "parentId") if input.parent_id else None
            return await account.create_department(
                code=input.code,
                name=input.name,
                kind=input.kind,
                level=input.level,
                region_code=input.region_code,
                parent_id=parent,
            )

        row, errors = await attempt(lambda: run(info, work, audit={"code": input.code}))
        return DepartmentPayload(department=_wrap(row, Department), errors=errors)

    @strawberry.mutation(description="Admin, or a liaison officer for their own department: add an account.")
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        actor = info.context.require_role(Role.ADMIN, Role.LIAISON)

        async def work() -> account.User:
            return await account.create_user(
                actor,
                username=input.username,
                password=input.password,
                display_name=input.display_name,
                department_id=pk_of(input.department_id, "Department", "departmentId"),
                roles=list(input.roles),
            )

        row, errors = await attempt(lambda: run(info, work, audit={"username": input.username}))
        return UserPayload(user=_wrap(row, User), errors=errors)

    @strawberry.mutation(description="Disable (or re-enable) an account; its tokens and sockets stop at once.")
    async def set_user_active(self, info: Info, id: strawberry.ID, active: bool) -> UserPayload:
        actor = info.context.require_role(Role.ADMIN, Role.LIAISON)

        async def work() -> account.User:
            user = await account.set_user_active(actor, pk_of(id, "User", "id"), active=active)
            return user

        row, errors = await attempt(lambda: run(info, work, audit={"user": str(id), "active": active}))
        return UserPayload(user=_wrap(row, User), errors=errors)

    @strawberry.mutation(description="Art. 27: appoint a liaison officer of a department.")
    async def appoint_liaison(self, info: Info, input: AppointLiaisonInput) -> LiaisonPayload:
        actor = info.context.require_role(Role.ADMIN, Role.LIAISON)

        async def work() -> account.LiaisonAppointment:
            return await account.appoint_liaison(
                actor,
                department_id=pk_of(input.department_id, "Department", "departmentId"),
                user_id=pk_of(input.user_id, "User", "userId"),
                title=input.title,
                phone=input.phone,
                now=info.context.now(),
            )

        row, errors = await attempt(lambda: run(info, work))
        return LiaisonPayload(liaison=_wrap(row, Liaison), errors=errors)

    @strawberry.mutation(description="Art. 28: end a liaison officer's term (the history keeps it).")
    async def end_liaison(self, info: Info, id: strawberry.ID) -> LiaisonPayload:
        actor = info.context.require_role(Role.ADMIN, Role.LIAISON)

        async def work() -> account.LiaisonAppointment:
            term = await account.end_liaison(actor, pk_of(id, "Liaison", "id"), now=info.context.now())
            return term

        row, errors = await attempt(lambda: run(info, work))
        return LiaisonPayload(liaison=_wrap(row, Liaison), errors=errors)

    @strawberry.mutation(description="Admin: add an item to the catalogue with its supervising departments.")
    async def create_approval_item(self, info: Info, input: CreateApprovalItemInput) -> ApprovalItemPayload:
        info.context.require_role(Role.ADMIN)

        async def work() -> catalogue.ApprovalItem:
            ids = [
                pk_of(v, "Department", f"supervisingDepartmentIds.{i}")
                for i, v in enumerate(input.supervising_department_ids)
            ]
            return await catalogue.create_approval_item(
                code=input.code,
                name=input.name,
                legal_basis=input.legal_basis,
                commitment_based=input.commitment_based,
                joint_inspection=input.joint_inspection,
                supervising_department_ids=ids,
                responsibility=input.responsibility,
            )

        row, errors = await attempt(lambda: run(info, work, audit={"code": input.code}))
        return ApprovalItemPayload(approval_item=_wrap(row, ApprovalItem), errors=errors)

    @strawberry.mutation(description="Art. 18: issue a decision; it is pushed at once to its supervisors.")
    async def issue_decision(self, info: Info, input: IssueDecisionInput) -> DecisionPayload:
        actor = info.context.require_role(Role.OFFICER, Role.LIAISON, Role.INTEGRATION)

        async def work() -> Any:
            data = issuance.DecisionInput(
                item_id=pk_of(input.item_id, "ApprovalItem", "itemId"),
                document_number=input.document_number,
                content=input.content,
                approved_on=input.approved_on,
                valid_from=input.valid_from,
                valid_until=input.valid_until,
                channel=input.channel or Channel.PLATFORM,
                commitment_based=bool(input.commitment_based),
                counterparty=issuance.CounterpartyInput(
                    name=input.counterparty.name,
                    kind=input.counterparty.kind,
                    id_number=input.counterparty.id_number,
                    credit_code=input.counterparty.credit_code,
                    contact_name=input.counterparty.contact_name,
                    phone=input.counterparty.phone,
                    address=input.counterparty.address,
                ),
            )
            decision, _ = await issuance.issue_decision(actor, data, now=info.context.now())
            return decision

        row, errors = await attempt(lambda: run(info, work, audit={"documentNumber": input.document_number}))
        return DecisionPayload(decision=_wrap(row, ApprovalDecision), errors=errors)

    @strawberry.mutation(description="Art. 20: the receiving department claims a push.")
    async def claim_push(self, info: Info, id: strawberry.ID) -> DecisionPushPayload:
        actor = info.context.require_user()
        row, errors = await attempt(
            lambda: run(info, lambda: claim.claim_push(actor, pk_of(id, "DecisionPush", "id"), now=info.context.now()))
        )
        return DecisionPushPayload(push=_wrap(row, DecisionPush), errors=errors)

    @strawberry.mutation(description="Art. 20: return a push that is not the department's business, with a reason.")
    async def return_push(self, info: Info, id: strawberry.ID, reason: str) -> DecisionPushPayload:
        actor = info.context.require_user()
        row, errors = await attempt(
            lambda: run(
                info, lambda: claim.return_push(actor, pk_of(id, "DecisionPush", "id"), reason, now=info.context.now())
            )
        )
        return DecisionPushPayload(push=_wrap(row, DecisionPush), errors=errors)

    @strawberry.mutation(description="The approval side re-routes a returned push to another department.")
    async def reroute_push(self, info: Info, id: strawberry.ID, department_id: strawberry.ID) -> DecisionPushPayload:
        actor = info.context.require_user()
        row, errors = await attempt(
            lambda: run(
                info,
                lambda: claim.reroute_push(
                    actor,
                    pk_of(id, "DecisionPush", "id"),
                    pk_of(department_id, "Department", "departmentId"),
                    now=info.context.now(),
                ),
            )
        )
        return DecisionPushPayload(push=_wrap(row, DecisionPush), errors=errors)

    @strawberry.mutation(description="Admin: enter a year's official schedule; open deadlines move with it.")
    async def publish_calendar_year(self, info: Info, input: PublishCalendarYearInput) -> CalendarYearPayload:
        actor = info.context.require_role(Role.ADMIN)
        moved, errors = await attempt(
            lambda: run(
                info,
                lambda: claim.publish_calendar_year(
                    actor,
                    input.year,
                    [(d.day, d.name) for d in input.holidays],
                    [(d.day, d.name) for d in input.make_up_workdays],
                    now=info.context.now(),
                ),
                audit={"year": input.year},
            )
        )
        if errors:
            return CalendarYearPayload(calendar_year=None, moved_deadlines=0, errors=errors)
        return CalendarYearPayload(
            calendar_year=year_view(await current_calendar(), input.year), moved_deadlines=moved or 0, errors=[]
        )

    @strawberry.mutation(description="Show a counterparty's full ID number and phone; the reveal is audited.")
    async def reveal_counterparty(self, info: Info, decision_id: strawberry.ID) -> RevealPayload:
        actor = info.context.require_role(Role.ADMIN, Role.LIAISON, Role.OFFICER)

        async def work() -> CounterpartyReveal:
            pk = pk_of(decision_id, "ApprovalDecision", "decisionId")
            shown = await personal_data.reveal_counterparty(actor, pk, address=info.context.address)
            return CounterpartyReveal(id_number=shown.id_number, phone=shown.phone)

        reveal, errors = await attempt(lambda: run(info, work, audited=False))
        return RevealPayload(counterparty=reveal, errors=errors)
