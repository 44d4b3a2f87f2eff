"""Searching the database's search rows (`GONGSHI_SEARCH=database`, see `disclosure.search_rows`):
FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL.

A search runs on a connection the searcher keeps per thread (no ORM, no session). Ranked by
relevance, it is the plain full-text query of the one search table, `ORDER BY rank LIMIT n`, its
n best rows then joined to their records and kept only if public on the day asked
(`lifecycle.public_clause`), in the same statement: when fewer than a page are left and more
rows matched, it asks again for more. By date, every match is joined and sorted. Counts are a
statement of their own, only when asked for; highlights are made from the shown texts of a
page's hits when first read. The rows are written with the data: nothing to follow, no lag.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import bigrams, lifecycle, models, search_rows, settings
from search_index import lag, search

# bm25 weights of the columns name, text, authority, codes (SQLite); ts_rank's of the weights
# D (codes), C (authority), B (text), A (name) (PostgreSQL): names above texts, codes above all
_BM25 = "2.0, 1.0, 1.0, 50.0"
_TS_WEIGHTS = "'{1.0, 0.1, 0.2, 0.4}'"
SNIPPET_CHARS = 120
SURROUND = 30
# rows ranked first for a page, as a multiple of the rows the page needs: the rows of records
# no longer public (past their period, by date) are dropped after ranking
OVERFETCH = 2
TABLE = models.SEARCH_TABLE


# how each engine's full-text query spells a term, "and", "or" and "any word beginning with"
_SYNTAX = {
    "sqlite": ('"{}"', " AND ", " OR ", " *"),  # FTS5
    "postgresql": ("'{}'", " & ", " | ", ":*"),  # tsquery
}


def _match(asked: search.Query, dialect: str) -> str:
    """The full-text query of what was asked: every word in the names or texts (names weigh
    more), or every word in the authority, or the document number, or the credit code."""
    term, both, either, prefix = _SYNTAX[dialect]
    alternatives = []
    if asked.words:
        alternatives += [
            "(" + both.join(term.format(word) for word in asked.words) + ")",
            "(" + both.join(term.format(search_rows.authority_token(w)) for w in asked.words) + ")",
        ]
    alternatives.append(term.format(search_rows.doc_no_token(asked.text)))
    if asked.code is not None:
        partial = "" if len(asked.code) == 18 else prefix
        alternatives.append(term.format(search_rows.code_token(asked.code)) + partial)
    return either.join(alternatives)


class _Dialect:
    """How one engine's dialect writes the statements (compiled once per searcher)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.name = engine.dialect.name
        self.sqlite = self.name == "sqlite"
        self.key = search_rows.key_column(self.name)
        # a stand-in for the day, replaced after compiling (the compiler would escape the %
        # of a psycopg parameter)
        on: sa.ColumnElement[dt.date] = sa.literal_column("__on__")
        self.public = {
            kind: str(
                lifecycle.public_clause(model, on).compile(
                    dialect=engine.dialect, compile_kwargs={"literal_binds": True}
                )
            ).replace("__on__", self.param("on"))
            for kind, model in models.RECORD_MODELS.items()
        }

    def param(self, name: str) -> str:
        return f":{name}" if self.sqlite else f"%({name})s"

    def place(self, key: str) -> str:
        """The kind's place (`search_rows.PLACES`) in the key `key`."""
        return f"{key} {'%' if self.sqlite else '%%'} {search_rows.KEYS}"

    def found(self, kinds: tuple[models.RecordKind, ...], department: bool) -> str:
        """The WHERE of the search rows that match, of `kinds`."""
        where = (
            f"{TABLE} MATCH {self.param('q')}"
            if self.sqlite
            else f"document @@ CAST({self.param('q')} AS tsquery)"
        )
        if len(kinds) < len(models.RecordKind):
            places = ", ".join(str(search_rows.PLACES[kind]) for kind in kinds)
            where += f" AND {self.place(self.key)} IN ({places})"
        if department:
            where += f" AND department = {self.param('department')}"
        return where

    def ranked(
        self, kinds: tuple[models.RecordKind, ...], department: bool, *, scored: bool, best: bool
    ) -> str:
        """The matching rows' keys and departments, with `scored` their scores, with `best` the
        first `fetch` best first."""
        # the department only where it is counted: it is read from the row's content
        columns = f"{self.key} AS key" + ("" if best else ", department")
        where, rank = self.found(kinds, department), ""
        if scored and self.sqlite:
            # bm25() sorted by SQLite, not FTS5's `ORDER BY rank`: FTS5 computes the rank of
            # each row again when it is read
            columns += f", -bm25({TABLE}, {_BM25}) AS score"
            rank = " ORDER BY score DESC"
        elif scored:
            columns += (
                f", ts_rank({_TS_WEIGHTS}, document, CAST({self.param('q')} AS tsquery)) AS score"
            )
            rank = " ORDER BY score DESC, key DESC"  # which of equal scores make the page: fixed
        if best:
            rank += f" LIMIT {self.param('fetch')}"
        else:
            rank = ""
        return f"SELECT {columns} FROM {TABLE} WHERE {where}{rank}"


