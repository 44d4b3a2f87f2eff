"""`gongshi serve`'s feeds made on request: a subject's and any search's, read with feedparser."""

import dataclasses
import datetime as dt
from pathlib import Path

import feedparser
import pytest
import sqlalchemy as sa
from sqlmodel import Session
from starlette.testclient import TestClient

from api.app import create_app
from disclosure import models, settings, urls
from gongshi import served_feeds
from search_index import indexer
from tests import factories, search_backends
from tests.publishers import site_helpers as helpers

ON = helpers.ON


def client(app_settings: settings.Settings, engine: sa.Engine, on: dt.date = ON) -> TestClient:
    routes = served_feeds.FeedRoutes(app_settings, engine, as_of=on).routes()
    return TestClient(create_app(app_settings, engine, as_of=on, routes=routes))


def record_url(base: str, kind: models.RecordKind, record_id: int | None) -> str:
    return urls.Urls(base).record(kind, record_id or 0)


def test_a_subjects_feed_holds_its_records_and_a_withdrawal_without_details(
    engine: sa.Engine, session: Session, app_settings: settings.Settings
) -> None:
    story = helpers.tell(session)
    base = app_settings.base_url
    with client(app_settings, engine) as http:
        response = http.get(f"/feeds/subjects/{story.company.credit_code}.atom")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/atom+xml"
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo, parsed.bozo_exception
        ids = {e.id for e in parsed.entries}
        gone = record_url(base, models.RecordKind.PENALTY, story.withdrawn.id)
        assert {
            record_url(base, models.RecordKind.LICENSE, story.license.id),
            record_url(base, models.RecordKind.PENALTY, story.penalty.id),
            record_url(base, models.RecordKind.LIST_ENTRY, story.entry.id),
            gone + "#ended",
        } <= ids
        assert gone not in ids
        assert f'<at:deleted-entry ref="{gone}"' in response.text
        assert helpers.SECRET_FACTS not in response.text
        assert story.withdrawn.decision_doc_no not in response.text
        assert story.person_penalty.decision_doc_no not in response.text  # another subject's
        again = http.get(
            f"/feeds/subjects/{story.company.credit_code}.atom",
            headers={"If-None-Match": response.headers["etag"]},
        )
        assert (again.status_code, again.content) == (304, b"")
        since = http.get(
            f"/feeds/subjects/{story.company.credit_code}.atom",
            headers={"If-Modified-Since": response.headers["last-modified"]},
        )
        assert since.status_code == 304
        assert http.get("/feeds/subjects/NOSUCHKEY.atom").status_code == 404


def test_a_new_record_changes_the_subjects_feed_and_its_etag(
    engine: sa.Engine, session: Session, app_settings: settings.Settings
) -> None:
    story = helpers.tell(session)
    with client(app_settings, engine) as http:
        path = f"/feeds/subjects/{story.company.credit_code}.atom"
        first = http.get(path)
        added = factories.add_license(session, ON, subject_id=story.company.id)
        session.commit()
        second = http.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 200
        assert second.headers["etag"] != first.headers["etag"]
        url = record_url(app_settings.base_url, models.RecordKind.LICENSE, added.id)
        assert url in {e.id for e in feedparser.parse(second.content).entries}


@pytest.mark.parametrize("backend", search_backends.BACKENDS)
def test_any_search_is_a_feed_filtered_by_kind_and_department(
    engine: sa.Engine,
    session: Session,
    app_settings: settings.Settings,
    backend: settings.SearchBackend,
) -> None:
    story = helpers.tell(session)
    app_settings = dataclasses.replace(app_settings, search=backend)
    if backend == "whoosh":
        indexer.rebuild(app_settings.index_dir, engine, on=ON)
    else:  # the feed searches the database's rows: no index folder is built or needed
        assert indexer.current(app_settings.index_dir) is None
    base = app_settings.base_url
    with client(app_settings, engine) as http:
        response = http.get("/feeds/search.atom", params={"q": "鸿达食品"})
        assert response.status_code == 200
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo, parsed.bozo_exception
        ids = {e.id for e in parsed.entries}
        assert record_url(base, models.RecordKind.LICENSE, story.license.id) in ids
        assert record_url(base, models.RecordKind.PENALTY, story.penalty.id) in ids
        assert story.person_penalty.decision_doc_no not in response.text
        assert helpers.RAW_ID not in response.text
        self_link = [link.href for link in parsed.feed.links if link.rel == "self"]
        assert self_link == [
            urls.Urls(base).feed("search", "atom") + "?q=%E9%B8%BF%E8%BE%BE%E9%A3%9F%E5%93%81"
        ]
        penalties = http.get("/feeds/search.atom", params={"q": "鸿达食品", "kind": "penalty"})
        kinds = {e.id.split("/")[-2] for e in feedparser.parse(penalties.content).entries}
        assert kinds == {urls.KIND_FOLDERS[models.RecordKind.PENALTY]}
        again = http.get(
            "/feeds/search.atom",
            params={"q": "鸿达食品"},
            headers={"If-None-Match": response.headers["etag"]},
        )
        assert again.status_code == 304
        assert http.get("/feeds/search.atom").status_code == 400
        assert http.get("/feeds/search.atom", params={"q": "x", "kind": "nope"}).status_code == 400


def test_a_subject_page_links_its_feed_on_the_server(
    engine: sa.Engine, session: Session, app_settings: settings.Settings
) -> None:
    story = helpers.tell(session)
    app_settings = dataclasses.replace(app_settings, base_url=helpers.BASE_URL)
    built, _ = helpers.publish(engine, app_settings.releases_dir)
    key = story.company.credit_code or ""
    page = (built.folder / urls.subject_key_path(key)).read_text()
    feed = helpers.LINKS.feed(f"subjects/{key}", "atom")
    assert '<link rel="alternate" type="application/atom+xml"' in page
    assert f'href="{feed}"' in page
    with client(app_settings, engine) as http:
        served = http.get("/" + feed.removeprefix(helpers.BASE_URL))
        assert served.status_code == 200
        link = feedparser.parse(served.content).feed.link
        assert link == helpers.LINKS.subject(key)


def test_every_page_of_the_site_discovers_the_sites_feeds(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    helpers.tell(session)
    built = helpers.publish_all(engine, tmp_path / "out")
    pages = sorted(built.folder.rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text()
        root = "../" * (len(page.relative_to(built.folder).parts) - 1)
        for kind, path in (("atom+xml", "feeds/all.atom"), ("rss+xml", "feeds/all.xml")):
            link = f'<link rel="alternate" type="application/{kind}"'
            assert link in text and f'href="{root}{path}"' in text, page
            assert (built.folder / path).is_file()
