from pathlib import Path

import strawberry

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "api" / "schema.graphql"


def test_the_committed_schema_is_the_live_schema(graphql: strawberry.Schema) -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == str(graphql) + "\n"


def test_every_field_is_described(graphql: strawberry.Schema) -> None:
    undocumented = [
        f"{name}.{field_name}"
        for name, kind in graphql._schema.type_map.items()
        if not name.startswith("__") and hasattr(kind, "fields")
        for field_name, field in kind.fields.items()
        if not field.description
    ]
    assert undocumented == []
