"""Values the short way cannot complete fail exactly as they fail graphql-core's standard way."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api import execution
from tests.api.toys import NOTHING, Box, Inner, Shop, Things, answers, box, paths


def test_values_the_short_way_cannot_complete_fail_as_graphql_core_fails_them() -> None:
    query = "{ things { name count note } }"
    answers = [
        strawberry.Schema(query=Things, execution_context_class=context_class).execute_sync(query)
        for context_class in (execution.ExecutionContext, StrawberryGraphQLCoreExecutionContext)
    ]
    fast, standard = ((a.data, [e.formatted for e in a.errors or []]) for a in answers)
    assert fast == standard
    data, errors = fast
    assert data == {"things": [{"name": "ok", "count": 1, "note": None}, None, None]}
    assert [(error["path"], error["message"][:30]) for error in errors] == [
        (["things", 1, "name"], "Cannot return null for non-nul"),
        (["things", 2, "count"], "Int cannot represent non-integ"),
    ]


@strawberry.type
class Outer:
    inner: Inner | None
    required: Inner
    children: list[Inner]
    labels: list[str]
    maybe: list[str | None] | None


def _outer(**changes: object) -> Outer:
    fields: dict[str, object] = {
        "inner": Inner(name="i", count=1),
        "required": Inner(name="r", count=2),
        "children": [Inner(name="c", count=3)],
        "labels": ["a"],
        "maybe": ["m", None],
    }
    return Outer(**{**fields, **changes})  # type: ignore[arg-type]


@strawberry.type
class Outers:
    @strawberry.field
    def outers(self) -> list[Outer | None]:
        bad = Inner(name=None, count=0)  # type: ignore[arg-type]
        return [
            _outer(),
            _outer(inner=bad),  # inner is nullable: it alone is null
            _outer(required=bad),  # required is not: the outer is null
            _outer(children=[Inner(name="c", count=1), None]),  # a null item of list[Inner]
            _outer(labels=["a", None]),  # a null item of list[str]
            _outer(maybe=["a", None, object()]),  # a value String refuses: that item is null
            _outer(inner=Inner(name="late", count=-1)),  # an async field fails in an object
            _outer(children=[Inner(name="x", count=-1), Inner(name="y", count=1)]),
        ]


def test_objects_and_lists_the_short_way_completes_fail_as_graphql_core_fails_them() -> None:
    query = """{ outers {
      inner { name count later } required { name } children { name later }
      labels maybe
    } }"""
    schemas = [
        strawberry.Schema(query=Outers, execution_context_class=context_class)
        for context_class in (execution.ExecutionContext, StrawberryGraphQLCoreExecutionContext)
    ]
    # the fields under test are the short way's own, not left to graphql-core
    outer = schemas[0]._schema.type_map["Outer"]
    assert isinstance(outer, GraphQLObjectType)
    assert all(execution._plan(outer, name) is not None for name in outer.fields)
    answers = [execution.run(graphql.execute(query)) for graphql in schemas]
    fast, standard = ((a.data, [e.formatted for e in a.errors or []]) for a in answers)
    assert fast == standard
    data, errors = fast
    assert data is not None
    outers = data["outers"]
    assert outers[0] == {
        "inner": {"name": "i", "count": 1, "later": "i"},
        "required": {"name": "r"},
        "children": [{"name": "c", "later": "c"}],
        "labels": ["a"],
        "maybe": ["m", None],
    }
    assert outers[1]["inner"] is None
    assert [outers[i] for i in (2, 3, 4, 7)] == [None] * 4
    assert outers[5]["maybe"] == ["a", None, None]
    assert outers[6]["inner"] is None
    assert sorted(tuple(map(str, error["path"])) for error in errors) == [
        ("outers", "1", "inner", "name"),
        ("outers", "2", "required", "name"),
        ("outers", "3", "children", "1"),
        ("outers", "4", "labels", "1"),
        ("outers", "5", "maybe", "2"),
        ("outers", "6", "inner", "later"),
        ("outers", "7", "children", "0", "later"),
    ]


class Shouting(SchemaExtension):
    """An extension that sees every field resolved."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        value = _next(root, info, *args, **kwargs)
        return value.upper() if isinstance(value, str) else value


