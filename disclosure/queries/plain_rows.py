"""Records as plain rows of their tables (named tuples, not ORM objects), and records by id
whatever their visibility: what the bulk export, the search index and the change stream
read in bulk."""

from __future__ import annotations

import collections
import datetime as dt
import functools
from collections.abc import Collection, Iterator, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import lifecycle, models


@functools.cache
def row_type(table: sa.Table, kind: models.RecordKind | None) -> Any:
    """A named tuple type for rows of `table` without its timestamps (no rule reads them), with
    the records' KIND, which the rules tell kinds apart by: attribute reads ten times as fast as
    SQLAlchemy's rows, which matters over a million records."""
    names = [c.name for c in kept(table)]
    plain = collections.namedtuple(f"{table.name}_row", names)  # type: ignore[misc]
    return type(plain.__name__, (plain,), {"__slots__": (), "KIND": kind})


_TIMESTAMPS = ("created_at", "updated_at")


def kept(table: sa.FromClause) -> list[sa.ColumnElement[Any]]:
    """The columns of `table` a plain row holds: all but the timestamps."""
    return [c for c in table.columns if c.name not in _TIMESTAMPS]


def _plain_rows(
    session: Session,
    model: models.RecordModel,
    condition: sa.ColumnElement[bool],
    *,
    with_subject: bool = False,
    batch: int = 2000,
) -> Iterator[Any]:
    table, subjects = table_of(model), table_of(models.Subject)
    make = row_type(table, model.KIND)._make
    columns = kept(table)
    statement = sa.select(*columns)
    if with_subject:
        # the subject in the same row: records rarely share one within an id range
        make_subject = row_type(subjects, None)._make
        statement = sa.select(*columns, *kept(subjects)).join_from(
            table, subjects, table.c.subject_id == subjects.c.id
        )
    statement = statement.where(condition).order_by(table.c.id).execution_options(yield_per=batch)
    # on the connection: rows, without the ORM's loading; by batch, without a call per row
    width = len(columns)
    for rows in session.connection().execute(statement).partitions():
        if with_subject:
            for row in rows:
                yield make(row[:width]), make_subject(row[width:])
        else:
            yield from map(make, rows)


def table_of(model: type[Any]) -> sa.Table:
    return cast(sa.Table, model.__table__)


def public_rows(
    session: Session, model: models.RecordModel, on: dt.date, id_from: int, id_to: int
) -> Iterator[tuple[Any, Any]]:
    """The public records of `model` on `on` with ids in [id_from, id_to], by id, each with its
    subject, as plain rows of their tables (named tuples; the record's with its KIND): what
    privacy projects, for exports too big for ORM objects."""
    in_range = sa.and_(col(model.id) >= id_from, col(model.id) <= id_to)
    public = sa.and_(lifecycle.public_clause(model, on), in_range)
    return _plain_rows(session, model, public, with_subject=True)


def ended_rows(
    session: Session, model: models.RecordModel, on: dt.date, id_from: int, id_to: int
) -> Iterator[Any]:
    """The records of `model` with ids in [id_from, id_to] whose publicity had ended by `on`
    (their tombstones'), as plain rows of their table with KIND."""
    in_range = sa.and_(col(model.id) >= id_from, col(model.id) <= id_to)
    ended = sa.and_(
        lifecycle.shown_clause(model, on), sa.not_(lifecycle.public_clause(model, on)), in_range
    )
    return _plain_rows(session, model, ended)


def public_records(
    session: Session, model: models.RecordModel, on: dt.date, *, batch: int = 1000
) -> Iterator[models.Record]:
    """Every public record of `model` on `on`, by id, streamed `batch` rows at a time."""
    statement = (
        select(model)
        .where(lifecycle.public_clause(model, on))
        .order_by(col(model.id))
        .execution_options(yield_per=batch)
    )
    yield from session.exec(statement)  # type: ignore[misc]


def record_id_span(session: Session, model: models.RecordModel) -> tuple[int, int] | None:
    """The lowest and highest id of `model`'s records."""
    low, high = session.execute(
        sa.select(sa.func.min(col(model.id)), sa.func.max(col(model.id)))
    ).one()
    return None if low is None else (int(low), int(high))


def records_by_id(
    session: Session, model: models.RecordModel, ids: Collection[int]
) -> list[models.Record]:
    """The records of `model` with these ids (public or not), in one query."""
    if not ids:
        return []
    found = session.exec(select(model).where(col(model.id).in_(list(ids)))).unique()
    return list(found)  # type: ignore[arg-type]


def records_by_ids(
    session: Session, kind: models.RecordKind, ids: Sequence[int]
) -> dict[int, models.Record]:
    """Records of `kind` by id whatever their visibility (callers project or tombstone them)."""
    model = models.RECORD_MODELS[kind]
    statement = select(model).where(col(model.id).in_(ids))
    rows = cast(list[models.Record], list(session.exec(statement).unique()))
    return {record.id: record for record in rows if record.id is not None}
