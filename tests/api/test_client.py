"""README's example queries, sent by a GraphQL client nobody here wrote to `gongshi serve`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.httpx import HTTPXTransport

from tests.api.serving import sample_node
from tests.conftest import ROOT


def readme_examples() -> list[tuple[str, dict[str, Any]]]:
    """The API section's queries, each with the variables in the JSON block after it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(graphql|json)\n(.*?)```", section, re.S)
    examples = []
    for (kind, body), (next_kind, next_body) in zip(blocks, [*blocks[1:], ("", "")], strict=True):
        if kind == "graphql":
            examples.append((body, json.loads(next_body) if next_kind == "json" else {}))
    return examples


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gongshi serve` on a fresh sample database (SQLite, whatever the test database is)."""
    workdir = tmp_path_factory.mktemp("serve")
    with sample_node(workdir, records=300, seed=1) as url:
        yield url


def test_the_readme_has_the_four_examples() -> None:
    names = [re.search(r"query (\w+)", query)[1] for query, _ in readme_examples()]  # type: ignore[index]
    assert names == ["Subject", "SeriousPenalties", "Blacklist", "Sync"]


def test_readme_examples_run_through_gql(server: str) -> None:
    transport = HTTPXTransport(url=f"{server}/graphql", timeout=30)
    with Client(transport=transport, fetch_schema_from_transport=True) as session:
        some = session.execute(
            gql("{ penalties(first: 1) { edges { node { subject { key } } } } }")
        )
        code = some["penalties"]["edges"][0]["node"]["subject"]["key"]
        results = {}
        for query, variables in readme_examples():
            if "code" in variables:
                variables = {"code": code}
            document = gql(query)
            document.variable_values = variables
            result = session.execute(document)
            results[next(iter(result))] = result
    subject = results["subject"]["subject"]
    assert subject["penalties"] and subject["url"].endswith(f"subjects/{code}.html")
    assert results["penalties"]["penalties"]["totalCount"] >= 0
    assert results["listEntries"]["listEntries"]["edges"]
    changes = results["changes"]["changes"]
    assert changes["changes"] and changes["hasMore"] is False
    assert {change["type"] for change in changes["changes"]} >= {"PUBLISHED"}
