"""The short way through plain fields answers exactly what graphql-core's standard way does."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from typing import Any

import sqlalchemy as sa
import strawberry
from graphql import GraphQLObjectType
from sqlmodel import Session
from strawberry.extensions import SchemaExtension
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
