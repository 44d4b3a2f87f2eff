"""The short way through plain fields answers exactly what graphql-core's standard way does."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import gc
import threading
import typing
from typing import Any

import pytest
import sqlalchemy as sa
import strawberry
from graphql import GraphQLObjectType
from sqlmodel import Session
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api import context, execution, schema
from api.limits import Limits
from disclosure import settings
from tests import factories
from tests.api.conftest import execute

# aliases, the same field twice, __typename, fragments, skip/include, nested objects, lists,
# enums, dates, decimals, nulls, a field with a resolver among plain ones, and the connection
QUERY = """query ($yes: Boolean!, $no: Boolean!) {
  penalties(first: 5) {
    __typename
    edges {
      cursor
      node {
        __typename
        ...Parts
        id
        number: id
        decisionDocNo
        decisionOn
        fineAmountWan
        confiscationAmountWan
        categories
        severity
        kind
        remarks
        objectionOpenedOn
        url
        globalId
        skipped: violationFacts @skip(if: $yes)
        included: violationFacts @include(if: $yes)
        excluded: legalBasis @include(if: $no)
        subject { __typename key category name creditCode maskedIdNumber url }
        authority { creditCode name }
        sourceUnit { ... on Department { name creditCode } }
      }
    }
    pageInfo { hasNextPage endCursor startCursor hasPreviousPage }
  }
  lists { active list { code kind name } }
}
fragment Parts on Penalty { id content publicityEndOn underObjection }"""


def _standard() -> strawberry.Schema:
    graphql = schema.build(Limits())
    graphql.execution_context_class = StrawberryGraphQLCoreExecutionContext
    return graphql


def test_plain_leaf_fields_complete_as_graphql_core_completes_them(
    graphql: strawberry.Schema,
    engine: sa.Engine,
    app_settings: settings.Settings,
    session: Session,
) -> None:
    assert graphql.execution_context_class is execution.ExecutionContext
    subject = factories.add_subject(session)
    for day in range(4):
        factories.add_penalty(
            session,
            subject_id=subject.id,
            decision_on=factories.DEFAULT_ON - dt.timedelta(days=day + 1),
            remarks="备注" if day % 2 else None,
        )
    factories.add_list_entry(session)
    session.commit()
    variables = {"yes": True, "no": False}
    fast = execute(graphql, engine, app_settings, QUERY, variables)
    standard = execute(_standard(), engine, app_settings, QUERY, variables)
    assert "errors" not in fast, fast
    assert len(fast["data"]["penalties"]["edges"]) == 4
    assert fast == standard
    # field order too: the JSON body keeps the order of the selection set
    node = fast["data"]["penalties"]["edges"][0]["node"]
    assert list(node) == list(standard["data"]["penalties"]["edges"][0]["node"])
    assert list(node)[:6] == [
        "__typename",
        "id",
        "content",
        "publicityEndOn",
        "underObjection",
        "number",
    ]


def test_plain_fields_take_the_short_way(
    graphql: strawberry.Schema,
    engine: sa.Engine,
    app_settings: settings.Settings,
    session: Session,
    monkeypatch: Any,
) -> None:
    """Only what needs a resolver goes field by field through graphql-core."""
    factories.add_penalty(session, remarks="备注")
    session.commit()
    standard: list[str] = []
    field_by_field = execution.ExecutionContext.execute_field

    def execute_field(self: Any, parent_type: GraphQLObjectType, *args: Any) -> Any:
        standard.append(f"{parent_type.name}.{args[2].key}")
        return field_by_field(self, parent_type, *args)

    monkeypatch.setattr(execution.ExecutionContext, "execute_field", execute_field)
    one_by_one: list[str] = []  # plain fields that did not go with their object's at once
    by_itself = execution.ExecutionContext._plain

    def plain(self: Any, plan: Any, parent_type: GraphQLObjectType, *args: Any) -> Any:
        one_by_one.append(f"{parent_type.name}.{args[2]}")
        return by_itself(self, plan, parent_type, *args)

    monkeypatch.setattr(execution.ExecutionContext, "_plain", plain)
    query = """{ penalties(first: 5) { edges { cursor node {
      id decisionDocNo decisionOn remarks underObjection fineAmountWan categories severity url
      subject { key name creditCode category } authority { name creditCode } } } } }"""
    execute(graphql, engine, app_settings, query)  # learns which classes are which types
    standard.clear()
    one_by_one.clear()
    result = execute(graphql, engine, app_settings, query)
    assert "errors" not in result, result
    assert result["data"]["penalties"]["edges"][0]["node"]["remarks"] == "备注"
    assert standard == ["Query.penalties"]
    # a list goes by itself; each of its items, with every object in it, at once
    assert one_by_one == ["PenaltyConnection.edges"]


def test_a_request_leaves_nothing_to_the_cycle_collector(
    graphql: strawberry.Schema, engine: sa.Engine, app_settings: settings.Settings, session: Session
) -> None:
    """What a request made goes when it ends: a cycle would leave it to the cyclic garbage
    collector, whose full collections under load pause every request waiting."""
    subject = factories.add_subject(session)
    factories.add_penalty(session, subject_id=subject.id, remarks="备注")
    factories.add_list_entry(session, subject_id=subject.id)
    session.commit()
    query = """query ($code: String!) {
      penalties(first: 5) { totalCount edges { cursor node { id decisionOn severity url
        subject { name } authority { name } } } pageInfo { hasNextPage endCursor } }
      subject(creditCode: $code) { name penalties { id url } listEntries { id list { kind } } }
    }"""
    context.watch_time_budget(engine)

    async def answer() -> None:
        with context.opened(engine, app_settings, Limits(), factories.DEFAULT_ON) as ctx:
            result = await graphql.execute(
                query, variable_values={"code": subject.credit_code}, context_value=ctx
            )
        assert not result.errors, result.errors

    async def left_behind() -> list[str]:
        await answer()  # caches filled, classes learnt
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds unreachable stays in gc.garbage
        try:
            for _ in range(3):
                await answer()
            gc.collect()
            return sorted({type(found).__qualname__ for found in gc.garbage})
        finally:
            gc.set_debug(0)
            gc.garbage.clear()

    assert asyncio.run(left_behind()) == []


@strawberry.type
class Thing:
    name: str
    count: int
    note: str | None


@strawberry.type
class Things:
    @strawberry.field
    def things(self) -> list[Thing | None]:
        return [
            Thing(name="ok", count=1, note=None),
            Thing(name=None, count=2, note="x"),  # type: ignore[arg-type]
            Thing(name="bad", count="many", note="y"),  # type: ignore[arg-type]
        ]


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
class Inner:
    name: str
    count: int

    @strawberry.field
    async def later(self) -> str:
        if self.count < 0:
            raise ValueError("no later")
        return self.name


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


def _answers(query: str, query_type: type, **options: Any) -> tuple[Any, list[Any]]:
    """The answer of `query` by the short way, held equal to graphql-core's standard way's:
    its data and its formatted errors."""
    answers: list[tuple[Any, list[Any]]] = []
    for context_class in (execution.ExecutionContext, StrawberryGraphQLCoreExecutionContext):
        graphql = strawberry.Schema(
            query=query_type, execution_context_class=context_class, **options
        )
        answer = execution.run(graphql.execute(query))
        answers.append((answer.data, [error.formatted for error in answer.errors or []]))
    assert answers[0] == answers[1]
    return answers[0]


def _paths(errors: list[Any]) -> list[tuple[str, ...]]:
    return sorted(tuple(map(str, error["path"])) for error in errors)


@strawberry.type
class Box:
    """Lists of objects of each nullability, as the short way completes them itself."""

    optional: list[Inner | None]  # a null item is null
    some: list[Inner] | None  # a failing item nulls the list
    children: list[Inner]  # a failing item nulls the box
    inner: Inner | None
    labels: list[str]


def _box(**changes: object) -> Box:
    fields: dict[str, object] = {
        "optional": [Inner(name="o", count=1)],
        "some": [Inner(name="s", count=2)],
        "children": [Inner(name="c", count=3)],
        "inner": Inner(name="i", count=4),
        "labels": ["a"],
    }
    return Box(**{**fields, **changes})  # type: ignore[arg-type]


@strawberry.type
class Boxes:
    @strawberry.field
    def boxes(self) -> list[Box | None]:
        unnamed = Inner(name=None, count=0)  # type: ignore[arg-type]
        late = Inner(name="late", count=-1)  # its `later` fails, after the others started
        return [
            _box(),
            _box(optional=[None, Inner(name="p", count=5)]),  # null beside one still to come
            _box(optional=[unnamed, Inner(name="q", count=6)]),  # that item alone is null
            _box(optional=[late]),  # that item alone is null, once awaited
            _box(some=[unnamed]),  # the list is null
            _box(some=[late]),  # the list is null, once awaited
            _box(children=[unnamed]),  # the box is null
            _box(children=(Inner(name="t", count=7),)),  # a tuple: the standard way's
            _box(labels=("x", "y")),  # a tuple of leaves: the standard way's too
            _box(inner=[Inner(name="l", count=8)]),  # a list for an object: an error
            _box(inner=None, labels="ab"),  # a string is no list of strings: an error
        ]


def test_lists_of_objects_the_short_way_completes_fail_as_graphql_core_fails_them() -> None:
    item = "{ name later }"
    query = f"{{ boxes {{ optional {item} some {item} children {item} inner {item} labels }} }}"
    data, errors = _answers(query, Boxes)
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
    assert _paths(errors) == [
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
    data, errors = _answers("{ outers { labels maybe required { name } } }", Outers)
    required = {"required": {"name": "r"}}
    assert data["outers"][0] == {"labels": ["a"], "maybe": ["m", None]} | required
    assert data["outers"][2] is None
    assert data["outers"][5] == {"labels": ["a"], "maybe": ["a", None, None]} | required
    assert _paths(errors) == [
        ("outers", "2", "required", "name"),
        ("outers", "4", "labels", "1"),
        ("outers", "5", "maybe", "2"),
    ]


@strawberry.type
class Gadget:
    name: str
    size: int


class BrokenGadget:
    """A value whose attribute raises when it is read."""

    size = 1

    @property
    def name(self) -> str:
        raise ValueError("the name cannot be read")


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


Nothing = typing.NewType("Nothing", str)  # a scalar that serialises every value to null
NOTHING = StrawberryConfig(
    scalar_map={
        Nothing: strawberry.scalar(
            name="Nothing", serialize=lambda value: None, parse_value=lambda value: value
        )
    }
)


@strawberry.type
class Paint:
    color: Color
    note: Nothing | None


@strawberry.type
class Shop:
    @strawberry.field
    def gadgets(self) -> list[Gadget | None]:
        return [Gadget(name="g", size=2), BrokenGadget()]  # type: ignore[list-item]

    @strawberry.field
    def paints(self) -> list[Paint | None]:
        return [
            Paint(color=Color.RED, note=None),
            Paint(color=[], note=None),  # type: ignore[arg-type]  # not even a dict key
            Paint(color=Color.BLUE, note=Nothing("x")),  # serialised to null: an error
        ]


def test_leaves_the_short_way_cannot_read_or_serialise_fail_as_graphql_core_fails_them() -> None:
    data, errors = _answers("{ gadgets { name size } paints { color note } }", Shop, config=NOTHING)
    assert data == {
        "gadgets": [{"name": "g", "size": 2}, None],
        "paints": [{"color": "RED", "note": None}, None, {"color": "BLUE", "note": None}],
    }
    assert [(error["path"], error["message"][:26]) for error in errors] == [
        (["gadgets", 1, "name"], "the name cannot be read"),
        (["paints", 1, "color"], "Enum 'Color' cannot repres"),
        (["paints", 2, "note"], "Expected `Nothing.coerce_o"),
    ]


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
    data, errors = _answers("{ counters { count code tags twin { size } } }", Counters)
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
    data, errors = _answers(
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
        return [_box(), _box(children=[Inner(name="d", count=9), Inner(name="e", count=10)])]


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


def test_an_answered_context_runs_no_resolver_and_a_finished_request_leaves_no_task() -> None:
    contexts: list[execution.ExecutionContext] = []

    class Recorded(execution.ExecutionContext):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            contexts.append(self)

    graphql = strawberry.Schema(query=Things, execution_context_class=Recorded)
    assert graphql.execute_sync("{ things { name } }").data is not None
    with pytest.raises(RuntimeError, match="the execution has ended"):
        contexts[0].async_helpers.gather([])
    left: list[asyncio.Future[None]] = []

    async def leaves_a_task() -> str:
        left.append(asyncio.ensure_future(asyncio.sleep(60)))
        return "answered"

    assert execution.run(leaves_a_task()) == "answered"
    assert left[0].cancelled()

    loops: list[asyncio.AbstractEventLoop] = []

    async def on_its_loop() -> None:
        loops.append(asyncio.get_running_loop())

    thread = threading.Thread(target=lambda: execution.run(on_its_loop()))
    thread.start()
    thread.join()
    gc.collect()
    assert loops[0].is_closed()  # its thread ended: its loop went with it
