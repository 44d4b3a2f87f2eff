"""The public API's records and pages: lists of records newest first by keyset, their
counts, one record, one subject and what is public about it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import lifecycle, models
from disclosure.queries import plain_rows

R = TypeVar("R", models.License, models.Penalty, models.ListEntry)


MAX_PAGE = 100


@dataclasses.dataclass(frozen=True)
class RecordFilter:
    """Filters of the public record lists; None means any. Each has an index that serves it
    together with the newest-first order (see models._record_indexes)."""

    source_unit: str | None = None  # department (数据来源单位) credit code
    authority: str | None = None  # authority credit code
    subject_category: models.SubjectCategory | None = None
    category: str | None = None  # license category (许可类别) or one Art. 9 penalty label
    severity: models.Severity | None = None
    decided_from: dt.date | None = None
    decided_to: dt.date | None = None
    list_code: str | None = None
    list_kind: models.ListKind | None = None
    under_objection: bool | None = None


# A position in newest-first order: (decision date, id) of the last record seen.
Position = tuple[dt.date, int]


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of records newest first, and whether more follow."""

    records: list[RecordRow]
    has_next: bool

    def position(self, record: RecordRow) -> Position:
        """Where `record` stands in the order: what `after=` takes to continue behind it."""
        assert record.id is not None
        return (record.decision_on, record.id)


def _department_id(credit_code: str) -> sa.ScalarSelect[Any]:
    return (
        sa.select(col(models.Department.id))
        .where(col(models.Department.credit_code) == credit_code)
        .scalar_subquery()
    )


def filter_conditions(
    model: models.RecordModel, on: dt.date | sa.ColumnElement[dt.date], where: RecordFilter
) -> list[sa.ColumnElement[bool]]:
    """The conditions selecting the public records of `model` on `on` that pass `where`."""
    conditions = [lifecycle.public_clause(model, on)]
    if where.source_unit is not None:
        conditions.append(col(model.source_unit_id) == _department_id(where.source_unit))
    if where.authority is not None:
        conditions.append(col(model.authority_id) == _department_id(where.authority))
    if where.subject_category is not None:
        conditions.append(
            col(model.subject_id).in_(
                sa.select(col(models.Subject.id)).where(
                    col(models.Subject.category) == where.subject_category
                )
            )
        )
    if where.decided_from is not None:
        conditions.append(col(model.decision_on) >= where.decided_from)
    if where.decided_to is not None:
        conditions.append(col(model.decision_on) <= where.decided_to)
    if where.under_objection is not None:
        opened = sa.and_(
            col(model.objection_opened_on).is_not(None), col(model.objection_opened_on) <= on
        )
        conditions.append(opened if where.under_objection else sa.not_(opened))
    if where.category is not None:
        if model is models.License:
            conditions.append(col(models.License.category) == where.category)
        elif model is models.Penalty:
            labels = ";" + col(models.Penalty.categories) + ";"
            conditions.append(labels.contains(f";{where.category};", autoescape=True))
        else:
            conditions.append(sa.false())
    if where.severity is not None:
        if model is models.Penalty:
            conditions.append(col(models.Penalty.severity) == where.severity)
        else:
            conditions.append(sa.false())
    if where.list_code is not None or where.list_kind is not None:
        if model is models.ListEntry:
            lists = sa.select(col(models.List.id))
            if where.list_code is not None:
                lists = lists.where(col(models.List.code) == where.list_code)
            if where.list_kind is not None:
                lists = lists.where(col(models.List.kind) == where.list_kind)
            conditions.append(col(models.ListEntry.list_id).in_(lists))
        else:
            conditions.append(sa.false())
    return conditions


def list_records(
    session: Session,
    model: type[R],
    *,
    on: dt.date,
    where: RecordFilter = RecordFilter(),
    first: int = 20,
    after: Position | None = None,
    since: dt.date | None = None,
) -> Page:
    """Public records of `model` on `on`, newest decision first, `first` (≤ 100) after `after`;
    `since`, if given, is `public_since(session, model, on)`, which the page need not look past.

    Keyset paging: a page continues strictly behind the position it is given, so records
    inserted meanwhile never shift it (no duplicates, no gaps)."""
    first = max(0, min(first, MAX_PAGE))
    values: dict[str, Any] = {"on": on, "limit": first + 1}
    if after is not None:
        values["decided"], values["record_id"] = after
    if since is not None:
        values["since"] = since
    statement = _page_statement(model, where, after is not None, since is not None)
    found = _rows(session, model, statement, values)
    return Page(records=found[:first], has_next=len(found) > first)