def test_an_extension_that_resolves_fields_sees_every_field() -> None:
    query = "{ things { name note } }"
    graphql = strawberry.Schema(
        query=Things, extensions=[Shouting], execution_context_class=execution.ExecutionContext
    )
    answer = graphql.execute_sync(query)
    assert answer.data is not None
    assert answer.data["things"][0] == {"name": "OK", "note": None}


@strawberry.type
class Boxes:
    @strawberry.field
    def boxes(self) -> list[Box | None]:
        unnamed = Inner(name=None, count=0)  # type: ignore[arg-type]
        late = Inner(name="late", count=-1)  # its `later` fails, after the others started
        return [
            box(),
            box(optional=[None, Inner(name="p", count=5)]),  # null beside one still to come
            box(optional=[unnamed, Inner(name="q", count=6)]),  # that item alone is null
            box(optional=[late]),  # that item alone is null, once awaited
            box(some=[unnamed]),  # the list is null
            box(some=[late]),  # the list is null, once awaited
            box(children=[unnamed]),  # the box is null
            box(children=(Inner(name="t", count=7),)),  # a tuple: the standard way's
            box(labels=("x", "y")),  # a tuple of leaves: the standard way's too
            box(inner=[Inner(name="l", count=8)]),  # a list for an object: an error
            box(inner=None, labels="ab"),  # a string is no list of strings: an error
        ]


def test_lists_of_objects_the_short_way_completes_fail_as_graphql_core_fails_them() -> None:
    item = "{ name later }"
    query = f"{{ boxes {{ optional {item} some {item} children {item} inner {item} labels }} }}"
    data, errors = answers(query, Boxes)
    boxes = data["boxes"]
    assert boxes[0] == {
        "optional": [{"name": "o", "later": "o"}],
        "some": [{"name": "s", "later": "s"}],
        "children": [{"name": "c", "later": "c"}],
        "inner": {"name": "i", "later": "i"},
        "labels": ["a"],
    }
    assert [boxes[n]["optional"] for n in (1, 2, 3)] == [
        [None, {"name": "p", "later": "p"}],
        [None, {"name": "q", "later": "q"}],
        [None],
    ]
    assert [boxes[n]["some"] for n in (4, 5)] == [None, None]
    assert boxes[6] is None
    assert boxes[7]["children"] == [{"name": "t", "later": "t"}]
    assert boxes[8]["labels"] == ["x", "y"]
    assert boxes[9]["inner"] is None
    assert boxes[10] is None
    assert paths(errors) == [
        ("boxes", "10", "labels"),
        ("boxes", "2", "optional", "0", "name"),
        ("boxes", "3", "optional", "0", "later"),
        ("boxes", "4", "some", "0", "name"),
        ("boxes", "5", "some", "0", "later"),
        ("boxes", "6", "children", "0", "name"),
        ("boxes", "9", "inner", "name"),
    ]


def test_an_object_of_plain_leaves_and_lists_of_them_is_completed_at_once() -> None:
    """A selection of plain leaves only, some in lists with null items, goes by one compiled
    function; a value it cannot complete sends that object field by field."""
    data, errors = answers("{ outers { labels maybe required { name } } }", Outers)
    required = {"required": {"name": "r"}}
    assert data["outers"][0] == {"labels": ["a"], "maybe": ["m", None]} | required
    assert data["outers"][2] is None
    assert data["outers"][5] == {"labels": ["a"], "maybe": ["a", None, None]} | required
    assert paths(errors) == [
        ("outers", "2", "required", "name"),
        ("outers", "4", "labels", "1"),
        ("outers", "5", "maybe", "2"),
    ]


def test_leaves_the_short_way_cannot_read_or_serialise_fail_as_graphql_core_fails_them() -> None:
    data, errors = answers("{ gadgets { name size } paints { color note } }", Shop, config=NOTHING)
    assert data == {
        "gadgets": [{"name": "g", "size": 2}, None],
        "paints": [{"color": "RED", "note": None}, None, {"color": "BLUE", "note": None}],
    }
    assert [(error["path"], error["message"][:26]) for error in errors] == [
        (["gadgets", 1, "name"], "the name cannot be read"),
        (["paints", 1, "color"], "Enum 'Color' cannot repres"),
        (["paints", 2, "note"], "Expected `Nothing.coerce_o"),
    ]
