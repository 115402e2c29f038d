"""Refused mutation attempts are audited too (Art. 8: the trail records attempts, not only changes).

A refused mutation writes nothing: its transaction, audit record included, rolls back. So the
refusal is noted while the operation runs and written once it has finished, in a transaction of
its own. Two kinds are noted: a caller without the role or without a sign-in (a FORBIDDEN or
UNAUTHENTICATED error of the operation), and a caller acting on an object that is not theirs to
act on (a FORBIDDEN error in the mutation's payload, noted by `api.graphql.mutation.run`).
Queries are not recorded here: a refused read returns nothing, and reads of personal data are
audited where they happen.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass

from graphql import DocumentNode, FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from models.audit import record_audit
from models.db import write_transaction

log = logging.getLogger(__name__)
REFUSALS = frozenset({"FORBIDDEN", "UNAUTHENTICATED"})


@dataclass(frozen=True)
class Denial:
    field: str  # the mutation's schema name (not an alias the client gave it)
    code: str


_noted: ContextVar[list[Denial] | None] = ContextVar("denied_mutations", default=None)


def note_denial(field: str, code: str) -> None:
    """Remember a refusal of the running mutation operation (outside one, nothing to remember)."""
    noted = _noted.get()
    if noted is not None:
        noted.append(Denial(field, code))


class AuditDenials(SchemaExtension):
    """Writes one audit record per refused mutation field after the operation has run."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        if ctx.operation_type is not OperationType.MUTATION:
            yield
            return
        noted: list[Denial] = []
        token = _noted.set(noted)
        try:
            yield
        finally:
            _noted.reset(token)
        refused = [
            (str(error.path[0]), str(code))
            for error in ((ctx.result.errors or []) if ctx.result else [])
            if (code := (error.extensions or {}).get("code")) in REFUSALS and error.path
        ]
        if refused:  # the document is walked for aliases only when something was refused
            names = root_field_names(ctx.graphql_document, ctx.operation_name)
            noted.extend(Denial(names.get(key, key), code) for key, code in refused)
        if noted:
            await _record(ctx.context, noted)


def root_field_names(document: DocumentNode | None, operation_name: str | None) -> dict[str, str]:
    """Response key → field name of the executed operation's root fields (aliases resolved)."""
    names: dict[str, str] = {}
    for definition in document.definitions if document else ():
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None or (definition.name and definition.name.value == operation_name)
        ):
            for selection in definition.selection_set.selections:
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    names[key] = selection.name.value
    return names


async def _record(context: object, denials: list[Denial]) -> None:
    user = getattr(context, "user", None)
    address = str(getattr(context, "address", "") or "")
    try:
        async with write_transaction():
            for denial in denials:
                await record_audit(
                    denial.field,
                    actor_id=user.id if user else None,
                    department_id=user.department_id if user else None,
                    address=address,
                    detail={"outcome": "DENIED", "code": denial.code},
                )
    except Exception:  # the refusal itself has been answered; a lost audit line must not turn it into a 500
        log.exception("拒绝操作的审计记录写入失败")
