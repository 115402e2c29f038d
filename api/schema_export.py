"""Write the schema as SDL to schema.graphql (``python -m api.schema_export``)."""

from __future__ import annotations

from pathlib import Path

from strawberry.printer import print_schema

from api.graphql.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def exported() -> str:
    return print_schema(schema) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(exported())
    print(f"wrote {SCHEMA_FILE}")
