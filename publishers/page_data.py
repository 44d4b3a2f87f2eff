"""The data next to every list and subject page: a `.json` and a `.csv` of exactly the records
the page shows, beside it (`x.html` → `x.json`, `x.csv`).

A record's lines are those of the bulk files (`bulk_schema`: the same projection, the same
formula guard), made once when its page renders and kept in a `Lines` store that follows the
releases (an incremental publish copies the previous one and replaces the changed records'), so
a data file is assembled from lines without loading or projecting a record again.

A page showing one kind has the bulk CSV's header and lines; a page that may show several
(departments, subjects) has the columns of those kinds, one column per distinct Chinese header in
the kinds' order, each row filled in its kind's columns.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import io
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import orjson

from disclosure import models, privacy
from publishers import bulk_schema

FORMATS = ("json", "csv")
# Bumped when what a data file holds changes shape: a previous release's lines are then not
# reused.
VERSION = 1
STORE_SUFFIX = ".lines.sqlite"  # beside a release's manifest, never served
LICENSE = "CC-BY-4.0"
BATCH = 500  # record keys per query


def path_for(page_path: str, fmt: str) -> str:
    """The data file in format `fmt` (json or csv) beside the page at `page_path`."""
    return page_path.removesuffix(".html") + "." + fmt


@functools.cache
def _csv_line(kind: models.RecordKind) -> Callable[[privacy.Fields], str]:
    return bulk_schema.csv_line_function(kind)


def lines(kind: models.RecordKind, fields: privacy.Fields) -> tuple[bytes, str]:
    """A public record's JSON line and CSV line, as the bulk files have them."""
    return bulk_schema.json_line(fields), _csv_line(kind)(fields)


def digest(json_line: bytes) -> str:
    """What the summary rows keep of a record's data: a short digest of its JSON line (its CSV
    line is made from the same fields)."""
    return hashlib.blake2b(json_line, digest_size=10).hexdigest()


class Lines:
    """Each public record's JSON and CSV line by its key (`records.key`), in a SQLite file.

    Batches of record pages write into it from their worker processes (one transaction each);
    the data files read it once every batch is done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader: sqlite3.Connection | None = None

    @classmethod
    def create(cls, path: Path, previous: Path | None, drop: Iterable[str]) -> Lines:
        """A store at `path`: a copy of `previous` without the records `drop`, or a new one."""
        path.unlink(missing_ok=True)
        if previous is not None:
            shutil.copyfile(previous, path)
        store = cls(path)
        with store._connected() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS line (key TEXT PRIMARY KEY, json BLOB, csv TEXT)"
            )
            dropped = list(drop)
            for start in range(0, len(dropped), BATCH):
                chunk = dropped[start : start + BATCH]
                marks = ",".join("?" * len(chunk))
                connection.execute(f"DELETE FROM line WHERE key IN ({marks})", chunk)
        return store

    @contextlib.contextmanager
    def _connected(self) -> Iterator[sqlite3.Connection]:
        # a worker waits for the other's transaction; nothing here needs to survive a crash
        # (a failed publish deletes the store with its release)
        connection = sqlite3.connect(self.path, timeout=600, isolation_level=None)
        try:
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        finally:
            connection.close()

    def add(self, found: Sequence[tuple[str, bytes, str]]) -> None:
        """Store (key, JSON line, CSV line) of some records, replacing what their keys held."""
        if not found:
            return
        with self._connected() as connection:
            connection.executemany("INSERT OR REPLACE INTO line VALUES (?, ?, ?)", found)

    def get(self, keys: Sequence[str]) -> dict[str, tuple[bytes, str]]:
        """The lines of the records `keys`."""
        found: dict[str, tuple[bytes, str]] = {}
        if self._reader is None:  # one connection for the pages a worker renders in a row
            self._reader = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        for start in range(0, len(keys), BATCH):
            chunk = list(keys[start : start + BATCH])
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, json, csv FROM line WHERE key IN ({marks})"
            for key, json_line, csv_line in self._reader.execute(query, chunk):
                found[key] = (bytes(json_line), csv_line)
        return found

    def close(self) -> None:
        """Close what `get` opened."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None


@dataclasses.dataclass(frozen=True)
class Spec:
    """The data files of one page: which records, in the page's order, and what the JSON file
    says of the page."""

    page_path: str
    kinds: tuple[models.RecordKind, ...]  # the kinds whose columns the CSV has
    keys: tuple[str, ...]  # the records' keys, as the page shows them
    title: str
    url: str  # the page's address
    pager: dict[str, int] | None = None  # page, pages, total of a paginated list


@functools.cache
def _layout(kinds: tuple[models.RecordKind, ...]) -> tuple[list[str], dict[str, list[int]]]:
    """The header of a CSV of `kinds`, and where each kind's cells go in it."""
    header: list[str] = []
    places: dict[str, list[int]] = {}
    for kind in kinds:
        places[kind.value] = []
        for column in bulk_schema.columns(kind):
            if column.header not in header:
                header.append(column.header)
            places[kind.value].append(header.index(column.header))
    return header, places


def _header_line(header: list[str]) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerow(header)
    return text.getvalue()


def render_csv(kinds: tuple[models.RecordKind, ...], found: Sequence[tuple[str, str]]) -> bytes:
    """The CSV file of records (kind value, bulk CSV line), for Excel: UTF-8 with a BOM, the
    Chinese headers, CRLF line ends."""
    header, places = _layout(kinds)
    parts = ["\ufeff", _header_line(header)]
    if len(kinds) == 1:
        parts.extend(line for _kind, line in found)
    else:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        width = len(header)
        for kind, line in found:
            cells = [""] * width
            for place, cell in zip(places[kind], next(csv.reader([line])), strict=True):
                cells[place] = cell
            writer.writerow(cells)
        parts.append(out.getvalue())
    return "".join(parts).encode()


def render_json(spec: Spec, found: Sequence[bytes]) -> bytes:
    """The JSON file of records (their bulk JSON lines): the page's title and address, the data
    licence, and the records in the page's order."""
    head: dict[str, object] = {"title": spec.title, "url": spec.url, "license": LICENSE}
    if spec.pager is not None:
        head.update(spec.pager)
    start = orjson.dumps(head)[:-1] + b',"records":['
    return start + b",".join(found) + b"]}\n"


def render(spec: Spec, store: Lines) -> dict[str, bytes]:
    """Site path → bytes of the page's data files."""
    got = store.get(spec.keys)
    missing = [key for key in spec.keys if key not in got]
    if missing:
        raise LookupError(f"no data lines for {', '.join(missing[:5])} on {spec.page_path}")
    shown = [got[key] for key in spec.keys]
    kinds = [key.partition("/")[0] for key in spec.keys]
    return {
        path_for(spec.page_path, "json"): render_json(spec, [j for j, _c in shown]),
        path_for(spec.page_path, "csv"): render_csv(
            spec.kinds, [(k, c) for k, (_j, c) in zip(kinds, shown, strict=True)]
        ),
    }
