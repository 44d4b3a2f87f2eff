"""The short way through plain fields answers exactly what graphql-core's standard way does."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import threading
from typing import Any

import pytest
import sqlalchemy as sa
import strawberry
from graphql import GraphQLObjectType
from sqlmodel import Session
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api import context, execution, schema
from api.limits import Limits
from disclosure import settings
from tests import factories
from tests.api.conftest import execute
from tests.api.toys import Things

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
