"""Two `gongshi serve` nodes on one PostgreSQL database, each following the change log into its
own search index folder, answer alike: a change sent to one is searchable on the other within
the follow interval."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXTransport
from sqlmodel import Session

from disclosure import sample, settings
from search_index import indexer
from tests import factories
from tests.api.documents import SUBMIT, rows
from tests.api.serving import gongshi, nodes
from tests.conftest import POSTGRES_URL
from tests.template_rows import COMPANY, penalty_cells

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="two nodes share one PostgreSQL database: set TEST_DATABASE_URL",
)

FOLLOW = 1.0  # seconds between a node's updates of its index (`gongshi serve --follow`)
SLACK = 10.0  # a loaded test machine: an update takes time too, and so does the next search
MARKET = "赤坎区市场监督管理局"

SEARCH = """query($q: String!) { search(query: $q) {
  totalCount edges { node { record { ... on Penalty { id decisionDocNo } } } } } }"""
ANSWERS = {
    "subject": """query($code: String!) { subject(creditCode: $code) {
      key name url
      licenses { id decisionDocNo }
      penalties { id decisionDocNo content fineAmountWan underObjection }
      listEntries { id decisionDocNo reason }
    } }""",
    "penalties": """{ penalties(first: 50) { totalCount
      edges { cursor node { id globalId decisionDocNo content publicityEndOn url } } } }""",
    "changes": """{ changes { changes { cursor type kind recordId effectiveOn occurredAt }
      endCursor hasMore } }""",
    "stats": """{ stats { asOf
      kinds { kind public underObjection }
      departments { department { creditCode name } licenses penalties listEntries }
      onTime { department { creditCode } published onTime rate }
      overdue { objections repairs lateWithdrawals } } }""",
    "search": """{ search(query: "鸿达") { totalCount
      edges { node { record { __typename ... on Penalty { id } ... on License { id } } } } } }""",
}


def client(url: str, token: str | None = None) -> Client:
    headers = {"authorization": f"Bearer {token}"} if token else None
    transport = HTTPXTransport(url=f"{url}/graphql", headers=headers, timeout=30)
    return Client(transport=transport, fetch_schema_from_transport=True)


def ask(session: Any, query: str, **variables: Any) -> dict[str, Any]:
    return dict(session.execute(GraphQLRequest(query, variable_values=variables or None)))


def searched(session: Any, number: str, *, since: float) -> dict[str, Any]:
    """The search for `number`, asked until it finds the record: within the follow interval
    (and the slack of a loaded machine) from `since`."""
    found = ask(session, SEARCH, q=number)["search"]
    while found["totalCount"] == 0 and time.monotonic() - since < FOLLOW + SLACK:
        time.sleep(0.1)
        found = ask(session, SEARCH, q=number)["search"]
    waited = time.monotonic() - since
    assert found["totalCount"] == 1, f"{number} is not searchable after {waited:.1f} s"
    return dict(found)


def test_two_nodes_answer_alike_and_a_change_on_one_is_searchable_on_the_other(
    engine: sa.Engine, tmp_path: Path
) -> None:
    on = settings.today()  # the nodes serve as of today
    with Session(engine) as session, session.begin():
        factories.add_license(session, on=on)
        factories.add_penalty(session, on=on)
        factories.add_list_entry(session, on=on)
    assert POSTGRES_URL is not None
    envs = [
        {
            **os.environ,
            "DATABASE_URL": POSTGRES_URL,
            "GONGSHI_DATA_DIR": str(tmp_path / node),
            # nodes behind one load balancer name one site, whatever port each listens on
            "GONGSHI_BASE_URL": "https://credit.example.gov.cn/",
        }
        for node in ("node-1", "node-2")
    ]
    for env in envs:  # each node's own index folder, GONGSHI_DATA_DIR/index, built before it serves
        indexer.rebuild(settings.Settings.from_env(env).index_dir, engine, on=on)
    created = gongshi(envs[0], "token", "create", "--unit", sample.department_code(MARKET))
    secret = created.split()[-1]
    number = f"赤市监罚〔{on.year}〕808号"
    row = penalty_cells(
        decision_doc_no=number,
        decision_date=f"{on:%Y/%m/%d}",
        penalty_valid_until=f"{on + dt.timedelta(days=30):%Y/%m/%d}",
    )
    with (
        nodes(envs, "--follow", str(FOLLOW)) as (first, second),
        client(first, secret) as writer,
        client(second) as reader,
    ):
        assert ask(reader, SEARCH, q=number)["search"]["totalCount"] == 0
        submitted = ask(writer, SUBMIT, **rows(row))["submitPenalties"]
        assert (submitted["__typename"], submitted["accepted"]) == ("SubmitReport", 1)
        found = searched(reader, number, since=time.monotonic())
        assert found["edges"][0]["node"]["record"]["decisionDocNo"] == number
        listed = ask(reader, "{ penalties { edges { node { decisionDocNo } } } }")
        assert {"node": {"decisionDocNo": number}} in listed["penalties"]["edges"]

        with client(first) as public:
            searched(public, number, since=time.monotonic())  # node 1 follows the same log
            answers = [
                {name: ask(node, query, code=COMPANY) if "$code" in query else ask(node, query)
                 for name, query in ANSWERS.items()}
                for node in (public, reader)
            ]  # fmt: skip
    assert answers[0] == answers[1]
    assert answers[1]["subject"]["subject"]["penalties"][0]["decisionDocNo"] == number
    assert answers[1]["penalties"]["penalties"]["totalCount"] == 2
    assert [c["type"] for c in answers[1]["changes"]["changes"]["changes"]] == ["PUBLISHED"] * 4
    assert answers[1]["search"]["search"]["totalCount"] >= 3