def public_since(session: Session, model: models.RecordModel, on: dt.date) -> dt.date | None:
    """A decision date that no record of `model` public on `on` is older than; None where the
    kind has none (licenses, and list entries valid until exit, have no end that bounds it).

    The last page of a list stops there: without it, that page reads every expired penalty
    behind the public ones to learn that none of them is public (47 ms on 1,000,000 records)."""
    if model is not models.Penalty:
        return None
    oldest = session.connection().execute(_OLDEST_UNEXPIRED_PENALTY, {"on": on}).scalar()
    return oldest if oldest is not None else dt.date.max


# Every public penalty is unexpired. Taken per publicity end day, the oldest decision is read
# from the index on (publicity end, decision date) alone (9 ms on 1,000,000 records); asked
# directly, SQLite walks the decision date index from its oldest end and reads each penalty
# from the table (30 ms).
_OLDEST_BY_END_DAY = (
    sa.select(sa.func.min(col(models.Penalty.decision_on)).label("oldest"))
    .where(col(models.Penalty.publicity_end_on) >= sa.bindparam("on", type_=sa.Date))
    .group_by(col(models.Penalty.publicity_end_on))
    .subquery()
)


_OLDEST_UNEXPIRED_PENALTY = sa.select(sa.func.min(_OLDEST_BY_END_DAY.c.oldest))


@functools.lru_cache(maxsize=512)
def _page_statement(
    model: models.RecordModel, where: RecordFilter, after: bool, bounded: bool
) -> sa.Select[Any]:
    """The statement of a page of `model`'s records passing `where`, with the day, the position
    (`after`), the oldest decision date (`bounded`) and the size as parameters: built once for
    each filter (its construction costs more than running it)."""
    on = sa.bindparam("on", type_=sa.Date)
    conditions = filter_conditions(model, on, where)
    if bounded:
        conditions.append(col(model.decision_on) >= sa.bindparam("since", type_=sa.Date))
    if after:
        decided = sa.bindparam("decided", type_=sa.Date)
        record_id = sa.bindparam("record_id", type_=sa.Integer)
        conditions.append(
            sa.or_(
                col(model.decision_on) < decided,
                sa.and_(col(model.decision_on) == decided, col(model.id) < record_id),
            )
        )
        # redundant, but lets the index seek to the position instead of scanning up to it
        conditions.append(col(model.decision_on) <= decided)
    newest_first = (col(model.decision_on).desc(), col(model.id).desc())
    joined, _ = _with_parties(model)
    limit = sa.bindparam("limit", type_=sa.Integer)
    return joined.where(*conditions).order_by(*newest_first).limit(limit)


class RecordRow(NamedTuple):
    """A record with its parties, as plain rows of their tables (named tuples; the record's
    with its KIND): what privacy projects, without building ORM objects for a page."""

    record: Any
    subject: Any
    authority: Any
    source_unit: Any
    named_list: Any  # list entries' named list, else None

    @property
    def id(self) -> int:
        return int(self.record.id)

    @property
    def decision_on(self) -> dt.date:
        return cast(dt.date, self.record.decision_on)


def _rows(
    session: Session, model: models.RecordModel, statement: sa.Select[Any], values: dict[str, Any]
) -> list[RecordRow]:
    """The records a statement over `_with_parties(model)` selects, with their parties."""
    _, parts = _with_parties(model)
    found = []
    for row in session.connection().execute(statement, values):
        made = [make(row[start:end]) for start, end, make in parts]
        found.append(RecordRow(*made, *([None] * (len(RecordRow._fields) - len(made)))))
    return found


@functools.cache
def _with_parties(model: models.RecordModel) -> tuple[sa.Select[Any], list[tuple[int, int, Any]]]:
    """The select of `model`'s records joined with their parties (built once: a statement's
    construction costs as much as running it for a page), and where each part's columns are
    in its rows, with the named tuple type each part is read into."""
    table, subjects = plain_rows.table_of(model), plain_rows.table_of(models.Subject)
    departments, lists = plain_rows.table_of(models.Department), plain_rows.table_of(models.List)
    authority, source_unit = departments.alias("authority"), departments.alias("source_unit")
    tables = [(table, table), (subjects, subjects), (authority, departments)]
    tables.append((source_unit, departments))
    joins = (
        sa.select()
        .join_from(table, subjects, table.c.subject_id == subjects.c.id)
        .join(authority, table.c.authority_id == authority.c.id)
        .join(source_unit, table.c.source_unit_id == source_unit.c.id)
    )
    if model is models.ListEntry:
        tables.append((lists, lists))
        joins = joins.join(lists, table.c.list_id == lists.c.id)
    parts: list[tuple[int, int, Any]] = []
    columns: list[sa.ColumnElement[Any]] = []
    for part, of in tables:
        kept = plain_rows.kept(part)
        kind = model.KIND if of is table else None
        parts.append((len(columns), len(columns) + len(kept), plain_rows.row_type(of, kind)._make))
        columns += kept
    return joins.add_columns(*columns), parts


