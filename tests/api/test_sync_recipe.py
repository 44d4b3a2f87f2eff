"""README's sync recipe, run as written against `gongshi serve`, through a RATE_LIMITED answer."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.api.serving import gongshi, nodes
from tests.conftest import ROOT

LIST = """query ($after: String) {
  %s(first: 100, after: $after) { edges { node { id } } pageInfo { endCursor hasNextPage } }
}"""

LISTS = {"LICENSE": "licenses", "PENALTY": "penalties", "LIST_ENTRY": "listEntries"}


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
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two `gongshi serve` nodes on one sample database: the first with a budget so small that
    each page of changes fills it (`changes` is charged by the time it took, after it ran: a page
    of 500 takes more than the 10 ms the bucket holds), so the page after it is always refused,
    however fast or slow the machine; the second with the default budget, to read the lists back."""
    workdir = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "GONGSHI_DATA_DIR": str(workdir / "var")}
    env.pop("DATABASE_URL", None)
    gongshi(env, "init")
    gongshi(env, "sample", "--records", "1200", "--seed", "2")
    slow = {**env, "GONGSHI_RATE_BUCKET": "20", "GONGSHI_RATE_LEAK": "10"}
    with nodes([slow, env]) as (limited, free):
        yield limited, free


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
    servers: tuple[str, str],
) -> None:
    server, free = servers
    started = time.monotonic()
    copy: dict[tuple[str, int], Any] = {}
    cursor = recipe()(f"{server}/graphql", copy)
    assert time.monotonic() - started >= 1  # it waited its retryAfter at least once
    assert cursor
    assert {(kind, int(record_id)) for kind, record_id in copy} == listed(free)
    assert {copy[key]["__typename"] for key in copy} >= {"Penalty", "License"}
