"""The HTTP wiring: /graphql over GET and POST, caching, limits on requests, /healthz, the site."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from starlette.testclient import TestClient

from api.app import create_app
from api.limits import Limits
from disclosure import endings, models, settings
from tests import factories
from tests.api.conftest import ON

QUERY = "{ penalties(first: 1) { edges { node { id content } } } }"


@pytest.fixture
def client(app_settings: settings.Settings, engine: sa.Engine) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, engine, as_of=ON)) as client:
        yield client


def test_post_and_get_answer_the_same(client: TestClient, session: Session) -> None:
    penalty = factories.add_penalty(session)
    session.commit()
    expected = {
        "data": {"penalties": {"edges": [{"node": {"id": penalty.id, "content": "罚款2000元"}}]}}
    }
    posted = client.post("/graphql", json={"query": QUERY})
    got = client.get("/graphql", params={"query": QUERY})
    assert (posted.status_code, posted.json()) == (200, expected)
    assert (got.status_code, got.json()) == (200, expected)
    assert got.headers["etag"] == posted.headers["etag"]


def test_get_revalidates_with_etag_until_the_data_changes(
    client: TestClient, session: Session
) -> None:
    penalty = factories.add_penalty(session)
    session.commit()
    first = client.get("/graphql", params={"query": QUERY})
    etag = first.headers["etag"]
    again = client.get("/graphql", params={"query": QUERY}, headers={"if-none-match": etag})
    assert (again.status_code, again.content) == (304, b"")
    endings.withdraw(
        session, penalty, kind=models.WithdrawalKind.REVOKED, reason="撤销", ctx=factories.ctx(ON)
    )
    session.commit()
    changed = client.get("/graphql", params={"query": QUERY}, headers={"if-none-match": etag})
    assert (changed.status_code, changed.json()) == (200, {"data": {"penalties": {"edges": []}}})
    assert changed.headers["etag"] != etag


def test_a_decision_older_than_every_public_one_shows_once_published(
    client: TestClient, session: Session
) -> None:
    """The node keeps the oldest public decision date for its data version: a penalty published
    late, decided before any other public one, is on the list's last page at once."""
    every = "{ penalties(first: 100) { edges { node { id } } } }"
    newer = factories.add_penalty(session)
    session.commit()
    listed = client.post("/graphql", json={"query": every}).json()["data"]["penalties"]["edges"]
    assert [edge["node"]["id"] for edge in listed] == [newer.id]
    decided = ON - dt.timedelta(days=700)  # serious: public for three years
    older = factories.add_penalty(session, decision_on=decided, severity=models.Severity.SERIOUS)
    session.commit()
    listed = client.post("/graphql", json={"query": every}).json()["data"]["penalties"]["edges"]
    assert [edge["node"]["id"] for edge in listed] == [newer.id, older.id]


def test_the_cache_key_holds_the_day(
    app_settings: settings.Settings, engine: sa.Engine, session: Session
) -> None:
    factories.add_penalty(session)
    session.commit()
    etags = set()
    for day in (ON, ON.replace(day=2)):
        with TestClient(create_app(app_settings, engine, as_of=day)) as client:
            etags.add(client.get("/graphql", params={"query": QUERY}).headers["etag"])
    assert len(etags) == 2


