"""Mutations over HTTP (the Authorization header, caching, logs) and from two writers at once."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select
from starlette.testclient import TestClient

from api import schema
from api.app import create_app
from api.cursors import global_id
from api.limits import Limits
from disclosure import db, models, settings
from tests import factories
from tests.api.conftest import ON, execute
from tests.api.documents import SUBMIT, WITHDRAW, rows
from tests.conftest import POSTGRES_URL
from tests.factories import TAX, department_token
from tests.template_rows import doc, penalty_cells

QUERY = "{ penalties { edges { node { id } } } }"


@pytest.fixture
def client(app_settings: settings.Settings, engine: sa.Engine) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, engine, as_of=ON)) as client:
        yield client


def test_the_bearer_token_authenticates_a_mutation_and_the_cache_follows(
    client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    secret = department_token(session)
    penalty = factories.add_penalty(session)
    session.commit()
    before = client.get("/graphql", params={"query": QUERY})
    assert before.json() == {"data": {"penalties": {"edges": [{"node": {"id": penalty.id}}]}}}
    body = {
        "query": WITHDRAW,
        "variables": {
            "id": global_id(models.RecordKind.PENALTY, penalty.id or 0),
            "reason": "复议决定撤销原处罚",
            "changed": None,
        },
    }
    caplog.set_level(logging.DEBUG)
    for header in ({}, {"authorization": "Token " + secret}, {"authorization": "Bearer x"}):
        refused = client.post("/graphql", json=body, headers=header)
        assert refused.json()["data"]["withdrawRecord"]["code"] == "UNAUTHENTICATED"
    done = client.post("/graphql", json=body, headers={"authorization": f"Bearer {secret}"})
    assert (done.status_code, done.json()["data"]["withdrawRecord"]["__typename"]) == (
        200,
        "RecordEnded",
    )
    assert done.headers["cache-control"] == "no-store"
    assert "etag" not in done.headers
    after = client.get("/graphql", params={"query": QUERY})
    assert after.json() == {"data": {"penalties": {"edges": []}}}
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert secret not in logged and "复议决定撤销原处罚" not in logged


def test_a_mutation_by_get_is_never_run(client: TestClient, session: Session) -> None:
    secret = department_token(session)
    penalty = factories.add_penalty(session)
    session.commit()
    variables = {"id": global_id(models.RecordKind.PENALTY, penalty.id or 0), "reason": "x"}
    response = client.get(
        "/graphql",
        params={"query": WITHDRAW, "variables": json.dumps(variables)},
        headers={"authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 405
    assert client.get("/graphql", params={"query": QUERY}).json() == {
        "data": {"penalties": {"edges": [{"node": {"id": penalty.id}}]}}
    }


@pytest.fixture
def shared_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database two threads write to: a SQLite file, or the PostgreSQL test database."""
    if POSTGRES_URL:
        yield request.getfixturevalue("engine")
        return
    engine = db.create_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def at_once(
    engine: sa.Engine, app_settings: settings.Settings, calls: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Run the submissions from one thread each, released together."""
    graphql = schema.build(Limits())
    barrier = threading.Barrier(len(calls))
    answers: list[dict[str, Any]] = [{} for _ in calls]

    def submit(index: int, token: str, variables: dict[str, Any]) -> None:
        barrier.wait()
        answers[index] = execute(graphql, engine, app_settings, SUBMIT, variables, token=token)

    threads = [
        threading.Thread(target=submit, args=(index, token, variables))
        for index, (token, variables) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer["data"]["submitPenalties"] for answer in answers]


def consistent(session: Session) -> tuple[int, int, int]:
    """(records, distinct natural keys, PUBLISHED events) — and each record published once."""
    session.expire_all()
    records = session.exec(select(models.Penalty)).unique().all()
    published = session.exec(
        select(models.Event.record_id).where(col(models.Event.type) == models.EventType.PUBLISHED)
    ).all()
    assert sorted(published) == sorted(record.id or 0 for record in records)
    keys = {(record.authority_id, record.decision_doc_no) for record in records}
    return len(records), len(keys), len(published)


def test_the_same_batch_twice_at_once(
    shared_engine: sa.Engine, app_settings: settings.Settings
) -> None:
    with Session(shared_engine) as session:
        secret = department_token(session)
        batch = rows(*(penalty_cells(decision_doc_no=doc(n)) for n in range(1, 21)))
        answers = at_once(shared_engine, app_settings, [(secret, batch), (secret, batch)])
        outcomes = sorted((a["accepted"], a["unchanged"], a["rejected"]) for a in answers)
        assert outcomes == [(0, 20, 0), (20, 0, 0)]
        assert consistent(session) == (20, 20, 20)
        audited = session.exec(select(models.AuditEntry.outcome)).all()
        assert audited == ["ok", "ok"]


def test_two_departments_with_overlapping_batches_at_once(
    shared_engine: sa.Engine, app_settings: settings.Settings
) -> None:
    with Session(shared_engine) as session:
        market = department_token(session)
        tax = department_token(session, TAX)
        ours = rows(*(penalty_cells(decision_doc_no=doc(n)) for n in range(1, 21)))
        # the tax office's rows share the subject and, from row 11 on, the market's keys
        theirs = rows(*(penalty_cells(decision_doc_no=doc(n)) for n in range(11, 31)))
        answers = at_once(shared_engine, app_settings, [(market, ours), (tax, theirs)])
        assert sorted(answer["__typename"] for answer in answers) == ["Forbidden", "SubmitReport"]
        assert [a["accepted"] for a in answers if a["__typename"] == "SubmitReport"] == [20]
        assert consistent(session) == (20, 20, 20)
        audited = sorted(session.exec(select(models.AuditEntry.outcome)).all())
        assert audited == ["forbidden", "ok"]


def test_failing_requests_are_logged_without_their_body(
    client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    secret = department_token(session)
    caplog.set_level(logging.DEBUG)
    person = "440802199001011238"
    broken = 'mutation { submitPenalties(columns: ["x"], rows: [["' + person + '"]]) { nope } }'
    response = client.post(
        "/graphql", json={"query": broken}, headers={"authorization": f"Bearer {secret}"}
    )
    assert response.json()["errors"][0]["message"] == (
        "Cannot query field 'nope' on type 'SubmitResult'."
    )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Cannot query field" in logged
    assert person not in logged and secret not in logged
