"""The request's loaders: values it already holds resolve at once; a decision brings its item and issuer."""

from __future__ import annotations

import inspect

from strawberry.dataloader import DataLoader

from api.graphql.loaders import Loaders, load_then
from models.enums import DepartmentKind, Role
from tests import factories as f


async def _twice(keys: list[int]) -> list[int]:
    return [k * 2 for k in keys]


async def test_a_held_value_is_returned_at_once_and_a_missing_one_is_awaited() -> None:
    loader: DataLoader[int, int] = DataLoader(_twice)
    pending = load_then(loader, 3, str)
    assert inspect.isawaitable(pending)
    assert await pending == "6"
    assert load_then(loader, 3, str) == "6"  # held now: a plain value, nothing to await
    loader.prime(4, 40)
    assert load_then(loader, 4, str) == "40"


async def test_decisions_are_read_with_their_items_and_issuers(db: str) -> None:
    issuer_dept = await f.department(DepartmentKind.APPROVAL, code="JN-SP", name="市行政审批服务局")
    supervisor = await f.department(code="JN-SCJG")
    issuer = await f.user(issuer_dept, Role.OFFICER)
    item = await f.item(supervisor)
    first = await f.decision(issuer, item, now=f.at(2026, 9, 30), seq=1)
    second = await f.decision(issuer, item, now=f.at(2026, 9, 30), seq=2)
    loaders = Loaders()

    found = await loaders.decision.load_many([second.id, 10**12, first.id])

    assert [d.document_number if d else None for d in found] == [second.document_number, None, first.document_number]
    assert found[0] is not None and found[0].id_number == second.id_number  # sealed columns opened as on any read
    # Held by their loaders already: their names come at once, without a statement.
    assert load_then(loaders.item, item.id, lambda row: row.name if row else None) == item.name
    assert load_then(loaders.department, issuer_dept.id, lambda row: row.name if row else None) == "市行政审批服务局"


def test_sub_objects_read_through_loaders_skip_strawberrys_resolver_wrapping() -> None:
    """A push's decision and department and a decision's item and issuer are resolved by their own functions."""
    from strawberry.schema.schema_converter import GraphQLCoreConverter

    from api.graphql.base import LoadedField
    from api.graphql.schema import schema

    types = schema._schema.type_map
    for type_name, field_name in (
        ("DecisionPush", "decision"),
        ("DecisionPush", "department"),
        ("ApprovalDecision", "item"),
        ("ApprovalDecision", "issuer"),
    ):
        field = types[type_name].fields[field_name]  # type: ignore[attr-defined]
        definition = field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
        assert isinstance(definition, LoadedField)
        assert field.resolve is definition.resolve
