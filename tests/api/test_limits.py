"""Each limit gets the attack it is there for, and answers with a clear GraphQL error."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import sqlalchemy as sa
from graphql import get_introspection_query
from sqlmodel import Session

from api import cost, errors, schema
from api.limits import Limits
from disclosure import settings
from tests import factories
from tests.api.conftest import Run, execute
from tests.api.documents import doubling_fragments


def test_a_deep_query_is_refused(run: Run) -> None:
    nested = "subject { penalties(first: 1) { " * 5
    deep = "{ penalties(first: 1) { edges { node { " + nested + "id" + " } }" * 5 + " } } } }"
    assert run(deep) == {
        "data": None,
        "errors": ["'anonymous' exceeds maximum operation depth of 10"],
    }


def test_a_hundred_aliases_are_refused(run: Run) -> None:
    aliases = " ".join(f"a{i}: lists {{ active }}" for i in range(100))
    assert run("{ " + aliases + " }") == {
        "data": None,
        "errors": ["2 aliases found. Allowed: 15"] if False else ["100 aliases found. Allowed: 15"],
    }


def test_a_huge_page_is_refused(run: Run) -> None:
    assert run("{ penalties(first: 1000000) { edges { node { id } } } }") == {
        "data": None,
        "errors": ["penalties: first must be between 0 and 100, not 1000000"],
    }
    assert run("{ changes(first: 5000) { hasMore } }") == {
        "data": None,
        "errors": ["changes: first must be between 0 and 1000, not 5000"],
    }


def test_nested_pages_are_refused_over_the_cost_budget(run: Run) -> None:
    query = """query ($n: Int!) {
      penalties(first: $n) { edges { node { subject { penalties(first: 50) { id } } } } }
    }"""
    assert run(query, {"n": 100}) == {
        "data": None,
        "errors": [
            "query cost 5100 exceeds the budget of 2000 records: ask for smaller pages (first) "
            "or fewer nested lists"
        ],
    }
    assert run(query, {"n": 10}) == {"data": {"penalties": {"edges": []}}}


def test_cost_counts_through_fragments() -> None:
    from graphql import parse

    document = parse(
        """query { ...top }
        fragment top on Query { changes(first: 300) { changes { record { ...p } } } }
        fragment p on Penalty { subject { licenses(first: 3) { id } penalties { id } } }"""
    )
    assert cost.cost(document, {}, None) == 300 + 300 * 3 + 300 * 100


def test_a_huge_token_count_is_refused(run: Run) -> None:
    fields = " ".join(["id"] * 3000)
    assert run("{ penalties { edges { node { " + fields + " } } } }") == {
        "data": None,
        "errors": ["Syntax Error: Document contains more than 2000 tokens. Parsing aborted."],
    }


def test_field_suggestions_are_off(run: Run) -> None:
    assert run("{ penaltys { totalCount } }") == {
        "data": None,
        "errors": ["Cannot query field 'penaltys' on type 'Query'."],
    }


def test_introspection_is_on_and_can_be_switched_off(
    run: Run, engine: sa.Engine, app_settings: settings.Settings
) -> None:
    assert run("{ __schema { queryType { name } } }") == {
        "data": {"__schema": {"queryType": {"name": "Query"}}}
    }
    closed = Limits(introspection=False)
    response = execute(
        schema.build(closed),
        engine,
        app_settings,
        "{ __schema { queryType { name } } }",
        limits=closed,
    )
    assert response == {
        "data": None,
        "errors": [
            "GraphQL introspection has been disabled, but the requested query contained the "
            "field '__schema'.",
            "GraphQL introspection has been disabled, but the requested query contained the "
            "field 'queryType'.",
        ],
    }


def test_unexpected_errors_are_masked(
    run: Run, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.add_penalty(session)
    session.commit()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret connection string postgres://admin:pw@db")

    monkeypatch.setattr(errors, "should_mask", errors.should_mask)  # the real masking
    monkeypatch.setattr("disclosure.queries.record_pages.count_records", broken)
    assert run("{ penalties { totalCount } }") == {"data": None, "errors": ["Unexpected error."]}


def test_the_time_budget_stops_a_slow_query(
    graphql: Any, engine: sa.Engine, app_settings: settings.Settings, session: Session
) -> None:
    for _ in range(30):
        factories.add_penalty(session)
    session.commit()
    hasty = Limits(time_budget_seconds=0.0)
    response = execute(
        graphql,
        engine,
        app_settings,
        "{ penalties { totalCount edges { node { id } } } }",
        limits=hasty,
    )
    assert response == {
        "data": None,
        "errors": [
            "the query ran out of its time budget: ask for a smaller page or a narrower filter"
        ],
    }


def test_fragments_that_double_are_refused_before_validation(run: Run) -> None:
    started = time.perf_counter()
    assert run(doubling_fragments(30)) == {
        "data": None,
        "errors": [
            "the document expands to more than 5000 fields through its fragments: spread each "
            "fragment fewer times"
        ],
    }
    assert time.perf_counter() - started < 1.0
    # an unused fragment is expanded by validation as well: it is measured too
    unused = doubling_fragments(30).replace("query { ...F0 }", "query { __typename }")
    assert run(unused)["errors"][0].startswith("the document expands to more than 5000 fields")
    assert run(doubling_fragments(8)) == {"data": {"__typename": "Query"}}


def test_introspection_has_a_depth_limit_the_standard_query_passes(run: Run) -> None:
    standard = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    assert "errors" not in run(standard)
    assert "errors" not in run(get_introspection_query())
    deep = "{ __schema { types { fields { type " + "{ ofType " * 40 + "{ name }" + " }" * 40
    deep += " } } } }"
    assert run(deep) == {
        "data": None,
        "errors": [
            "introspection nested 45 levels deep, over the limit of 16 (the standard "
            "introspection query fits)"
        ],
    }
    through_fragment = '{ ...T } fragment T on Query { __type(name: "Query") { ...R } } '
    through_fragment += "fragment R on __Type { " + "ofType { " * 20 + "name" + " }" * 20 + " }"
    assert run(through_fragment)["errors"][0].startswith("introspection nested 22 levels deep")


ID_NUMBER = "440802198503171237"  # a natural person's, as a caller might paste one anywhere


def test_a_callers_mistake_echoes_no_id_number_and_is_not_logged_as_an_error(
    run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    asked = [
        f'{{ penalties(after: "{ID_NUMBER}") {{ totalCount }} }}',
        f'{{ node(id: "{ID_NUMBER}") {{ __typename }} }}',
        f'{{ changes(after: "{ID_NUMBER}") {{ hasMore }} }}',
        f'{{ licenses(after: "x {ID_NUMBER}") {{ totalCount }} }}',
    ]
    answers = [run(query) for query in asked]
    assert all(answer.get("errors") for answer in answers), answers
    shown = repr(answers) + caplog.text
    assert ID_NUMBER not in shown
    assert "440802********1237" in repr(answers)
    assert [
        record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR
    ] == []
