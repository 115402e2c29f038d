"""schema.graphql is the committed contract: it must be exactly what the code exports."""

from __future__ import annotations

import difflib

from api.schema_export import SCHEMA_FILE, exported


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.exists(), "schema.graphql is missing: run `make schema` and commit it"
    committed, current = SCHEMA_FILE.read_text(), exported()
    diff = difflib.unified_diff(committed.splitlines(), current.splitlines(), "schema.graphql", "code", lineterm="")
    assert committed == current, (
        "schema.graphql differs from the schema the code exports: run `make schema` and commit the result\n"
        + "\n".join(list(diff)[:40])
    )
