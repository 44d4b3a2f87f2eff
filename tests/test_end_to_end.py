"""A change made through the API reaches every output: queries, search, feeds, bulk data and the
next published release; and its withdrawal leaves all of them."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session
from starlette.testclient import TestClient

from api.app import create_app
from disclosure import models, settings, urls
from search_index import indexer
from tests.api.conftest import ON
from tests.api.documents import SUBMIT, WITHDRAW, rows
from tests.factories import department_token
from tests.publishers.site_helpers import publish_all
from tests.template_rows import doc, penalty_cells

SEARCH = """{ search(query: "赤市监罚〔2026〕77号") {
  edges { node { record { ... on Penalty { id } } } } } }"""


def _eventually(ask: Callable[[], Any], until: Callable[[Any], bool]) -> Any:
    """Ask until the answer satisfies `until` (the node's follower ticks every 0.1 s)."""
    deadline = time.monotonic() + 10
    answer = ask()
    while not until(answer) and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = ask()
    return answer


def _published(out: Path, path: str) -> str:
    data = (out / "current" / path).read_bytes()
    return (gzip.decompress(data) if path.endswith(".gz") else data).decode("utf-8-sig")


def test_a_submitted_penalty_reaches_every_output_and_its_withdrawal_leaves_them(
    engine: sa.Engine, app_settings: settings.Settings, session: Session, tmp_path: Path
) -> None:
    secret = department_token(session)
    indexer.rebuild(app_settings.index_dir, engine, on=ON)
    out = tmp_path / "site"
    application = create_app(app_settings, engine, as_of=ON, follow_seconds=0.1)
    with TestClient(application) as client:

        def search() -> list[Any]:
            answer = client.post("/graphql", json={"query": SEARCH}).json()
            return list(answer["data"]["search"]["edges"])

        bearer = {"authorization": f"Bearer {secret}"}
        body = {"query": SUBMIT, "variables": rows(penalty_cells(decision_doc_no=doc(77)))}
        submitted = client.post("/graphql", json=body, headers=bearer).json()
        assert submitted["data"]["submitPenalties"]["accepted"] == 1
        global_id = submitted["data"]["submitPenalties"]["rows"][0]["id"]

        found = _eventually(search, bool)
        record_id = found[0]["node"]["record"]["id"]
        log = {"query": "{ changes { changes { type kind recordId } } }"}
        changes = client.post("/graphql", json=log).json()["data"]["changes"]["changes"]
        assert changes == [{"type": "PUBLISHED", "kind": "PENALTY", "recordId": record_id}]

        publish_all(engine, out, ON)
        page = urls.record_path(models.RecordKind.PENALTY, record_id)
        assert doc(77) in _published(out, page)
        assert page in _published(out, urls.feed_path("all", "atom"))
        assert doc(77) in _published(out, "data/penalties.jsonl.gz")

        withdraw = {
            "query": WITHDRAW,
            "variables": {"id": global_id, "reason": "复议决定撤销原处罚", "changed": None},
        }
        ended = client.post("/graphql", json=withdraw, headers=bearer).json()
        assert ended["data"]["withdrawRecord"]["__typename"] == "RecordEnded"
        assert _eventually(search, lambda edges: not edges) == []

    publish_all(engine, out, ON)
    assert page in _published(out, "gone.txt").splitlines()
    assert doc(77) not in _published(out, page)
    assert page not in _published(out, urls.feed_path("all", "rss"))
    assert page in _published(out, urls.feed_path("exits", "rss"))
    assert doc(77) not in _published(out, "data/penalties.jsonl.gz")
