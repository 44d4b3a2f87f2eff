"""Hostile requests against `gongshi serve` itself: the event loop must stay free for others."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.documents import doubling_fragments
from tests.api.serving import sample_node


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gongshi serve` on a fresh sample database (SQLite, whatever the test database is)."""
    workdir = tmp_path_factory.mktemp("serve")
    with sample_node(workdir, records=300, seed=1) as url:
        yield url


def test_doubling_fragments_get_a_fast_error_while_healthz_answers(server: str) -> None:
    bomb = {"query": doubling_fragments(30)}
    answers: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: answers.append(httpx.post(f"{server}/graphql", json=bomb, timeout=20))
    )
    started = time.monotonic()
    sender.start()
    health = httpx.get(f"{server}/healthz", timeout=5)
    sender.join(timeout=20)
    assert health.status_code == 200
    assert len(answers) == 1, "the fragment bomb got no answer"
    assert time.monotonic() - started < 5
    assert (
        answers[0]
        .json()["errors"][0]["message"]
        .startswith("the document expands to more than 5000 fields")
    )