class DatabaseSearcher:
    """Searches the search rows of `engine`'s database; `on` fixes the day (tests, benches),
    else each search is of today in Shanghai unless it names its day."""

    lags = False

    def __init__(self, engine: sa.Engine, *, on: dt.date | None = None) -> None:
        self.engine = engine
        self.on = on
        self._dialect = _Dialect(engine)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Any] = []

    def _connection(self) -> Any:
        """This thread's DBAPI connection, kept open for its searches."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self.engine.raw_connection()
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def refresh(self) -> None:
        """Nothing to do: every search reads the rows as committed."""

    def hidden(self, session: Session, on: dt.date) -> lag.Hidden:
        """None: the statement itself keeps out what is not public on `on`."""
        return {}

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections = []
        self._local = threading.local()

    def search(
        self,
        text: str,
        *,
        kinds: list[models.RecordKind] | None = None,
        department: str | None = None,
        order: search.Order = "relevance",
        offset: int = 0,
        limit: int = 20,
        counts: search.Counts = "departments",
        on: dt.date | None = None,
        hidden: lag.Hidden | None = None,
    ) -> search.Results:
        """Hits `offset` to `offset + limit` of `text` among the records public on `on`, with
        `counts`: by kind (each up to `search.COUNT_LIMIT`) or, exactly, by department."""
        if offset < 0 or offset + limit > search.MAX_WINDOW:
            raise search.QueryError(
                f"结果只能翻到前 {search.MAX_WINDOW} 条 / results go {search.MAX_WINDOW} deep"
            )
        asked = search.checked(text)
        day = on or self.on or settings.today()
        chosen = tuple(kind for kind in models.RecordKind if kind in (kinds or models.RecordKind))
        parameters: dict[str, Any] = {
            "q": _match(asked, self._dialect.name),
            "on": day.isoformat() if self._dialect.sqlite else day,
            "department": department,
            "limit": limit + 1,  # one more: whether another page follows
            "offset": offset,
        }
        connection = self._connection()
        try:
            cursor = connection.cursor()
            if order == "relevance":
                rows = self._best(cursor, chosen, bool(department), parameters)[offset:]
            else:
                cursor.execute(_by_date(self._dialect, chosen, bool(department)), parameters)
                rows = cursor.fetchall()
            by_kind: dict[models.RecordKind, int] = {}
            by_department: Counter[str] = Counter()
            complete = True
            if counts == "departments":
                cursor.execute(_grouped(self._dialect, chosen, bool(department)), parameters)
                for place, unit, count in cursor.fetchall():
                    kind = search_rows.KINDS[place]
                    by_kind[kind] = by_kind.get(kind, 0) + count
                    by_department[unit] += count
                by_kind = {kind: by_kind.get(kind, 0) for kind in chosen}
            elif counts == "kinds":
                cap = search.COUNT_LIMIT
                cursor.execute(
                    _capped(self._dialect, chosen, bool(department)), {**parameters, "cap": cap + 1}
                )
                found = cursor.fetchone()
                by_kind = {kind: min(count, cap) for kind, count in zip(chosen, found, strict=True)}
                complete = all(count <= cap for count in found)
            cursor.close()
        finally:
            if not self._dialect.sqlite:
                connection.rollback()  # no transaction left open between searches
        page = _Page(self, asked.words)
        hits = [
            search.Hit(*search_rows.unkey(key), float(score), page.snippets(index))
            for index, (key, score) in enumerate(rows[:limit])
        ]
        page.hits = [(hit.kind, hit.record_id) for hit in hits]
        return search.Results(
            hits=hits,
            more=len(rows) > limit and offset + limit < search.MAX_WINDOW,
            total=sum(by_kind.values()),
            by_kind=by_kind,
            by_department=dict(by_department),
            complete=complete,
        )

    def _best(
        self,
        cursor: Any,
        kinds: tuple[models.RecordKind, ...],
        department: bool,
        parameters: dict[str, Any],
    ) -> list[tuple[int, float]]:
        """The first `offset + limit` public matches' keys and scores, best first (the newest
        first among equal scores): the best rows ranked, their records' publicity checked, and
        more rows ranked while too few were public and more matched."""
        needed = parameters["offset"] + parameters["limit"]
        fetch = needed * OVERFETCH
        while True:
            cursor.execute(_best(self._dialect, kinds, department), {**parameters, "fetch": fetch})
            found = cursor.fetchall()
            ranked = found.pop()[1]  # how many rows were ranked (see _best)
            if len(found) >= needed or ranked < fetch:
                break
            fetch *= 4
        found.sort(key=lambda row: row[2], reverse=True)  # newest first among equal scores
        found.sort(key=lambda row: row[1], reverse=True)
        return [(key, score) for key, score, _decided in found[:needed]]

    def shown(self, keys: list[tuple[models.RecordKind, int]]) -> dict[Any, tuple[str, str]]:
        """The name and texts as shown of these search rows."""
        found: dict[Any, tuple[str, str]] = {}
        if not keys:
            return found
        connection = self._connection()
        try:
            cursor = connection.cursor()
            marks = ", ".join(
                str(search_rows.key(kind, int(record_id))) for kind, record_id in keys
            )
            cursor.execute(
                f"SELECT {self._dialect.key}, shown_name, shown_body"
                f" FROM {TABLE} WHERE {self._dialect.key} IN ({marks})"
            )
            found.update({search_rows.unkey(row[0]): (row[1], row[2]) for row in cursor.fetchall()})
            cursor.close()
        finally:
            if not self._dialect.sqlite:
                connection.rollback()
        return found


def _joined(dialect: _Dialect, kinds: tuple[models.RecordKind, ...], columns: str) -> str:
    """`columns` of the rows of `found` whose records are public, each kind joined to its
    records by key; `{table}` in `columns` is the records' table."""
    return " UNION ALL ".join(
        f"SELECT {columns.format(table=table)} FROM found JOIN {table}"
        f" ON {table}.id = found.key / {search_rows.KEYS}"
        f" WHERE {dialect.place('found.key')} = {search_rows.PLACES[kind]}"
        f" AND {dialect.public[kind]}"
        for kind in kinds
        for table in [models.RECORD_MODELS[kind].__tablename__]
    )


