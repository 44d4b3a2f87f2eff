"""Abuse protection over real HTTP: a leaky bucket per client charged by query cost (429), and
fast 503s past the in-flight limit, whether queries run on the event loop or in threads."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from api import ratelimit
from api.app import create_app
from api.limits import Limits
from disclosure import models, settings, tokens
from tests import factories
from tests.api.conftest import ON, send


def page(first: int) -> dict[str, Any]:
    query = "query($n: Int!) { penalties(first: $n) { edges { node { id } } } }"
    return {"query": query, "variables": {"n": first}}


def test_past_its_budget_a_client_gets_429_with_retry_after_and_recovers_after_waiting(
    app_settings: settings.Settings, engine: sa.Engine
) -> None:
    # by the estimate alone; a leak slow enough that a loaded machine's seconds between the
    # first three requests do not refill the bucket
    limits = Limits(rate_bucket=50, rate_leak=5, rate_work=0.001)
    answers = send(app_settings, engine, limits, [("10.0.0.1", page(20), {})] * 4, pause=3.0)
    assert [answer.status_code for answer in answers] == [200, 200, 429, 200]
    refused = answers[2]
    # 40 spent of 50, 20 more asked: 10 over at 5 a second is 2 s (less what has leaked)
    assert refused.headers["retry-after"] == "2"
    assert refused.json() == {
        "data": None,
        "errors": [
            {
                "message": ratelimit.message(2.0),
                "extensions": {"code": "RATE_LIMITED", "retryAfter": 2},
            }
        ],
    }


def test_each_client_has_its_own_budget(app_settings: settings.Settings, engine: sa.Engine) -> None:
    limits = Limits(rate_bucket=30, rate_leak=0.01, rate_work=0.001)
    answers = send(
        app_settings,
        engine,
        limits,
        [("10.0.0.1", page(20), {}), ("10.0.0.1", page(20), {}), ("10.0.0.2", page(20), {})],
    )
    assert [answer.status_code for answer in answers] == [200, 429, 200]
    assert answers[1].headers["retry-after"] == str(int(10 / 0.01))


def test_cheap_queries_cost_less_than_expensive_ones(
    app_settings: settings.Settings, engine: sa.Engine
) -> None:
    # by their estimate alone: their time is charged next to nothing
    limits = Limits(rate_bucket=100, rate_leak=0.01, rate_work=0.001)
    for first, admitted in ((1, 100), (40, 2)):
        answers = send(app_settings, engine, limits, [("10.0.0.1", page(first), {})] * 102)
        statuses = [answer.status_code for answer in answers]
        assert statuses == [200] * admitted + [429] * (102 - admitted), first


def test_a_live_token_is_its_own_client_and_a_made_up_one_is_its_address(
    app_settings: settings.Settings, engine: sa.Engine, session: Session
) -> None:
    unit = factories.add_department(session)
    _, secret = tokens.create(session, unit_code=unit.credit_code, role=models.Role.DEPARTMENT)
    session.commit()
    limits = Limits(rate_bucket=20, rate_leak=0.01, rate_work=0.001)
    token = {"authorization": f"Bearer {secret}"}
    made_up = {"authorization": "Bearer gs_made-up"}
    answers = send(
        app_settings,
        engine,
        limits,
        [
            ("10.0.0.1", page(20), {}),
            ("10.0.0.1", page(20), token),
            ("10.0.0.1", page(20), made_up),
            ("10.0.0.1", page(20), token),
        ],
    )
    assert [answer.status_code for answer in answers] == [200, 200, 429, 429]


def test_queries_that_never_run_still_cost_one(
    app_settings: settings.Settings, engine: sa.Engine
) -> None:
    limits = Limits(rate_bucket=3, rate_leak=0.01, rate_work=0.001)
    broken = {"query": "{ penalties(first: 1) { edges { node { nonsense } } } }"}
    answers = send(app_settings, engine, limits, [("10.0.0.1", broken, {})] * 4)
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]


@pytest.mark.parametrize("threads", [0, 1], ids=["on the event loop", "in a thread"])
def test_past_the_in_flight_limit_queries_get_a_fast_503_while_others_run(
    app_settings: settings.Settings, engine: sa.Engine, session: Session, threads: int
) -> None:
    for days in range(1, 41):
        factories.add_penalty(session, decision_on=ON - dt.timedelta(days=days))
    session.commit()
    limits = Limits(max_in_flight=2, query_threads=threads, rate_bucket=10**9, rate_leak=10**9)
    app = create_app(app_settings, engine, as_of=ON, limits=limits)
    fields = "id content decisionDocNo subject { name } authority { name }"
    bodies = [
        {"query": f"{{ penalties(first: {n}) {{ edges {{ node {{ {fields} }} }} }} }}"}
        for n in range(80, 100)
    ]

    async def go() -> list[tuple[int, str | None, float]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:

            async def timed(body: dict[str, Any]) -> tuple[int, str | None, float]:
                started = time.perf_counter()
                answer = await client.post("/graphql", json=body)
                elapsed = time.perf_counter() - started
                return answer.status_code, answer.headers.get("retry-after"), elapsed

            return await asyncio.gather(*(timed(body) for body in bodies))

    answers = asyncio.run(go())
    served = [answer for answer in answers if answer[0] == 200]
    refused = [answer for answer in answers if answer[0] == 503]
    assert len(served) + len(refused) == len(bodies)
    assert len(served) >= 2
    assert refused, "nothing was refused: the loop never saw more than 2 requests in flight"
    assert {retry for _, retry, _ in refused} == {"1"}
    assert max(elapsed for *_, elapsed in refused) < 0.5


def test_buckets_leak_and_forget_idle_clients() -> None:
    now = [0.0]
    buckets = ratelimit.Buckets(10, 2, max_clients=3, clock=lambda: now[0])
    assert buckets.charge("a", 8) == 0.0
    assert buckets.charge("a", 4) == pytest.approx(1.0)  # 2 over, at 2 a second
    assert buckets.wait("a", 2) == 0.0
    now[0] = 1.0  # 2 leaked
    assert buckets.charge("a", 4) == 0.0
    assert buckets.charge("b", 50) == 0.0  # over the size: takes a whole empty bucket
    assert buckets.charge("b", 1) == pytest.approx(0.5)
    for client in "cde":
        buckets.charge(client, 1)
    assert len(buckets) == 3  # capped: the least recently seen were forgotten
    now[0] = 100.0  # long enough for every bucket to leak empty
    buckets.charge("f", 1)
    assert len(buckets) == 1


def test_the_client_is_the_peer_unless_a_trusted_proxy_forwarded_it() -> None:
    def scope(peer: str, forwarded: str | None) -> dict[str, Any]:
        headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
        return {"client": (peer, 1234), "headers": headers}

    trusted = ratelimit.networks(["10.1.0.0/16", "127.0.0.1"])
    assert ratelimit.client_address(scope("203.0.113.9", "1.2.3.4"), trusted) == "203.0.113.9"
    assert ratelimit.client_address(scope("127.0.0.1", None), trusted) == "127.0.0.1"
    # what the client wrote (on the left) is not believed: the proxies' own hops are skipped
    assert (
        ratelimit.client_address(scope("127.0.0.1", "1.2.3.4, 198.51.100.7, 10.1.2.3"), trusted)
        == "198.51.100.7"
    )
    assert ratelimit.client_address(scope("127.0.0.1", "1.2.3.4"), ()) == "127.0.0.1"


def test_rate_settings_come_from_the_environment(tmp_path: Any) -> None:
    read = settings.Settings.from_env(
        {
            "GONGSHI_RATE_BUCKET": "500",
            "GONGSHI_RATE_LEAK": "2.5",
            "GONGSHI_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
        },
        cwd=tmp_path,
    )
    assert (read.rate_bucket, read.rate_leak, read.trusted_proxies) == (
        500,
        2.5,
        ("10.0.0.0/8", "127.0.0.1"),
    )
    for name, value in (
        ("GONGSHI_RATE_BUCKET", "0"),
        ("GONGSHI_RATE_LEAK", "fast"),
        ("GONGSHI_TRUSTED_PROXIES", "proxy.local"),
    ):
        with pytest.raises(settings.SettingsError, match=name):
            settings.Settings.from_env({name: value}, cwd=tmp_path)
