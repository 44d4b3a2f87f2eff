from pathlib import Path

import strawberry
from graphql import GraphQLEnumType, GraphQLNamedType, GraphQLScalarType

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "api" / "schema.graphql"
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def test_the_committed_schema_is_the_live_schema(graphql: strawberry.Schema) -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == str(graphql) + "\n"


def _undescribed(name: str, kind: GraphQLNamedType) -> list[str]:
    """What of one type has no description: itself, its fields, their arguments, its values."""
    missing = [] if kind.description else [name]
    for field_name, field in getattr(kind, "fields", {}).items():
        if not field.description:
            missing.append(f"{name}.{field_name}")
        missing += [
            f"{name}.{field_name}({argument_name})"
            for argument_name, argument in getattr(field, "args", {}).items()
            if not argument.description
        ]
    if isinstance(kind, GraphQLEnumType):
        missing += [
            f"{name}.{value}" for value, found in kind.values.items() if not found.description
        ]
    return missing


def test_every_type_field_argument_and_enum_value_is_described(
    graphql: strawberry.Schema,
) -> None:
    undescribed = [
        missing
        for name, kind in graphql._schema.type_map.items()
        if not name.startswith("__")
        and not (isinstance(kind, GraphQLScalarType) and name in BUILT_IN)
        for missing in _undescribed(name, kind)
    ]
    assert undescribed == []


def test_descriptions_are_in_chinese_and_english(graphql: strawberry.Schema) -> None:
    severity = graphql._schema.type_map["Severity"]
    assert isinstance(severity, GraphQLEnumType)
    assert {name: value.description for name, value in severity.values.items()} == {
        "MINOR": "轻微 minor: published only if the authority sets an end, at most 3 months",
        "GENERAL": "一般 general: published 3 months to 1 year from the decision",
        "SERIOUS": "严重 serious: published 1 to 3 years from the decision",
    }