@functools.lru_cache(maxsize=256)
def _best(dialect: _Dialect, kinds: tuple[models.RecordKind, ...], department: bool) -> str:
    """The public ones of the `fetch` best matching rows (key, score, decision day), and last a
    row (-1, how many rows were ranked, NULL): fewer than `fetch` means none is left unranked."""
    ranked = dialect.ranked(kinds, department, scored=True, best=True)
    public = _joined(dialect, kinds, "found.key, found.score, {table}.decision_on")
    # MATERIALIZED: rank once, then join (not the join pushed into the ranking)
    return (
        f"WITH found AS MATERIALIZED ({ranked})"
        f" {public} UNION ALL SELECT -1, count(*), NULL FROM found"
    )


@functools.lru_cache(maxsize=256)
def _by_date(dialect: _Dialect, kinds: tuple[models.RecordKind, ...], department: bool) -> str:
    ranked = dialect.ranked(kinds, department, scored=True, best=False)
    public = _joined(dialect, kinds, "found.key, found.score, {table}.decision_on AS decided")
    return (
        f"WITH found AS ({ranked}) SELECT key, score FROM ({public}) AS public"
        f" ORDER BY decided DESC, score DESC"
        f" LIMIT {dialect.param('limit')} OFFSET {dialect.param('offset')}"
    )


