"""Search rows: what search holds of each record, in the database itself (`GONGSHI_SEARCH=
database`), written in the transaction of every change of the record.

One table, `models.SEARCH_TABLE`, for every kind, keyed by `key` (the record's kind and id in one
integer): an FTS5 table on SQLite, a table with a `tsvector` and a GIN index on PostgreSQL. A row
holds the tokens of the record's search document (`search_document`, built from its public
projection), cut by `bigrams` as the whoosh index cuts them, in four columns: the names, the
names with the decision texts, the authority and source unit, and the codes (credit code and
document number as single tokens); beside them the source unit's code (filter and counts) and
the name and decision texts as shown, for highlights. Authority words and codes carry a prefix
of their own, so that a search matches each alternative without a column filter: a column
filter reads every match's positions, a token of its own only its own short list.

A row exists while the record is published and not ended early; whether
it is public on a given day is decided at search time by `lifecycle.public_clause`, so a record
whose publicity runs out by date leaves search that day with no write at all.

The table is made by `models.SEARCH_DDL` (migration 0012 creates the same). The writers keep
it only once `fill` has written it whole (`kept`): until then a writer writes no row, and
costs nothing more than it did without search in the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import bigrams, lifecycle, models, privacy, search_document
from disclosure.queries import plain_rows

BATCH = 5_000  # records read and rows written per statement

# What a record's tokens are weighted with, per column: a match in the name ranks above one in
# the texts alone, and an exact code above both.
COLUMNS = ("name", "text", "authority", "codes")


# the kinds' places in a key: key = record id * KEYS + place
KEYS = 4
PLACES = {kind: place for place, kind in enumerate(models.RecordKind)}
KINDS = dict(enumerate(models.RecordKind))


def key(kind: models.RecordKind, record_id: int) -> int:
    """The key of a record's search row."""
    return record_id * KEYS + PLACES[kind]


def unkey(row_key: int) -> tuple[models.RecordKind, int]:
    """The kind and id of the record of a search row's key."""
    return KINDS[row_key % KEYS], row_key // KEYS


def authority_token(word: str) -> str:
    """The token of a word of an authority's or source unit's name."""
    return "a" + word


def code_token(credit_code: str) -> str:
    """The token of a credit code (a query's prefix of one is a prefix of this)."""
    return "c" + credit_code.lower()


def doc_no_token(doc_no: str) -> str:
    """The token of a document number as typed: letters only, so that no tokenizer splits it."""
    digest = hashlib.blake2b(doc_no.encode("utf-8"), digest_size=10).hexdigest()
    return "d" + "".join(chr(ord("a") + int(digit, 16)) for digit in digest)


def _joined(text: str) -> str:
    return " ".join(bigrams.tokens(text))


def row(kind: models.RecordKind, document: Mapping[str, Any]) -> dict[str, Any]:
    """The search row of a record's search document."""
    codes = [doc_no_token(document["doc_no"])]
    if document["credit_code"]:
        codes.append(code_token(document["credit_code"]))
    return {
        "key": key(kind, document["record_id"]),
        "name": _joined(document["name"]),
        "text": _joined(document["text"]),
        "authority": " ".join(
            authority_token(word) for word in bigrams.tokens(document["authority"])
        ),
        "codes": " ".join(codes),
        "department": document["department"],
        "shown_name": document["name"],
        "shown_body": document["body"],
    }


def searchable(record: models.Record) -> bool:
    """Whether `record` has a search row: published (now or on a day to come) and not ended
    early; days past its own end are left to the search's `public_clause`."""
    return record.ended_on is None and lifecycle.is_public(record, record.published_on)


def _rows(records: Iterable[models.Record]) -> Iterator[dict[str, Any]]:
    for record in records:
        if searchable(record):
            shown = privacy.project(record, record.published_on)
            yield row(record.KIND, search_document.document(shown))


def _insert(dialect: str) -> sa.TextClause:
    name = models.SEARCH_TABLE
    if dialect == "sqlite":
        return sa.text(
            f"INSERT INTO {name} (rowid, name, text, authority, codes, department, shown_name,"
            " shown_body) VALUES (:key, :name, :text, :authority, :codes, :department,"
            " :shown_name, :shown_body)"
        )
    weighted = " || ".join(
        f"setweight(to_tsvector('simple', :{column}), '{weight}')"
        for column, weight in zip(COLUMNS, "ABCD", strict=True)
    )
    return sa.text(
        f"INSERT INTO {name} (key, document, department, shown_name, shown_body) VALUES"
        f" (:key, {weighted}, :department, :shown_name, :shown_body)"
    )


def key_column(dialect: str) -> str:
    """The column of the search table that holds the key."""
    return "rowid" if dialect == "sqlite" else "key"


def _write(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(_insert(connection.dialect.name), rows)


def refresh(session: Session, touched: Mapping[models.RecordKind, Iterable[int]]) -> int:
    """Rewrite the search rows of these records from their current state, in the session's
    transaction, in bulk; returns how many rows they have now."""
    connection = session.connection()
    column = key_column(connection.dialect.name)
    written = 0
    for kind, ids in touched.items():
        model = models.RECORD_MODELS[kind]
        every = sorted(ids)
        for start in range(0, len(every), BATCH):
            chunk = every[start : start + BATCH]
            connection.execute(
                sa.text(f"DELETE FROM {models.SEARCH_TABLE} WHERE {column} = :key"),
                [{"key": key(kind, record_id)} for record_id in chunk],
            )
            rows = list(_rows(plain_rows.records_by_id(session, model, chunk)))
            _write(connection, rows)
            written += len(rows)
    return written


def kept(connection: sa.Connection) -> bool:
    """Whether the writers keep the search rows (`fill` has written them)."""
    found = connection.execute(sa.text(f"SELECT kept FROM {models.SEARCH_STATE_TABLE}"))
    return bool(found.scalar())


def fill(session: Session) -> int:
    """Empty the search tables, write the row of every searchable record again, and have the
    writers keep them from now on; returns how many there are."""
    connection = session.connection()
    connection.execute(sa.text(f"DELETE FROM {models.SEARCH_STATE_TABLE}"))
    connection.execute(
        sa.text(f"INSERT INTO {models.SEARCH_STATE_TABLE} (kept) VALUES (:kept)"), {"kept": True}
    )
    written = 0
    connection.execute(sa.text(f"DELETE FROM {models.SEARCH_TABLE}"))
    for model in models.RECORD_MODELS.values():
        statement = (
            select(model)
            .where(col(model.ended_on).is_(None), lifecycle.shown_clause(model, dt.date.max))
            .order_by(col(model.id))
            .execution_options(yield_per=BATCH)
        )
        for records in session.exec(statement).partitions():
            rows = list(_rows(cast(list[models.Record], records)))
            _write(connection, rows)
            written += len(rows)
    return written
