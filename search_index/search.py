"""Searching the index: names, credit codes, document numbers and words of decision texts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlmodel import Session
from whoosh import collectors, highlight, query, sorting
from whoosh import index as whoosh_index
from whoosh.searching import Searcher as WhooshSearcher

from disclosure import models
from search_index import analysis, documents, indexer, lag

MAX_QUERY_LENGTH = 100
MAX_WINDOW = 1000  # how deep relevance paging goes, like every public search API
# Matches counted one by one at most, per kind, when only counts by kind are asked for: past this
# the count stops and the results say they are not complete (counting all of half a million
# matches takes seconds).
COUNT_LIMIT = 10_000
TIME_BUDGET_SECONDS = 0.4  # one search, all its shards together…
SHARD_SECONDS = 0.05  # …but each shard at least this long
NAME_BOOST = 2.0  # a record whose subject's name holds every word ranks above one whose text does
_CODE = re.compile(r"[0-9A-Z]{4,18}")
_SNIPPETS = highlight.ContextFragmenter(maxchars=120, surround=30)


class QueryError(ValueError):
    """A query that cannot be searched, with what to do about it."""


@dataclasses.dataclass(frozen=True)
class Hit:
    """One matching record: where to find it, how well it matched, and why."""

    kind: models.RecordKind
    record_id: int
    score: float
    highlights: Mapping[str, str]  # field → HTML snippet with <b class="match …"> marks


# What a search counts besides its page of hits: nothing (the cheapest: a page and whether more
# follow), the matches of each kind (up to COUNT_LIMIT), or every match by kind and department.
Counts = Literal["none", "kinds", "departments"]


@dataclasses.dataclass(frozen=True)
class Results:
    """A page of hits, whether more follow, and the counts that were asked for."""

    hits: list[Hit]
    more: bool  # hits follow this page (within MAX_WINDOW)
    total: int  # all matches; 0 unless counted
    by_kind: dict[models.RecordKind, int]  # empty unless counted
    by_department: dict[str, int]  # source unit credit code → matches; empty unless counted
    complete: bool  # False when the time budget or the count limit cut the search short


Order = Literal["relevance", "date"]


class Backend(Protocol):
    """What the API searches: the whoosh index folder of a node (`Searcher`) or the search rows
    of the database (`search_index.database.DatabaseSearcher`)."""

    # whether answers follow the change log behind the data (a response cache must not keep
    # them by data version alone)
    lags: bool

    def search(
        self,
        text: str,
        *,
        kinds: list[models.RecordKind] | None = None,
        department: str | None = None,
        order: Order = "relevance",
        offset: int = 0,
        limit: int = 20,
        counts: Counts = "departments",
        on: dt.date | None = None,
        hidden: lag.Hidden | None = None,
    ) -> Results:
        """Hits `offset` to `offset + limit` of `text` among the records public on `on`."""

    def hidden(self, session: Session, on: dt.date) -> lag.Hidden:
        """The records this backend may still hold that are not public on `on`."""

    def refresh(self) -> None:
        """See the changes written since the last search, where that takes a step."""

    def close(self) -> None:
        """Let go of what the backend holds open."""


@dataclasses.dataclass(frozen=True)
class Query:
    """What a user typed, checked: the text, its distinct query terms, and the credit code (or
    prefix of one) it may be."""

    text: str
    words: list[str]
    code: str | None


def checked(text: str) -> Query:
    """The query of `text`, or QueryError saying why it cannot be searched."""
    stripped = text.strip()
    if not stripped:
        raise QueryError("查询内容为空 / the query is empty")
    if len(stripped) > MAX_QUERY_LENGTH:
        raise QueryError(f"查询内容过长 / the query is longer than {MAX_QUERY_LENGTH} characters")
    code = analysis.normalize(stripped).upper().replace(" ", "")
    words = analysis.terms(stripped)
    matched = _CODE.fullmatch(code) is not None
    if not words and not matched:
        raise QueryError("查询内容中没有可检索的文字 / the query has no searchable words")
    return Query(stripped, words, code if matched else None)


def parse(text: str) -> query.Query:
    """The query for what a user typed: its words (as bigrams) in the name and decision texts,
    name matches ranking first, or all in the authority's name; or an exact credit code or
    document number, which ranks first."""
    asked = checked(text)
    stripped, code, words = asked.text, asked.code, asked.words
    alternatives: list[query.Query] = [query.Term("doc_no", stripped, boost=50.0)]
    if code is not None:
        exact = len(code) == 18
        alternatives.append(
            query.Term("credit_code", code, boost=50.0)
            if exact
            else query.Prefix("credit_code", code, boost=10.0)
        )
    if words:
        alternatives += [
            query.AndMaybe(
                query.And([query.Term("text", word) for word in words]),
                query.And([query.Term("name", word) for word in words], boost=NAME_BOOST),
            ),
            query.And([query.Term("authority", word) for word in words]),
        ]
    return query.Or(alternatives)


class Searcher:
    """Searches the live build of an index folder; `refresh` picks up updates and rebuilds.

    Shared by an API node's query threads: one search at a time (whoosh searchers are not made
    for concurrent use), and never one while `refresh` swaps the searchers."""

    lags = True

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self._lock = threading.RLock()
        self._build: Path | None = None
        self._indexes: dict[models.RecordKind, Any] = {}
        self._searchers: dict[models.RecordKind, WhooshSearcher] = {}
        self.refresh()

    def refresh(self) -> None:
        """Reopen on a new build, or refresh the searchers to see committed updates."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        build = indexer.current(self.index_dir)
        if build is None:
            raise indexer.IndexUnavailable(
                f"no index in {self.index_dir}: run `gongshi index --rebuild`"
            )
        if build != self._build:
            indexer.read_watermark(build)  # refuses a build of another document layout
            self.close()
            self._indexes = {
                kind: whoosh_index.open_dir(str(build / kind.value)) for kind in models.RecordKind
            }
            self._searchers = {kind: shard.searcher() for kind, shard in self._indexes.items()}
            self._build = build
            return
        for kind, searcher in self._searchers.items():
            # a fresh searcher, not searcher.refresh(): whoosh cannot refresh an empty shard's
            if not searcher.up_to_date():
                searcher.close()
                self._searchers[kind] = self._indexes[kind].searcher()

    def watermark(self) -> indexer.Watermark:
        """How far the build being searched has followed the change log."""
        with self._lock:
            assert self._build is not None  # opened in __init__, or it raised
            return indexer.read_watermark(self._build)

    def hidden(self, session: Session, on: dt.date) -> lag.Hidden:
        """The records the build may still hold that are not public on `on`: changed since its
        watermark, or run out since its day."""
        mark = self.watermark()
        return lag.hidden(session, mark.event_id, mark.as_of, on)

    def close(self) -> None:
        with self._lock:
            for searcher in self._searchers.values():
                searcher.close()
            self._searchers = {}

    def search(
        self,
        text: str,
        *,
        kinds: list[models.RecordKind] | None = None,
        department: str | None = None,
        order: Order = "relevance",
        offset: int = 0,
        limit: int = 20,
        counts: Counts = "departments",
        on: dt.date | None = None,
        hidden: lag.Hidden | None = None,
    ) -> Results:
        """Hits `offset` to `offset + limit` of `text` across the chosen kinds, with `counts`
        (each level costs more: counting by department is a pass over every match); the
        `hidden` records are neither hits nor counted. The build holds the records public on
        its own day: `on` is for `hidden` (see `hidden`) to have said what differs."""
        if offset < 0 or offset + limit > MAX_WINDOW:
            raise QueryError(f"结果只能翻到前 {MAX_WINDOW} 条 / results go {MAX_WINDOW} deep")
        parsed = parse(text)
        words = frozenset(analysis.terms(text))
        with self._lock:
            masks = {kind: self._docnums(kind, ids) for kind, ids in (hidden or {}).items()}
            return self._search(
                parsed, words, kinds, department, order, offset, limit, counts, masks
            )

    def _docnums(self, kind: models.RecordKind, ids: set[int]) -> frozenset[int]:
        """The documents of these records in a shard (those it holds)."""
        searcher = self._searchers[kind]
        found = (searcher.document_number(key=documents.key(kind, record_id)) for record_id in ids)
        return frozenset(number for number in found if number is not None)

    def _search(
        self,
        parsed: query.Query,
        words: frozenset[str],
        kinds: list[models.RecordKind] | None,
        department: str | None,
        order: Literal["relevance", "date"],
        offset: int,
        limit: int,
        counts: Counts,
        masks: dict[models.RecordKind, frozenset[int]],
    ) -> Results:
        ranked: list[tuple[Any, models.RecordKind, Any]] = []
        by_kind: dict[models.RecordKind, int] = {}
        by_department: Counter[str] = Counter()
        complete = True
        grouped = counts == "departments"
        window = min(offset + limit + 1, MAX_WINDOW)  # one more: whether another page follows
        deadline = time.monotonic() + TIME_BUDGET_SECONDS
        for kind in kinds or list(models.RecordKind):
            mask = masks.get(kind, frozenset())
            results, whole = self._search_shard(
                kind, parsed, department, order, window, grouped, deadline, mask
            )
            for hit in results:
                decided = hit["decided"]
                key = (decided, hit.score) if order == "date" else (hit.score, decided)
                ranked.append((key, kind, hit))
            if grouped and whole:  # every match was collected: the counts are at hand
                by_kind[kind] = len(results)
                by_department.update(
                    {name: len(docs) for name, docs in results.groups("department").items()}
                )
            elif counts != "none":
                # a search the time budget cut short still counts its matches (up to the
                # limit): how many there are does not depend on how busy the machine was
                exact = whole and results.has_exact_length()
                by_kind[kind], counted = (
                    (len(results), True) if exact else self._count(kind, parsed, department, mask)
                )
                whole = whole and counted
            complete = complete and whole
        ranked.sort(key=lambda entry: entry[0], reverse=True)
        return Results(
            hits=[_hit(kind, hit, words) for _key, kind, hit in ranked[offset : offset + limit]],
            more=len(ranked) > offset + limit and offset + limit < MAX_WINDOW,
            total=sum(by_kind.values()),
            by_kind=by_kind,
            by_department=dict(by_department),
            complete=complete,
        )

    def _count(
        self,
        kind: models.RecordKind,
        parsed: query.Query,
        department: str | None,
        mask: frozenset[int],
    ) -> tuple[int, bool]:
        """The matches of a search, up to COUNT_LIMIT, apart from `mask`; and whether that
        is all of them."""
        if department:
            parsed = query.And([parsed, query.Term("department", department)])
        everything = self._searchers[kind].docs_for_query(parsed)
        matches = (number for number in everything if number not in mask)
        count = sum(1 for _ in itertools.islice(matches, COUNT_LIMIT + 1))
        return min(count, COUNT_LIMIT), count <= COUNT_LIMIT

    def _search_shard(
        self,
        kind: models.RecordKind,
        parsed: query.Query,
        department: str | None,
        order: str,
        depth: int,
        grouped: bool,
        deadline: float,
        mask: frozenset[int],
    ) -> tuple[Any, bool]:
        searcher = self._searchers[kind]
        sort = sorting.FieldFacet("decided", reverse=True) if order == "date" else None
        collector = searcher.collector(
            limit=max(depth, 1),  # whoosh refuses 0; a page of none still counts the matches
            sortedby=sort,
            groupedby={"department": sorting.FieldFacet("department")} if grouped else None,
            filter=query.Term("department", department) if department else None,
            mask=set(mask) or None,  # whoosh takes a set, not a frozenset
        )
        # a timer thread, not SIGALRM: requests are served outside the main thread
        timed = _TimeLimit(
            # a shard reached past the deadline still gets a moment for its best matches
            collector,
            timelimit=max(deadline - time.monotonic(), SHARD_SECONDS),
            use_alarm=False,
        )
        complete = True
        try:
            searcher.search_with_collector(parsed, timed)
        except collectors.TimeLimit:
            complete = False
        return timed.results(), complete


class _TimeLimit(collectors.TimeLimitCollector):  # type: ignore[misc]
    """whoosh's time limit, keeping the filter and mask of the collector it wraps: whoosh's
    own loop hands every match to that collector's `collect`, past its filter and mask."""

    def collect_matches(self) -> None:
        child = self.child
        allow = getattr(child, "_allow", None)  # set by a FilterCollector's prepare
        restrict = getattr(child, "_restrict", None)
        for sub_docnum in child.matches():
            if self.timedout:
                raise collectors.TimeLimit
            docnum = child.offset + sub_docnum
            if (allow is not None and docnum not in allow) or (
                restrict is not None and docnum in restrict
            ):
                continue
            child.collect(sub_docnum)


def _hit(kind: models.RecordKind, hit: Any, words: frozenset[str]) -> Hit:
    """A hit with its snippets: highlighting costs, so only hits on the page get it."""
    snippets = {
        field: snippet
        for field in ("name", "body")
        if (
            snippet := highlight.highlight(
                hit[field],
                words,
                analysis.analyzer(),
                _SNIPPETS,
                highlight.HtmlFormatter(tagname="b"),
                top=2,
                mode="index",
            )
        )
    }
    return Hit(kind, hit["record_id"], float(hit.score or 0), snippets)
