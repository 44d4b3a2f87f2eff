"""README's sync recipe, run as written against `gongshi serve`, through a RATE_LIMITED answer."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.api.serving import sample_node
from tests.api.test_client import ROOT

LIST = """query ($after: String) {
  %s(first: 100, after: $after) { edges { node { id } } pageInfo { endCursor hasNextPage } }
}"""

LISTS = {"LICENSE": "licenses", "PENALTY": "penalties", "LIST_ENTRY": "listEntries"}
HOG = {"query": "{ penalties(first: 100) { edges { node { id } } } }"}


def recipe() -> Callable[..., Any]:
    """The `sync` function of README's one Python block that handles RATE_LIMITED."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (snippet,) = [
        block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "RATE_LIMITED" in block
    ]
    scope: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), scope)  # the README's own code, as a reader runs it
    sync: Callable[..., Any] = scope["sync"]
    return sync


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gongshi serve` on sample data, with a budget small enough to spend in a few queries."""
    workdir = tmp_path_factory.mktemp("serve")
    with sample_node(
        workdir, records=1200, seed=2, GONGSHI_RATE_BUCKET="1000", GONGSHI_RATE_LEAK="200"
    ) as url:
        yield url


def listed(url: str) -> set[tuple[str, int]]:
    """What the lists list, paged (waiting out the budget this client shares with the sync)."""
    found = set()
    for kind, field in LISTS.items():
        after = None
        while True:
            body = {"query": LIST % field, "variables": {"after": after}}
            answer = httpx.post(f"{url}/graphql", json=body, timeout=60)
            if answer.status_code == 429:
                time.sleep(int(answer.headers["retry-after"]))
                continue
            page = answer.json()["data"][field]
            found |= {(kind, int(edge["node"]["id"])) for edge in page["edges"]}
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    return found


def test_the_readme_sync_recipe_waits_out_rate_limited_and_replays_exactly_the_lists(
    server: str,
) -> None:
    # spend this client's budget first, so the recipe's first page is refused
    while httpx.post(f"{server}/graphql", json=HOG, timeout=60).status_code != 429:
        pass
    started = time.monotonic()
    copy: dict[tuple[str, int], Any] = {}
    cursor = recipe()(f"{server}/graphql", copy)
    assert time.monotonic() - started >= 1  # it waited its retryAfter at least once
    assert cursor
    assert {(kind, int(record_id)) for kind, record_id in copy} == listed(server)
    assert {copy[key]["__typename"] for key in copy} >= {"Penalty", "License"}