def refusal(message: str, code: str = "BAD_REQUEST") -> dict[str, Any]:
    """The body of a request refused before GraphQL runs."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def test_requests_the_api_does_not_take(client: TestClient) -> None:
    batch = client.post("/graphql", json=[{"query": QUERY}, {"query": QUERY}])
    assert (batch.status_code, batch.json()) == (
        400,
        refusal("batching is not supported: send one operation per request"),
    )
    mutation = client.get(
        "/graphql",
        params={"query": 'mutation { withdrawRecord(id: "x", reason: "r") { __typename } }'},
    )
    assert (mutation.status_code, mutation.json()) == (
        405,
        refusal("mutations are sent by POST", "METHOD_NOT_ALLOWED"),
    )
    form = client.post("/graphql", data={"query": QUERY})
    assert form.status_code == 415
    bad = client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert (bad.status_code, bad.json()) == (
        400,
        refusal("the request is not valid JSON"),
    )


def test_operations_the_document_does_not_hold_are_refused(client: TestClient) -> None:
    asked = {
        "unknown name": ({"query": "{ lists { active } }", "operationName": "Nope"}, 400),
        "no operation": ({"query": "fragment F on Query { lists { active } }"}, 400),
        "subscription": ({"query": "subscription { lists { active } }"}, 400),
        "two unnamed": ({"query": "query A { lists { active } } query B { stats { asOf } }"}, 400),
    }
    answers = {
        name: (response.status_code, response.json())
        for name, (body, _) in asked.items()
        for response in [client.post("/graphql", json=body)]
    }
    assert answers == {
        "unknown name": (400, refusal("the document holds no operation named 'Nope'")),
        "no operation": (
            400,
            refusal("the document must hold one operation, or name one in operationName"),
        ),
        "subscription": (400, refusal("subscriptions are not served: send a query")),
        "two unnamed": (
            400,
            refusal("the document holds several operations: name one in operationName"),
        ),
    }


def test_text_that_is_not_unicode_is_refused(client: TestClient) -> None:
    # a JSON escape may name half a surrogate pair: no character, and no database stores it
    body = b'{"query": "query ($c: String!) { subject(creditCode: $c) { name } }", ' + (
        b'"variables": {"c": "\\ud800"}}'
    )
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (
        400,
        refusal("the request holds text that is not valid Unicode"),
    )


NESTED = "{ penalties(first: 100) { edges { node { subject { penalties(first: 100) { id } } } } } }"


def test_every_graphql_error_carries_a_stable_code(client: TestClient) -> None:
    asked = {
        "{ lists { active }": "GRAPHQL_PARSE_FAILED",
        "{ penaltys { totalCount } }": "GRAPHQL_VALIDATION_FAILED",
        "{ penalties(first: 1000) { totalCount } }": "BAD_USER_INPUT",
        '{ node(id: "x") { __typename } }': "BAD_USER_INPUT",
        '{ subject(creditCode: "a\\u0000") { name } }': "BAD_USER_INPUT",
        NESTED: "COST_LIMIT_EXCEEDED",
    }
    codes = {
        query: [error["extensions"]["code"] for error in response.json()["errors"]]
        for query in asked
        for response in [client.post("/graphql", json={"query": query})]
    }
    assert codes == {query: [code] for query, code in asked.items()}


def test_a_huge_body_is_refused_before_it_is_read(client: TestClient) -> None:
    huge = json.dumps({"query": "{ lists { active } }", "pad": "x" * 100_000})
    response = client.post("/graphql", content=huge, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (
        413,
        refusal("the request body is over 65536 bytes", "PAYLOAD_TOO_LARGE"),
    )


def test_graphiql_is_served_to_browsers_and_can_be_switched_off(
    client: TestClient, app_settings: settings.Settings, engine: sa.Engine
) -> None:
    page = client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    closed = create_app(app_settings, engine, limits=Limits(graphiql=False, introspection=False))
    with TestClient(closed) as other:
        assert other.get("/graphql", headers={"accept": "text/html"}).status_code == 400


def test_cors_and_gzip(client: TestClient, session: Session) -> None:
    for _ in range(5):
        factories.add_penalty(session)
    session.commit()
    preflight = client.options(
        "/graphql",
        headers={
            "origin": "https://agency.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    response = client.post(
        "/graphql",
        json={"query": "{ penalties { edges { node { violationFacts legalBasis content } } } }"},
        headers={"origin": "https://agency.example", "accept-encoding": "gzip"},
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["content-encoding"] == "gzip"


def test_access_log_is_one_json_line_without_bodies(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gongshi.access")
    client.post(
        "/graphql",
        json={
            "query": "query Mine { penalties(first: 7) { totalCount } }",
            "operationName": "Mine",
        },
    )
    [record] = [r for r in caplog.records if r.name == "gongshi.access"]
    line = json.loads(record.getMessage())
    assert {
        key: line[key] for key in ("client", "method", "path", "operation", "cost", "status")
    } == {
        "client": "testclient",
        "method": "POST",
        "path": "/graphql",
        "operation": "Mine",
        "cost": 7,
        "status": 200,
    }
    assert set(line) == {
        "time",
        "client",
        "method",
        "path",
        "operation",
        "cost",
        "cached",
        "status",
        "ms",
    }


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "database": "ok"},
    )


def test_the_site_is_served_with_410_for_withdrawn_pages(
    client: TestClient, app_settings: settings.Settings
) -> None:
    assert (client.get("/").status_code, client.get("/").text) == (
        404,
        "no release of the site has been published yet",
    )
    release = app_settings.releases_dir / "2026-06-01T000000"
    (release / "records" / "penalties").mkdir(parents=True)
    (release / "index.html").write_text("<h1>公示</h1>", encoding="utf-8")
    (release / "records" / "penalties" / "1.html").write_text("处罚 1", encoding="utf-8")
    (release / "records" / "penalties" / "2.html").write_text(
        "停止公示 2026-06-01", encoding="utf-8"
    )
    (release / "gone.txt").write_text("records/penalties/2.html\nrecords/penalties/3.html\n")
    (app_settings.releases_dir / "current").symlink_to(release.name)
    assert [
        (path, response.status_code, response.text)
        for path in (
            "/",
            "/records/penalties/1.html",
            "/records/penalties/2.html",
            "/records/penalties/3.html",
            "/records/penalties/4.html",
            "/../gone.txt",
        )
        for response in [client.get(path)]
    ] == [
        ("/", 200, "<h1>公示</h1>"),
        ("/records/penalties/1.html", 200, "处罚 1"),
        ("/records/penalties/2.html", 410, "停止公示 2026-06-01"),
        ("/records/penalties/3.html", 410, "停止公示 / no longer public"),
        ("/records/penalties/4.html", 404, "not found"),
        ("/../gone.txt", 200, "records/penalties/2.html\nrecords/penalties/3.html\n"),
    ]


def test_the_site_follows_the_current_release(
    client: TestClient, app_settings: settings.Settings
) -> None:
    releases = app_settings.releases_dir
    for name in ("a", "b"):
        (releases / name).mkdir(parents=True)
        (releases / name / "index.html").write_text(name)
    current = releases / "current"
    current.symlink_to("a")
    assert client.get("/").text == "a"
    current.unlink()
    current.symlink_to("b")
    assert client.get("/").text == "b"


def test_paths_cannot_leave_the_release(
    client: TestClient, app_settings: settings.Settings
) -> None:
    release = app_settings.releases_dir / "r"
    release.mkdir(parents=True)
    (app_settings.releases_dir / "secret.txt").write_text("no")
    (app_settings.releases_dir / "current").symlink_to("r")
    assert client.get("/%2e%2e/secret.txt").status_code == 404
    assert not Path(release / "secret.txt").exists()


def test_dotfiles_and_nul_paths_are_not_served(
    client: TestClient, app_settings: settings.Settings
) -> None:
    release = app_settings.releases_dir / "r"
    (release / ".git").mkdir(parents=True)
    (release / ".secret").write_text("token")
    (release / ".git" / "config").write_text("[remote]")
    (release / "index.html").write_text("site")
    (app_settings.releases_dir / "current").symlink_to("r")
    assert [client.get(path).status_code for path in ("/", "/.secret", "/.git/config")] == [
        200,
        404,
        404,
    ]
    nul = client.get("/%00")
    assert (nul.status_code, nul.text) == (404, "not found")


def test_a_deeply_nested_body_is_a_clear_400(client: TestClient) -> None:
    nested = b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 30_000
    nested += b"]" * 30_000 + b"}}"
    answer = client.post("/graphql", content=nested, headers={"content-type": "application/json"})
    assert (answer.status_code, answer.json()) == (
        400,
        refusal("the request's JSON nests too deeply"),
    )
