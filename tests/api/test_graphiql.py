"""GraphiQL works without the internet: every file it loads comes from the node itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from api import ide
from tests.api.serving import sample_node

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gongshi serve` on a small sample database (SQLite, whatever the test database is)."""
    workdir = tmp_path_factory.mktemp("graphiql")
    with sample_node(workdir, records=40, seed=3) as url:
        yield url


def test_the_page_loads_only_files_of_the_node_and_they_are_cached_long(server: str) -> None:
    page = httpx.get(f"{server}/graphql", headers=HTML)
    assert page.status_code == 200
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(loaded) == sorted(
        f"{ide.PATH}/{name}"
        for name in (
            "graphiql-3.8.3.min.css",
            "plugin-explorer-1.0.2.css",
            "react-18.2.0.min.js",
            "react-dom-18.2.0.min.js",
            "graphiql-3.8.3.min.js",
            "plugin-explorer-1.0.2.min.js",
            "start.js",
        )
    )
    for path in loaded:
        asset = httpx.get(server + path)
        assert asset.status_code == 200, path
        assert asset.content == (ide.ASSETS / Path(path).name).read_bytes()
        kind = "text/css" if path.endswith(".css") else "text/javascript"
        assert asset.headers["content-type"] == f"{kind}; charset=utf-8"
        expected = (
            "no-cache" if path.endswith("start.js") else "public, max-age=31536000, immutable"
        )
        assert asset.headers["cache-control"] == expected
    for missing in ("index.html", "NOTICE.md", "nothing.js", "..%2Fapp.py"):
        assert httpx.get(f"{server}{ide.PATH}/{missing}").status_code == 404, missing


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no browser: install Debian's chromium")
def test_graphiql_runs_a_query_and_shows_the_docs_and_explorer_offline(server: str) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def only_this_node(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page()
            tab.route("**/*", only_this_node)
            errors: list[str] = []
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.goto(f"{server}/graphql")
            editor = tab.locator(".graphiql-query-editor .CodeMirror")
            editor.wait_for(timeout=20_000)
            editor.click()
            tab.keyboard.press("Control+A")
            tab.keyboard.press("Delete")
            tab.keyboard.type("{ lists { list { kind } active ")
            tab.locator(".graphiql-execute-button").click()
            response = tab.locator(".graphiql-response .CodeMirror")
            response.get_by_text('"active"').first.wait_for(timeout=20_000)
            assert '"lists"' in response.inner_text()
            tab.get_by_label("Show Documentation Explorer").click()
            docs = tab.locator(".graphiql-doc-explorer")
            docs.get_by_text("Query", exact=True).first.click()
            docs.get_by_text("一站式查询 one subject and all its public records").first.wait_for()
            tab.get_by_label("Show GraphiQL Explorer").click()
            tab.locator(".graphiql-explorer-root").get_by_text("penalties").first.wait_for()
        finally:
            browser.close()
    assert (outside, errors) == ([], [])
