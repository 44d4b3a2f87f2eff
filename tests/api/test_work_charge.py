"""A client pays for the node's time its queries take, not only for what they may return."""

from __future__ import annotations

import asyncio

import graphql
import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from api import ratelimit
from api.app import create_app
from api.limits import Limits
from disclosure import lifecycle, sample, settings, workdays
from search_index import indexer
from tests.api.conftest import ON, send

SYNC = """query Sync($after: String) {
  changes(after: $after, first: 500) {
    changes { type kind recordId tombstone { id } }
    endCursor hasMore
  }
}"""


def test_introspection_pays_for_its_time_and_is_refused_with_retry_after(
    app_settings: settings.Settings, engine: sa.Engine
) -> None:
    # by its estimate alone each query costs 1: 300 of them would fit in a bucket of 400
    limits = Limits(rate_bucket=400, rate_leak=10)
    introspection = graphql.get_introspection_query()
    bodies = [
        {"query": introspection.replace("IntrospectionQuery", f"Schema{n}")} for n in range(300)
    ]
    answers = send(app_settings, engine, limits, [("10.0.0.1", body, {}) for body in bodies])
    statuses = [answer.status_code for answer in answers]
    assert "errors" not in answers[0].json()
    assert 429 in statuses
    refused = answers[statuses.index(429)]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def test_a_search_pays_its_time_not_only_its_page_size(
    app_settings: settings.Settings, engine: sa.Engine, session: Session
) -> None:
    sample.generate(
        session,
        records=300,
        seed=4,
        as_of=ON,
        rules=lifecycle.Rules(),
        calendar=workdays.Calendar(),
    )
    session.commit()
    indexer.rebuild(app_settings.index_dir, engine, on=ON)
    # by its estimate a search of one hit costs 1: 20 would fit in a bucket of 20
    limits = Limits(rate_bucket=20, rate_leak=0.01)
    query = 'query S%d { search(query: "食品", first: 1) { totalCount edges { node { score } } } }'
    bodies = [{"query": query % n} for n in range(20)]
    answers = send(app_settings, engine, limits, [("10.0.0.1", body, {}) for body in bodies])
    assert "errors" not in answers[0].json(), answers[0].text
    assert answers[0].json()["data"]["search"]["totalCount"] > 0
    statuses = [answer.status_code for answer in answers]
    assert statuses.index(429) < 20


def test_a_sequential_sync_of_the_change_stream_is_not_throttled(
    app_settings: settings.Settings, engine: sa.Engine, session: Session
) -> None:
    sample.generate(
        session,
        records=1500,
        seed=3,
        as_of=ON,
        rules=lifecycle.Rules(),
        calendar=workdays.Calendar(),
    )
    session.commit()
    # a page of 500 by its estimate is 500: the old charge refused the second page at once
    limits = Limits(rate_bucket=600, rate_leak=1000)
    app = create_app(app_settings, engine, as_of=ON, limits=limits)

    async def sync() -> list[httpx.Response]:
        answers, after, more = [], None, True
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            while more:
                body = {"query": SYNC, "variables": {"after": after}}
                answers.append(answer := await client.post("/graphql", json=body))
                if answer.status_code != 200:
                    break
                page = answer.json()["data"]["changes"]
                after, more = page["endCursor"], page["hasMore"]
        return answers

    answers = asyncio.run(sync())
    assert [answer.status_code for answer in answers] == [200] * len(answers)
    assert len(answers) >= 3


def test_a_meter_pays_the_larger_of_its_estimate_and_its_time_whatever_room_is_left() -> None:
    now = [0.0]
    buckets = ratelimit.Buckets(100, 10, clock=lambda: now[0])
    meter = ratelimit.Meter(buckets, "a")
    assert meter.charge(30)
    meter.work(0.01, 2000)  # 20 units of work: the estimate of 30 already paid for it
    assert meter.spent == 30
    meter.work(0.5, 2000)  # 1000 units of work: 970 more, the bucket full, not overfull
    assert meter.spent == 1000
    assert buckets.wait("a", 1) == pytest.approx(0.1)  # 1 unit leaks in a tenth of a second
    unpaid = ratelimit.Meter(buckets, "b")
    unpaid.work(0.0, 2000)  # it never ran: still at least 1
    assert unpaid.spent == 1
    unpaid.settle()
    assert buckets.wait("b", 100) == pytest.approx(0.1)