def count_records(
    session: Session,
    model: models.RecordModel,
    *,
    on: dt.date,
    where: RecordFilter = RecordFilter(),
) -> int:
    """How many public records of `model` pass `where` on `on`."""
    statement = (
        sa.select(sa.func.count()).select_from(model).where(*filter_conditions(model, on, where))
    )
    return int(session.execute(statement).scalar_one())


def public_record(
    session: Session, kind: models.RecordKind, record_id: int, on: dt.date
) -> models.Record | None:
    """The record of `kind` with `record_id` if it is public on `on`, else None."""
    model = models.RECORD_MODELS[kind]
    record = session.exec(
        select(model).where(col(model.id) == record_id, lifecycle.public_clause(model, on))
    ).first()
    return record  # type: ignore[return-value]


def subject_by_key(session: Session, key: str) -> Any:
    """The subject with public key `key` (a credit code, or "P<id>" for a person without one),
    as a plain row of its table, or None: what privacy projects, without an ORM object (which
    cost the API's subject lookup a fifth of its time)."""
    person = key.startswith("P") and key[1:].isdigit()
    value = int(key[1:]) if person else key.upper()
    row = session.connection().execute(_subject_statement(person), {"key": value}).first()
    return (
        None
        if row is None
        else plain_rows.row_type(plain_rows.table_of(models.Subject), None)._make(row)
    )


@functools.cache
def _subject_statement(person: bool) -> sa.Select[Any]:
    subjects = plain_rows.table_of(models.Subject)
    key: sa.BindParameter[Any] = sa.bindparam("key")
    if person:
        where = sa.and_(subjects.c.id == key, subjects.c.credit_code.is_(None))
    else:
        where = subjects.c.credit_code == key
    return sa.select(*plain_rows.kept(subjects)).where(where)


@dataclasses.dataclass(frozen=True)
class SubjectRecords:
    """Everything public about one subject: the one-stop query (一站式查询)."""

    subject: models.Subject
    licenses: list[models.License]
    penalties: list[models.Penalty]
    list_entries: list[models.ListEntry]


def subject_records(session: Session, subject: models.Subject, on: dt.date) -> SubjectRecords:
    """The public records of `subject` on `on`, newest decision first."""

    def of(model: type[R]) -> list[R]:
        return list(
            session.exec(
                select(model)
                .where(col(model.subject_id) == subject.id, lifecycle.public_clause(model, on))
                .order_by(col(model.decision_on).desc(), col(model.id).desc())
            ).unique()
        )

    return SubjectRecords(subject, of(models.License), of(models.Penalty), of(models.ListEntry))


def subjects_records(
    session: Session, model: models.RecordModel, keys: Sequence[str], on: dt.date
) -> dict[str, list[RecordRow]]:
    """The public records of `model` of the subjects with public keys `keys` on `on`, newest
    decision first, in one query: what the API's subject loader batches."""
    codes = [key.upper() for key in keys if not (key.startswith("P") and key[1:].isdigit())]
    people = [int(key[1:]) for key in keys if key.startswith("P") and key[1:].isdigit()]
    values = {"codes": codes, "people": people, "on": on}
    found: dict[str, list[RecordRow]] = {key: [] for key in keys}
    for row in _rows(session, model, _subjects_statement(model), values):
        key = row.subject.credit_code or f"P{row.subject.id}"
        found.setdefault(key, []).append(row)
    return found


@functools.cache
def _subjects_statement(model: models.RecordModel) -> sa.Select[Any]:
    subject = models.Subject
    codes = sa.bindparam("codes", expanding=True, type_=sa.String)
    people = sa.bindparam("people", expanding=True, type_=sa.Integer)
    of_subjects = col(model.subject_id).in_(
        sa.select(col(subject.id)).where(
            sa.or_(
                col(subject.credit_code).in_(codes),
                sa.and_(col(subject.id).in_(people), col(subject.credit_code).is_(None)),
            )
        )
    )
    public = lifecycle.public_clause(model, sa.bindparam("on", type_=sa.Date))
    newest_first = (col(model.decision_on).desc(), col(model.id).desc())
    joined, _ = _with_parties(model)
    return joined.where(of_subjects, public).order_by(*newest_first)