@functools.lru_cache(maxsize=256)
def _grouped(dialect: _Dialect, kinds: tuple[models.RecordKind, ...], department: bool) -> str:
    ranked = dialect.ranked(kinds, department, scored=False, best=False)
    public = _joined(dialect, kinds, f"{dialect.place('found.key')} AS place, found.department")
    return (
        f"WITH found AS ({ranked}) SELECT place, department, count(*)"
        f" FROM ({public}) AS public GROUP BY place, department"
    )


@functools.lru_cache(maxsize=256)
def _capped(dialect: _Dialect, kinds: tuple[models.RecordKind, ...], department: bool) -> str:
    counts = ", ".join(
        f"(SELECT count(*) FROM (WITH found AS"
        f" ({dialect.ranked((kind,), department, scored=False, best=False)})"
        f" {_joined(dialect, (kind,), '1')} LIMIT {dialect.param('cap')}) AS c{place})"
        for place, kind in enumerate(kinds)
    )
    return f"SELECT {counts}"


class _Page:
    """The highlights of a page of hits, made for all of them when the first is read."""

    def __init__(self, searcher: DatabaseSearcher, words: list[str]) -> None:
        self.searcher = searcher
        self.words = words
        self.hits: list[tuple[models.RecordKind, int]] = []
        self._made: list[dict[str, str]] | None = None

    def snippets(self, index: int) -> _Snippets:
        return _Snippets(self, index)

    def made(self, index: int) -> dict[str, str]:
        if self._made is None:
            shown = self.searcher.shown(self.hits)
            self._made = []
            for key in self.hits:
                name, body = shown.get(key, ("", ""))
                marked = {"name": highlight(name, self.words), "body": highlight(body, self.words)}
                self._made.append({field: text for field, text in marked.items() if text})
        return self._made[index]


class _Snippets(Mapping[str, str]):
    """A hit's highlights (field → HTML snippet), read from the database on first use."""

    def __init__(self, page: _Page, index: int) -> None:
        self._page, self._index = page, index

    def _snippets(self) -> dict[str, str]:
        return self._page.made(self._index)

    def __getitem__(self, field: str) -> str:
        return self._snippets()[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self._snippets())

    def __len__(self) -> int:
        return len(self._snippets())


def highlight(text: str, words: list[str]) -> str:
    """`text` around its first matches of `words` (at most two passages, `SNIPPET_CHARS` in
    all), HTML-escaped, each match in <b class="match termN"> as whoosh marks them; "" if none
    matches."""
    position = {word: number for number, word in enumerate(words)}
    spans: list[tuple[int, int, int]] = []
    for start, token in bigrams.pieces(text, query=False):
        number = position.get(token)
        if number is None:
            continue
        end = start + len(token)
        if spans and start < spans[-1][1]:  # overlapping bigrams: one mark
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]), spans[-1][2])
        else:
            spans.append((start, end, number))
    if not spans:
        return ""
    passages: list[tuple[int, int, list[tuple[int, int, int]]]] = []
    for span in spans:
        if passages and span[1] + SURROUND - passages[-1][0] <= SNIPPET_CHARS // 2:
            passages[-1][2].append(span)
            passages[-1] = (passages[-1][0], span[1] + SURROUND, passages[-1][2])
        elif len(passages) < 2:
            passages.append((max(span[0] - SURROUND, 0), span[1] + SURROUND, [span]))
    return "...".join(_marked(text, start, end, marks) for start, end, marks in passages)


def _marked(text: str, start: int, end: int, marks: list[tuple[int, int, int]]) -> str:
    pieces, at = [], start
    for mark_start, mark_end, number in marks:
        pieces.append(html.escape(text[at:mark_start]))
        pieces.append(f'<b class="match term{number}">{html.escape(text[mark_start:mark_end])}</b>')
        at = mark_end
    pieces.append(html.escape(text[at : min(end, len(text))]))
    return "".join(pieces)
