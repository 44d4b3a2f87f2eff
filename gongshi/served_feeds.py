"""`gongshi serve`'s feeds made on request: /feeds/search.atom?q=…&kind=…&department=… (any
search as a feed) and /feeds/subjects/<key>.atom (one subject's feed), from the database, each
cached by the data version and the day, with an entity tag and Last-Modified for 304s."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import hashlib
from urllib.parse import urlencode

import anyio.to_thread
import sqlalchemy as sa
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api import cache
from disclosure import models, privacy, settings
from disclosure.queries import change_log
from publishers import feeds, query_feeds, records
from search_index import backends
from search_index import search as index_search

SEARCH_PATH = "/feeds/search.atom"
SUBJECT_PATH = "/feeds/subjects/{key}.atom"
MEDIA_TYPE = feeds.MEDIA_TYPES["atom"]
CACHE_ENTRIES = 512
CACHE_BYTES = 32 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class _Made:
    body: bytes
    updated: dt.datetime


class FeedRoutes:
    """The feeds' endpoints over one node's database and search index."""

    def __init__(
        self, app_settings: settings.Settings, engine: sa.Engine, as_of: dt.date | None = None
    ) -> None:
        self.settings = app_settings
        self.engine = engine
        self.as_of = as_of
        self.cache = cache.ResponseCache(CACHE_ENTRIES, CACHE_BYTES)
        self._updated: dict[str, dt.datetime] = {}
        self._searcher: index_search.Backend | None = None

    def routes(self) -> list[Route]:
        """The routes, to come before the site's."""
        return [
            Route(SEARCH_PATH, self.search, methods=["GET", "HEAD"]),
            Route(SUBJECT_PATH, self.subject, methods=["GET", "HEAD"]),
        ]

    def _on(self) -> dt.date:
        return self.as_of or settings.today()

    def _searcher_now(self) -> index_search.Backend | None:
        """The node's search backend (GONGSHI_SEARCH), opened on first use; a whoosh index
        built since a request found none is opened by the next."""
        if self._searcher is None:
            self._searcher = backends.open_backend(self.settings, self.engine, on=self.as_of)
        if self._searcher is not None:
            self._searcher.refresh()
        return self._searcher

    async def subject(self, request: Request) -> Response:
        key = request.path_params["key"]

        def make(session: Session, on: dt.date) -> feeds.Feed | str:
            feed = query_feeds.subject_feed(session, key, on, self.settings.urls)
            return feed if feed is not None else f"no subject {key!r} / 没有这个主体"

        return await self._answer(request, f"subject:{key}", make)

    async def search(self, request: Request) -> Response:
        params = request.query_params
        text = params.get("q", "").strip()
        kinds_given = params.getlist("kind")
        department = params.get("department") or None
        if not text:
            return PlainTextResponse("q is required / 请提供搜索词 q", status_code=400)
        try:
            kinds = [models.RecordKind(k) for k in kinds_given] or None
        except ValueError:
            choices = ", ".join(k.value for k in models.RecordKind)
            return PlainTextResponse(f"kind must be one of {choices}", status_code=400)
        # what the feed says of its query (title, self link) never shows an identity number
        shown = privacy.scrub(text, person=True) or ""
        pairs = [("q", shown), *(("kind", k) for k in kinds_given)]
        if department:
            pairs.append(("department", department))
        query = urlencode(pairs)

        def make(session: Session, on: dt.date) -> feeds.Feed | str:
            searcher = self._searcher_now()
            if searcher is None:
                return "search is not available on this node: its index has not been built"
            hidden = searcher.hidden(session, on)
            try:
                found = searcher.search(
                    text,
                    kinds=kinds,
                    department=department,
                    order="date",
                    limit=query_feeds.SIZE,
                    counts="none",
                    on=on,
                    hidden=hidden,
                )
            except index_search.QueryError as error:
                return str(error)
            hits = [(hit.kind, hit.record_id) for hit in found.hits]
            links = self.settings.urls
            return query_feeds.search_feed(session, hits, on, links, query, shown)

        cached = urlencode([("q", text), *pairs[1:]])
        return await self._answer(request, f"search:{cached}", make)

    async def _answer(self, request: Request, name: str, make: object) -> Response:
        made = await anyio.to_thread.run_sync(self._made, name, make)
        if isinstance(made, Response):
            return made
        entry, updated = made
        headers = {
            "ETag": entry.etag,
            "Last-Modified": email.utils.format_datetime(updated.astimezone(dt.UTC), usegmt=True),
            "Cache-Control": "public, max-age=60",
        }
        if _not_modified(request, entry.etag, updated):
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else entry.body
        return Response(body, media_type=MEDIA_TYPE, headers=headers)

    def _made(self, name: str, make: object) -> tuple[cache.Entry, dt.datetime] | Response:
        on = self._on()
        with Session(self.engine) as session:
            version = change_log.last_event_id(session)
            key = hashlib.blake2b(
                f"{name}\n{on.isoformat()}\n{version}".encode(), digest_size=16
            ).hexdigest()
            found = self.cache.get(key)
            if found is not None and key in self._updated:
                return found, self._updated[key]
            assert callable(make)
            feed = make(session, on)
        if isinstance(feed, str):
            status = 404 if name.startswith("subject:") else 400
            if feed.startswith("search is not available"):
                status = 503
            return PlainTextResponse(feed, status_code=status)
        body = feeds.render_feed(feed, "atom", self.settings.urls, records.SITE_NAME)
        updated = feed.updated()
        self._updated[key] = updated
        if len(self._updated) > CACHE_ENTRIES * 2:
            self._updated = {k: v for k, v in self._updated.items() if self.cache.get(k)}
        return self.cache.put(key, body), updated


def _not_modified(request: Request, etag: str, updated: dt.datetime) -> bool:
    """Whether the client's copy is current (If-None-Match wins over If-Modified-Since)."""
    match = request.headers.get("if-none-match")
    if match is not None:
        return etag in [tag.strip() for tag in match.split(",")] or match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return updated.replace(microsecond=0) <= when
