"""The authorisation matrix, executed: every Query and Mutation field, every role, own and foreign department.

The rows live beside the flows they cover: tests/api/authz.py (the core) and tests/api/authz_*.py
(one module per flow). A schema field without a row fails the first test.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from api.graphql.schema import schema
from models.account import User
from models.enums import DepartmentKind, Role
from tests import factories as f
from tests.api.authz import CORE_ROWS, NOW, ROLES, SCOPES, Case, World, expectations, outcome
from tests.api.conftest import Gql


def _all_rows() -> dict[str, Case]:
    """The core rows and every tests/api/authz_*.py module's ROWS; a field may have one row only."""
    matrix = dict(CORE_ROWS)
    package = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if info.name.startswith("authz_"):
            rows: dict[str, Case] = importlib.import_module(f"tests.api.{info.name}").ROWS
            clash = set(matrix) & set(rows)
            assert not clash, f"fields with two rows: {sorted(clash)}"
            matrix.update(rows)
    return matrix


MATRIX = _all_rows()


def root_fields() -> set[str]:
    gql_schema = schema._schema
    assert gql_schema.query_type is not None and gql_schema.mutation_type is not None
    return set(gql_schema.query_type.fields) | set(gql_schema.mutation_type.fields)


def test_every_query_and_mutation_field_has_a_row_in_the_matrix() -> None:
    fields = root_fields()
    assert sorted(fields - set(MATRIX)) == [], "add these fields to MATRIX with their permissions"
    assert sorted(set(MATRIX) - fields) == [], "these rows name fields the schema no longer has"
    for case in MATRIX.values():
        expectations(case.expect)  # every cell declared, every word well-formed


@pytest.fixture
async def world(db: str, redis: aioredis.Redis) -> World:
    approval = await f.department(DepartmentKind.APPROVAL)
    other_approval = await f.department(DepartmentKind.APPROVAL)
    supervision, other_supervision = await f.department(), await f.department()
    admin_home = await f.department(DepartmentKind.APPROVAL, name="市大数据局")
    actors: dict[str, User | None] = {
        "anon": None,
        "appr": await f.user(approval, Role.OFFICER),
        "sup": await f.user(supervision, Role.OFFICER),
        "liaison": await f.user(supervision, Role.LIAISON),
        "leader": await f.user(supervision, Role.LEADER),
        "admin": await f.user(admin_home, Role.ADMIN),
        "integ": await f.user(approval, Role.INTEGRATION),
        "auditor": await f.user(supervision, Role.AUDITOR),
    }
    return World(
        approval=approval,
        other_approval=other_approval,
        supervision=supervision,
        other_supervision=other_supervision,
        admin_home=admin_home,
        third_approval=await f.department(DepartmentKind.APPROVAL),
        spare_supervision=await f.department(),
        actors=actors,
        redis=redis,
    )


@pytest.mark.parametrize("field", sorted(MATRIX))
async def test_each_cell_of_the_matrix_holds(gql: Gql, world: World, field: str) -> None:
    case = MATRIX[field]
    expected = expectations(case.expect)
    seen: dict[tuple[str, str], str] = {}
    for role, scope in itertools.product(ROLES, SCOPES):
        target = await case.target(world, world.home(role, scope))
        result = await gql(case.document, target.variables, user=world.actors[role], now=NOW)
        seen[role, scope] = outcome(field, result, target)
    wrong = {cell: f"expected {expected[cell]}, got {got}" for cell, got in seen.items() if got != expected[cell]}
    assert wrong == {}
