import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from starlette.testclient import TestClient

from api import app as api_app
from disclosure import endings, models, settings
from search_index import indexer, search
from tests import factories, search_backends
from tests.api.conftest import Run

ON = factories.DEFAULT_ON
DAY = dt.timedelta(days=1)
SEARCH = """
query Search($q: String!, $kinds: [RecordKind!], $after: String) {
  search(query: $q, kinds: $kinds, first: 2, after: $after) {
    totalCount complete hasNextPage endCursor
    byKind { kind count }
    byDepartment { department { name } count }
    edges { node {
      score
      highlights { field snippet }
      record { __typename ... on Penalty { id content } ... on License { id content } }
    } }
  }
}
"""


@pytest.fixture(params=search_backends.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each search backend in turn: the API answers the same from both."""
    return str(request.param)


@pytest.fixture
def indexed(
    engine: sa.Engine, app_settings: settings.Settings, backend: str
) -> Iterator[search.Backend]:
    with Session(engine) as session, session.begin():
        factories.add_penalty(session, on=ON, decision_on=dt.date(2026, 5, 20))
        factories.add_penalty(session, on=ON, decision_on=dt.date(2026, 5, 21))
        factories.add_license(session, on=ON, decision_on=dt.date(2026, 5, 22))
    searcher = search_backends.open_searcher(backend, engine, app_settings.index_dir, ON)
    yield searcher
    searcher.close()


def test_search_hits_facets_and_paging(run: Run, indexed: search.Backend) -> None:
    first = run(SEARCH, {"q": "鸿达 食品"}, searcher=indexed)
    found = first["data"]["search"]
    assert "errors" not in first
    assert (found["totalCount"], found["complete"], found["hasNextPage"]) == (3, True, True)
    assert sorted((f["kind"], f["count"]) for f in found["byKind"]) == [
        ("LICENSE", 1),
        ("LIST_ENTRY", 0),
        ("PENALTY", 2),
    ]
    assert found["byDepartment"] == [{"department": {"name": "赤坎区市场监督管理局"}, "count": 3}]
    assert len(found["edges"]) == 2
    assert all(
        '<b class="match' in h["snippet"] for e in found["edges"] for h in e["node"]["highlights"]
    )
    rest = run(SEARCH, {"q": "鸿达 食品", "after": found["endCursor"]}, searcher=indexed)
    seen = [e["node"]["record"]["id"] for e in found["edges"] + rest["data"]["search"]["edges"]]
    assert len(seen) == 3
    assert rest["data"]["search"]["hasNextPage"] is False
    penalties = run(SEARCH, {"q": "鸿达", "kinds": ["PENALTY"]}, searcher=indexed)
    assert {e["node"]["record"]["__typename"] for e in penalties["data"]["search"]["edges"]} == {
        "Penalty"
    }


def test_counts_by_department_only_when_asked_for_also_through_a_fragment(
    run: Run, indexed: search.Backend
) -> None:
    plain = run('{ search(query: "鸿达") { totalCount edges { cursor } } }', searcher=indexed)
    assert plain["data"]["search"]["totalCount"] == 3
    spread = run(
        """{ search(query: "鸿达") { ...Counts } }
        fragment Counts on SearchConnection { totalCount byDepartment { count } }""",
        searcher=indexed,
    )
    assert spread["data"]["search"] == {"totalCount": 3, "byDepartment": [{"count": 3}]}


def test_pages_without_counts_still_know_whether_more_follow(
    run: Run, indexed: search.Backend
) -> None:
    query = """query ($after: String) {
      search(query: "鸿达", first: 2, after: $after) { hasNextPage endCursor edges { cursor } }
    }"""
    first = run(query, searcher=indexed)["data"]["search"]
    assert (len(first["edges"]), first["hasNextPage"]) == (2, True)
    rest = run(query, {"after": first["endCursor"]}, searcher=indexed)["data"]["search"]
    assert (len(rest["edges"]), rest["hasNextPage"]) == (1, False)


def test_a_page_of_none_still_counts_the_matches(run: Run, indexed: search.Backend) -> None:
    query = '{ search(query: "鸿达 食品", first: 0) { totalCount hasNextPage edges { cursor } } }'
    assert run(query, searcher=indexed) == {
        "data": {"search": {"totalCount": 3, "hasNextPage": True, "edges": []}}
    }


def test_a_withdrawn_record_is_hidden_even_before_the_index_catches_up(
    run: Run, indexed: search.Backend, engine: sa.Engine
) -> None:
    _withdraw_the_first_penalty(engine)
    found = run(SEARCH, {"q": "鸿达", "kinds": ["PENALTY"]}, searcher=indexed)
    assert [e["node"]["record"]["id"] for e in found["data"]["search"]["edges"]] == [2]


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "the query is empty"), ("赤" * 101, "longer than 100 characters")],
)
def test_bad_queries_are_clear_errors(
    run: Run, indexed: search.Backend, text: str, message: str
) -> None:
    response = run(SEARCH, {"q": text}, searcher=indexed)
    assert response["data"] is None
    assert message in response["errors"][0]


def test_search_without_an_index_says_so(run: Run) -> None:
    response = run(SEARCH, {"q": "鸿达"})
    assert response["errors"] == [
        "search is not available on this node: its index has not been built"
    ]


def test_a_serving_node_follows_the_change_log(
    engine: sa.Engine, app_settings: settings.Settings, tmp_path: Path
) -> None:
    with Session(engine) as session, session.begin():
        factories.add_license(session, on=ON)
    indexer.rebuild(app_settings.index_dir, engine, on=ON)
    application = api_app.create_app(app_settings, engine, as_of=ON, follow_seconds=0.2)
    query = {"query": '{ search(query: "鸿达", kinds: [PENALTY]) { totalCount } }'}
    with TestClient(application) as client:
        assert client.post("/graphql", json=query).json()["data"]["search"]["totalCount"] == 0
        with Session(engine) as session, session.begin():
            factories.add_penalty(session, on=ON)
        deadline = time.monotonic() + 10
        count = 0
        while count == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            count = client.post("/graphql", json=query).json()["data"]["search"]["totalCount"]
    assert count == 1


def test_a_node_searching_the_database_needs_no_index_and_no_follower(
    engine: sa.Engine, app_settings: settings.Settings
) -> None:
    application = api_app.create_app(
        dataclasses.replace(app_settings, search="database"), engine, as_of=ON
    )
    query = {"query": '{ search(query: "鸿达", kinds: [PENALTY]) { totalCount } }'}
    with TestClient(application) as client:
        assert client.post("/graphql", json=query).json()["data"]["search"]["totalCount"] == 0
        with Session(engine) as session, session.begin():
            factories.add_penalty(session, on=ON)
        assert client.post("/graphql", json=query).json()["data"]["search"]["totalCount"] == 1
    assert not app_settings.index_dir.exists()


def test_search_pages_like_every_other_list_with_page_info(
    run: Run, indexed: search.Backend
) -> None:
    query = """query ($after: String) { search(query: "鸿达", first: 2, after: $after) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      hasNextPage endCursor edges { cursor }
    } }"""
    first = run(query, searcher=indexed)["data"]["search"]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][-1]["cursor"],
    }
    assert (first["hasNextPage"], first["endCursor"]) == (True, first["pageInfo"]["endCursor"])
    rest = run(query, {"after": first["pageInfo"]["endCursor"]}, searcher=indexed)
    assert rest["data"]["search"]["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": rest["data"]["search"]["edges"][0]["cursor"],
        "endCursor": rest["data"]["search"]["edges"][0]["cursor"],
    }


COUNTED = """query ($q: String!) { search(query: $q) {
  totalCount complete byKind { kind count } byDepartment { count }
  edges { node { record { ... on Penalty { id } ... on License { id } } } }
} }"""


def _counted(found: dict[str, Any]) -> tuple[int, dict[str, int], list[int], list[int]]:
    search_field = found["data"]["search"]
    return (
        search_field["totalCount"],
        {facet["kind"]: facet["count"] for facet in search_field["byKind"]},
        [facet["count"] for facet in search_field["byDepartment"]],
        sorted(edge["node"]["record"]["id"] for edge in search_field["edges"]),
    )


def test_counts_leave_out_a_record_whose_publicity_ended_before_the_index_runs(
    run: Run, engine: sa.Engine, app_settings: settings.Settings, backend: str
) -> None:
    last_day = ON + dt.timedelta(days=10)
    with Session(engine) as session, session.begin():
        factories.add_penalty(
            session,
            decision_on=ON - dt.timedelta(days=80),
            severity=models.Severity.MINOR,
            publicity_end_on=last_day,
        )
        factories.add_license(session)
    # no lifecycle, no index since
    searcher = search_backends.open_searcher(backend, engine, app_settings.index_dir, last_day)
    try:
        on_last_day = run(COUNTED, {"q": "鸿达"}, on=last_day, searcher=searcher)
        day_after = run(COUNTED, {"q": "鸿达"}, on=last_day + DAY, searcher=searcher)
    finally:
        searcher.close()
    assert _counted(on_last_day) == (2, {"LICENSE": 1, "PENALTY": 1, "LIST_ENTRY": 0}, [2], [1, 1])
    assert _counted(day_after) == (1, {"LICENSE": 1, "PENALTY": 0, "LIST_ENTRY": 0}, [1], [1])


def test_counts_leave_out_a_withdrawn_record_before_the_index_catches_up(
    run: Run, indexed: search.Backend, engine: sa.Engine
) -> None:
    _withdraw_the_first_penalty(engine)
    assert _counted(run(COUNTED, {"q": "鸿达"}, searcher=indexed)) == (
        2,
        {"LICENSE": 1, "PENALTY": 1, "LIST_ENTRY": 0},
        [2],
        [1, 2],
    )


def test_a_department_filter_keeps_other_departments_hits_out_of_the_page(
    run: Run, engine: sa.Engine, app_settings: settings.Settings, backend: str
) -> None:
    with Session(engine) as session, session.begin():
        factories.add_penalty(session)
        other = factories.add_department(session, "赤坎区卫生健康局")
        factories.add_penalty(session, authority_id=other.id, source_unit_id=other.id)
        code = other.credit_code
    searcher = search_backends.open_searcher(backend, engine, app_settings.index_dir, ON)
    query = """query ($code: String!) { search(query: "鸿达", department: $code) {
      totalCount edges { node { record { ... on Penalty { id } } } }
    } }"""
    try:
        found = run(query, {"code": code}, searcher=searcher)
    finally:
        searcher.close()
    assert found == {
        "data": {"search": {"totalCount": 1, "edges": [{"node": {"record": {"id": 2}}}]}}
    }


def _withdraw_the_first_penalty(engine: sa.Engine) -> None:
    """Withdraw penalty 1 in the database, the index left as it was."""
    with Session(engine) as session, session.begin():
        penalty = session.get(models.Penalty, 1)
        assert penalty is not None
        endings.withdraw(
            session,
            penalty,
            kind=models.WithdrawalKind.REVOKED,
            reason="复议撤销",
            ctx=factories.ctx(ON),
        )
