"""Direct fields, compiled selections, interfaces, type checks and deferred fields: the short way
answers them as graphql-core's standard way does."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api import execution
from tests.api.toys import NOTHING, Box, Gadget, Inner, Shop, answers, box


def _code(parent: Any, context: Any) -> str:
    if parent.count < 0:
        raise ValueError("no code below zero")
    return None if parent.count == 0 else f"C{parent.count}"  # type: ignore[return-value]


def _tags(parent: Any, context: Any) -> list[str]:
    return [f"t{parent.count}"]


def _twin(parent: Any, context: Any) -> Gadget:
    return Gadget(name="twin", size=parent.count)


@strawberry.type
class Counter:
    count: int
    code: str = execution.direct(_code)
    tags: list[str] = execution.direct(_tags)  # a list: the standard way's
    twin: Gadget = execution.direct(_twin)  # an object: the standard way's


@strawberry.type
class Counters:
    @strawberry.field
    def counters(self) -> list[Counter | None]:
        return [Counter(count=1), Counter(count=0), Counter(count=-1)]


def test_a_direct_field_fails_as_its_resolver_fails_and_only_leaves_go_the_short_way() -> None:
    data, errors = answers("{ counters { count code tags twin { size } } }", Counters)
    assert data == {
        "counters": [{"count": 1, "code": "C1", "tags": ["t1"], "twin": {"size": 1}}, None, None]
    }
    assert [(error["path"], error["message"][:25]) for error in errors] == [
        (["counters", 1, "code"], "Cannot return null for no"),
        (["counters", 2, "code"], "no code below zero"),
    ]
    counter = strawberry.Schema(query=Counters)._schema.type_map["Counter"]
    assert isinstance(counter, GraphQLObjectType)
    plans = {name: execution._plan(counter, name) for name in counter.fields}
    assert {name for name, plan in plans.items() if plan is not None} == {"count", "code"}


def test_a_selection_whose_attribute_is_no_python_name_is_not_compiled() -> None:
    """A field read by an attribute that generated code cannot name goes field by field."""
    gadget = strawberry.Schema(query=Shop, config=NOTHING)._schema.type_map["Gadget"]
    assert isinstance(gadget, GraphQLObjectType)
    read = execution._plan(gadget, "name")
    assert read is not None
    for attribute in ("class", "not-a-name"):
        odd = dataclasses.replace(read, attribute=attribute)
        assert execution._compiled(gadget, (("name", odd, None),)) is None
    assert execution._compiled(gadget, (("name", read, None),)) is not None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Member(Named):
    rank: int


@dataclasses.dataclass
class MemberRow:
    name: str
    rank: int


@strawberry.type
class Team:
    leader: Member | None
    deputy: Member | None
    members: list[Member]
    strangers: list[Member] | None


@strawberry.type
class Club:
    @strawberry.field
    def team(self) -> Team:
        cast: Any = strawberry.cast(Member, MemberRow(name="cast", rank=1))
        row: Any = strawberry.cast(Member, MemberRow(name="r", rank=3))
        return Team(
            leader=cast,
            deputy=Gadget(name="not a member", size=0),  # type: ignore[arg-type]
            members=[Member(name="m", rank=2), row],
            strangers=[Member(name="m", rank=2), Gadget(name="g", size=1)],  # type: ignore[list-item]
        )


def test_objects_of_a_type_that_checks_its_values_are_checked_as_graphql_core_checks_them() -> None:
    """A type with interfaces asks is_type_of of each value: a cast value is asked each time,
    a value of another class is refused."""
    data, errors = answers(
        "{ team { leader { name rank } deputy { name } members { name rank }"
        " strangers { name } } }",
        Club,
    )
    assert data == {
        "team": {
            "leader": {"name": "cast", "rank": 1},
            "deputy": None,
            "members": [{"name": "m", "rank": 2}, {"name": "r", "rank": 3}],
            "strangers": None,
        }
    }
    assert [(error["path"], error["message"][:32]) for error in errors] == [
        (["team", "deputy"], "Expected value of type 'Member' "),
        (["team", "strangers", 1], "Expected value of type 'Member' "),
    ]
    member = strawberry.Schema(query=Club)._schema.type_map["Member"]
    assert not any(cls is MemberRow for _, cls in execution._types_of if _ is member)


@strawberry.type
class Later:
    @strawberry.field
    def boxes(self) -> list[Box]:
        return [box(), box(children=[Inner(name="d", count=9), Inner(name="e", count=10)])]


def test_deferred_and_streamed_fields_are_answered_as_graphql_core_answers_them() -> None:
    query = """{ boxes {
      inner { name ... @defer { later } }
      children { name ... @defer(label: "each") { later } }
      streamed: children @stream(initialCount: 1) { name }
    } }"""

    def frames(context_class: type) -> list[Any]:
        graphql = strawberry.Schema(
            query=Later,
            execution_context_class=context_class,
            config=StrawberryConfig(enable_experimental_incremental_execution=True),
        )

        async def go() -> list[Any]:
            return [
                typing.cast(Any, frame).formatted async for frame in await graphql.stream(query)
            ]

        return execution.run(go())

    fast = frames(execution.ExecutionContext)
    assert fast == frames(StrawberryGraphQLCoreExecutionContext)
    assert fast[0]["data"] == {
        "boxes": [
            {"inner": {"name": "i"}, "children": [{"name": "c"}], "streamed": [{"name": "c"}]},
            {
                "inner": {"name": "i"},
                "children": [{"name": "d"}, {"name": "e"}],
                "streamed": [{"name": "d"}],
            },
        ]
    }
    assert fast[-1]["hasNext"] is False
    assert len(fast) > 1
