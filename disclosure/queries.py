"""Read queries over the records; every public one goes through `lifecycle.public_clause`."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
from collections.abc import Collection, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import lifecycle, models, timeliness, workdays

RecordModel = type[models.License] | type[models.Penalty] | type[models.ListEntry]
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


def _filtered(
    model: RecordModel, on: dt.date | sa.ColumnElement[dt.date], where: RecordFilter
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


def public_since(session: Session, model: RecordModel, on: dt.date) -> dt.date | None:
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
    model: RecordModel, where: RecordFilter, after: bool, bounded: bool
) -> sa.Select[Any]:
    """The statement of a page of `model`'s records passing `where`, with the day, the position
    (`after`), the oldest decision date (`bounded`) and the size as parameters: built once for
    each filter (its construction costs more than running it)."""
    on = sa.bindparam("on", type_=sa.Date)
    conditions = _filtered(model, on, where)
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
    session: Session, model: RecordModel, statement: sa.Select[Any], values: dict[str, Any]
) -> list[RecordRow]:
    """The records a statement over `_with_parties(model)` selects, with their parties."""
    _, parts = _with_parties(model)
    found = []
    for row in session.connection().execute(statement, values):
        made = [make(row[start:end]) for start, end, make in parts]
        found.append(RecordRow(*made, *([None] * (len(RecordRow._fields) - len(made)))))
    return found


@functools.cache
def _with_parties(model: RecordModel) -> tuple[sa.Select[Any], list[tuple[int, int, Any]]]:
    """The select of `model`'s records joined with their parties (built once: a statement's
    construction costs as much as running it for a page), and where each part's columns are
    in its rows, with the named tuple type each part is read into."""
    table, subjects = _table(model), _table(models.Subject)
    departments, lists = _table(models.Department), _table(models.List)
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
        kept = _kept(part)
        kind = model.KIND if of is table else None
        parts.append((len(columns), len(columns) + len(kept), _row_type(of, kind)._make))
        columns += kept
    return joins.add_columns(*columns), parts


def count_records(
    session: Session,
    model: RecordModel,
    *,
    on: dt.date,
    where: RecordFilter = RecordFilter(),
) -> int:
    """How many public records of `model` pass `where` on `on`."""
    statement = sa.select(sa.func.count()).select_from(model).where(*_filtered(model, on, where))
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
    return None if row is None else _row_type(_table(models.Subject), None)._make(row)


@functools.cache
def _subject_statement(person: bool) -> sa.Select[Any]:
    subjects = _table(models.Subject)
    key: sa.BindParameter[Any] = sa.bindparam("key")
    if person:
        where = sa.and_(subjects.c.id == key, subjects.c.credit_code.is_(None))
    else:
        where = subjects.c.credit_code == key
    return sa.select(*_kept(subjects)).where(where)


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


@dataclasses.dataclass(frozen=True)
class DepartmentCount:
    """A department and how many public records it supplied, per kind."""

    department: models.Department
    counts: dict[models.RecordKind, int]


def departments(session: Session, on: dt.date) -> list[DepartmentCount]:
    """Every department with its public record counts per kind (as source unit), by name."""
    counts: dict[int, dict[models.RecordKind, int]] = {}
    for kind, model in models.RECORD_MODELS.items():
        rows = session.execute(
            sa.select(col(model.source_unit_id), sa.func.count())
            .where(lifecycle.public_clause(model, on))
            .group_by(col(model.source_unit_id))
        ).all()
        for unit_id, count in rows:
            counts.setdefault(unit_id, {})[kind] = count
    units = session.exec(select(models.Department).order_by(col(models.Department.name))).all()
    return [
        DepartmentCount(
            unit, {kind: counts.get(unit.id or 0, {}).get(kind, 0) for kind in models.RecordKind}
        )
        for unit in units
    ]


@dataclasses.dataclass(frozen=True)
class ListCount:
    """A named list and how many entries are public on it."""

    list: models.List
    active: int


def lists(session: Session, on: dt.date) -> list[ListCount]:
    """Every named list with its count of public entries, red first, then black, then watch."""
    rows = dict(
        session.execute(
            sa.select(col(models.ListEntry.list_id), sa.func.count())
            .where(lifecycle.public_clause(models.ListEntry, on))
            .group_by(col(models.ListEntry.list_id))
        ).all()
    )
    order = {models.ListKind.RED: 0, models.ListKind.BLACK: 1, models.ListKind.WATCH: 2}
    found = session.exec(select(models.List)).all()
    return [
        ListCount(named, rows.get(named.id, 0))
        for named in sorted(found, key=lambda named: (order[named.kind], named.code))
    ]


def events_after(
    session: Session, after: int, first: int, *, shown_on: dt.date | None = None
) -> Sequence[models.Event]:
    """Up to `first` events of the change log with ids above `after`, oldest first; with
    `shown_on`, only those of records that have a page on that day (the change stream's: the
    events of a record never public stay internal)."""
    statement = select(models.Event).where(col(models.Event.id) > after)
    if shown_on is not None:
        statement = statement.where(
            sa.or_(
                *(
                    sa.and_(
                        col(models.Event.record_kind) == model.KIND,
                        sa.exists().where(
                            col(model.id) == col(models.Event.record_id),
                            shown_clause(model, shown_on),
                        ),
                    )
                    for model in models.RECORD_MODELS.values()
                )
            )
        )
    return session.exec(statement.order_by(col(models.Event.id)).limit(first)).all()


@dataclasses.dataclass(frozen=True)
class KindCount:
    """How many records of a kind are stored, and how many are public on a day."""

    kind: models.RecordKind
    stored: int
    public: int
    under_objection: int


def record_counts(session: Session, on: dt.date) -> list[KindCount]:
    """Stored, public and under-objection counts per record kind on `on`."""
    counts = []
    for kind, model in models.RECORD_MODELS.items():
        public = lifecycle.public_clause(model, on)
        objection = sa.and_(
            public,
            col(model.objection_opened_on).is_not(None),
            col(model.objection_opened_on) <= on,
        )
        stored, shown, objected = session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(public),
                sa.func.count().filter(objection),
            ).select_from(model)
        ).one()
        counts.append(KindCount(kind, stored, shown, objected))
    return counts


def event_counts(session: Session) -> dict[models.EventType, int]:
    """How many events of each type the change log holds."""
    rows = session.execute(
        sa.select(col(models.Event.type), sa.func.count()).group_by(col(models.Event.type))
    )
    return {models.EventType(type_): count for type_, count in rows}


def public_records(
    session: Session, model: RecordModel, on: dt.date, *, batch: int = 1000
) -> Iterator[models.Record]:
    """Every public record of `model` on `on`, by id, streamed `batch` rows at a time."""
    statement = (
        select(model)
        .where(lifecycle.public_clause(model, on))
        .order_by(col(model.id))
        .execution_options(yield_per=batch)
    )
    yield from session.exec(statement)  # type: ignore[misc]


@functools.cache
def _row_type(table: sa.Table, kind: models.RecordKind | None) -> Any:
    """A named tuple type for rows of `table` without its timestamps (no rule reads them), with
    the records' KIND, which the rules tell kinds apart by: attribute reads ten times as fast as
    SQLAlchemy's rows, which matters over a million records."""
    names = [c.name for c in _kept(table)]
    plain = collections.namedtuple(f"{table.name}_row", names)  # type: ignore[misc]
    return type(plain.__name__, (plain,), {"__slots__": (), "KIND": kind})


_TIMESTAMPS = ("created_at", "updated_at")


def _kept(table: sa.FromClause) -> list[sa.ColumnElement[Any]]:
    """The columns of `table` a plain row holds: all but the timestamps."""
    return [c for c in table.columns if c.name not in _TIMESTAMPS]


def _plain_rows(
    session: Session,
    model: RecordModel,
    condition: sa.ColumnElement[bool],
    *,
    with_subject: bool = False,
    batch: int = 2000,
) -> Iterator[Any]:
    table, subjects = _table(model), _table(models.Subject)
    make = _row_type(table, model.KIND)._make
    columns = _kept(table)
    statement = sa.select(*columns)
    if with_subject:
        # the subject in the same row: records rarely share one within an id range
        make_subject = _row_type(subjects, None)._make
        statement = sa.select(*columns, *_kept(subjects)).join_from(
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


def _table(model: type[Any]) -> sa.Table:
    return cast(sa.Table, model.__table__)


def public_rows(
    session: Session, model: RecordModel, on: dt.date, id_from: int, id_to: int
) -> Iterator[tuple[Any, Any]]:
    """The public records of `model` on `on` with ids in [id_from, id_to], by id, each with its
    subject, as plain rows of their tables (named tuples; the record's with its KIND): what
    privacy projects, for exports too big for ORM objects."""
    in_range = sa.and_(col(model.id) >= id_from, col(model.id) <= id_to)
    public = sa.and_(lifecycle.public_clause(model, on), in_range)
    return _plain_rows(session, model, public, with_subject=True)


def ended_rows(
    session: Session, model: RecordModel, on: dt.date, id_from: int, id_to: int
) -> Iterator[Any]:
    """The records of `model` with ids in [id_from, id_to] whose publicity had ended by `on`
    (their tombstones'), as plain rows of their table with KIND."""
    in_range = sa.and_(col(model.id) >= id_from, col(model.id) <= id_to)
    ended = sa.and_(shown_clause(model, on), sa.not_(lifecycle.public_clause(model, on)), in_range)
    return _plain_rows(session, model, ended)


def record_id_span(session: Session, model: RecordModel) -> tuple[int, int] | None:
    """The lowest and highest id of `model`'s records."""
    low, high = session.execute(
        sa.select(sa.func.min(col(model.id)), sa.func.max(col(model.id)))
    ).one()
    return None if low is None else (int(low), int(high))


def records_by_id(
    session: Session, model: RecordModel, ids: Collection[int]
) -> list[models.Record]:
    """The records of `model` with these ids (public or not), in one query."""
    if not ids:
        return []
    found = session.exec(select(model).where(col(model.id).in_(list(ids)))).unique()
    return list(found)  # type: ignore[arg-type]


def lapsed_between(session: Session, model: RecordModel, start: dt.date, end: dt.date) -> list[int]:
    """Ids of records whose own last public day falls in [start, end): they left publication by
    date alone, without an event (licenses never do)."""
    if model is models.Penalty:
        last = col(models.Penalty.publicity_end_on)
    elif model is models.ListEntry:
        last = col(models.ListEntry.valid_until_on)
    else:
        return []
    return list(
        session.execute(
            sa.select(col(model.id)).where(last.is_not(None), last >= start, last < end)
        ).scalars()
    )


# --- timeliness of publication (双公示 within 7 working days) ---


@dataclasses.dataclass(frozen=True)
class OnTimeRate:
    """How many of a department's decisions went public, and how many of them on time."""

    department_id: int
    department: str
    published: int
    on_time: int  # within 7 working days of the decision

    @property
    def rate(self) -> float:
        """Share published on time (1.0 when nothing was published)."""
        return self.on_time / self.published if self.published else 1.0


def on_time_rates(
    session: Session,
    *,
    calendar: workdays.Calendar,
    kinds: tuple[models.RecordKind, ...] = (models.RecordKind.LICENSE, models.RecordKind.PENALTY),
    published_from: dt.date | None = None,
    published_until: dt.date | None = None,
) -> list[OnTimeRate]:
    """Per issuing department, decisions of `kinds` published in the period and how many on
    time, by the holiday calendar; one row per department that published any, by name."""
    counts: dict[int, list[int]] = {}
    for kind in kinds:
        model = models.RECORD_MODELS[kind]
        decided, published = col(model.decision_on), col(model.published_on)
        query = sa.select(col(model.authority_id), decided, published, sa.func.count()).group_by(
            col(model.authority_id), decided, published
        )
        if published_from is not None:
            query = query.where(published >= published_from)
        if published_until is not None:
            query = query.where(published <= published_until)
        for authority_id, decision_on, published_on, count in session.execute(query):
            totals = counts.setdefault(authority_id, [0, 0])
            totals[0] += count
            if not timeliness.is_late(decision_on, published_on, calendar):
                totals[1] += count
    names = dict(
        session.execute(
            sa.select(col(models.Department.id), col(models.Department.name)).where(
                col(models.Department.id).in_(counts)
            )
        ).all()
    )
    return sorted(
        (
            OnTimeRate(unit, names[unit], published, on_time)
            for unit, (published, on_time) in counts.items()
        ),
        key=lambda rate: (rate.department, rate.department_id),
    )


# --- deadlines of objections, repairs and withdrawals ---


@dataclasses.dataclass(frozen=True)
class Overdue:
    """Open objections and pending repair applications past their due day."""

    objections: Sequence[models.Objection]
    repairs: Sequence[models.Repair]


def overdue(session: Session, on: dt.date) -> Overdue:
    """What should have been decided before `on` and is still open."""
    objections = session.exec(
        select(models.Objection)
        .where(col(models.Objection.closed_on).is_(None), col(models.Objection.due_on) < on)
        .order_by(col(models.Objection.due_on), col(models.Objection.id))
    ).all()
    repairs = session.exec(
        select(models.Repair)
        .where(
            col(models.Repair.status) == models.RepairStatus.APPLIED,
            col(models.Repair.due_on) < on,
        )
        .order_by(col(models.Repair.due_on), col(models.Repair.id))
    ).all()
    return Overdue(objections, repairs)


def late_withdrawals(session: Session, calendar: workdays.Calendar) -> Sequence[models.Withdrawal]:
    """Withdrawals made more than 3 working days after the decision changed."""
    withdrawals = session.exec(
        select(models.Withdrawal)
        .where(col(models.Withdrawal.decision_changed_on).is_not(None))
        .order_by(col(models.Withdrawal.id))
    ).all()
    return [
        withdrawal
        for withdrawal in withdrawals
        if withdrawal.decision_changed_on is not None
        and timeliness.withdrawal_is_late(
            withdrawal.decision_changed_on, withdrawal.withdrawn_on, calendar
        )
    ]


# --- queries of the public API (api/) ---


def subjects_records(
    session: Session, model: RecordModel, keys: Sequence[str], on: dt.date
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
def _subjects_statement(model: RecordModel) -> sa.Select[Any]:
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


def records_by_ids(
    session: Session, kind: models.RecordKind, ids: Sequence[int]
) -> dict[int, models.Record]:
    """Records of `kind` by id whatever their visibility (callers project or tombstone them)."""
    model = models.RECORD_MODELS[kind]
    statement = select(model).where(col(model.id).in_(ids))
    rows = cast(list[models.Record], list(session.exec(statement).unique()))
    return {record.id: record for record in rows if record.id is not None}


_LAST_EVENT_ID = sa.select(sa.func.max(col(models.Event.id)))


def last_event_id(session: Session) -> int:
    """The newest event id (0 when empty): the watermark of everything derived from the change
    log, and the API's data version. Asked on every API request, so it skips the ORM layer."""
    return int(session.connection().execute(_LAST_EVENT_ID).scalar() or 0)


@dataclasses.dataclass(frozen=True)
class PublicationLag:
    """How many records a department published with one (decision date, publication date)."""

    kind: models.RecordKind
    source_unit_id: int
    decision_on: dt.date
    published_on: dt.date
    count: int


def publication_lags(session: Session, on: dt.date) -> list[PublicationLag]:
    """Records published by `on` (withheld penalties aside), grouped by department and dates:
    few rows, from which on-time publication rates follow with a working-day calendar."""
    lags = []
    for kind, model in models.RECORD_MODELS.items():
        conditions = [col(model.published_on) <= on]
        if model is models.Penalty:
            conditions.append(col(models.Penalty.publicity_end_on).is_not(None))
        rows = session.execute(
            sa.select(
                col(model.source_unit_id),
                col(model.decision_on),
                col(model.published_on),
                sa.func.count(),
            )
            .where(*conditions)
            .group_by(col(model.source_unit_id), col(model.decision_on), col(model.published_on))
        ).all()
        lags += [
            PublicationLag(kind, unit, decided, published, n)
            for unit, decided, published, n in rows
        ]
    return lags


def departments_by_code(session: Session, codes: Collection[str]) -> dict[str, models.Department]:
    """The departments with these credit codes, by code."""
    found = session.exec(
        select(models.Department).where(col(models.Department.credit_code).in_(list(codes)))
    )
    return {unit.credit_code: unit for unit in found}


# --- The static site's queries: records by id range for page batches, and what changed. ---


def shown_clause(model: RecordModel, on: dt.date) -> sa.ColumnElement[bool]:
    """Records that have a page on `on`: public ones, and ended ones (their tombstones).
    Records not yet published and penalties never published have none."""
    clauses = [col(model.published_on) <= on]
    if model is models.Penalty:
        clauses.append(col(models.Penalty.publicity_end_on).is_not(None))
    return sa.and_(*clauses)


def shown_id_range(session: Session, model: RecordModel, on: dt.date) -> tuple[int, int] | None:
    """The lowest and highest id of `model`'s records that have a page on `on`."""
    low, high = session.execute(
        sa.select(sa.func.min(col(model.id)), sa.func.max(col(model.id))).where(
            shown_clause(model, on)
        )
    ).one()
    return None if low is None else (int(low), int(high))


def shown_records(
    session: Session,
    model: RecordModel,
    on: dt.date,
    *,
    id_from: int | None = None,
    id_to: int | None = None,
    ids: Sequence[int] | None = None,
) -> list[models.Record]:
    """Records of `model` that have a page on `on`, by id range (inclusive) or id list, by id."""
    conditions = [shown_clause(model, on)]
    if id_from is not None:
        conditions.append(col(model.id) >= id_from)
    if id_to is not None:
        conditions.append(col(model.id) <= id_to)
    if ids is not None:
        conditions.append(col(model.id).in_(list(ids)))
    statement = select(model).where(*conditions).order_by(col(model.id))
    return list(session.exec(statement).unique())  # type: ignore[arg-type]


def changed_records(
    session: Session, *, after_event: int, up_to_event: int, since: dt.date, on: dt.date
) -> dict[models.RecordKind, set[int]]:
    """Records whose page may differ between a publish as of `since` at watermark `after_event`
    and one as of `on` (≥ `since`) at `up_to_event`: those with events in between, and those
    whose dates alone change what is shown (published, expired, exited, lapsed, annotated)."""
    changed: dict[models.RecordKind, set[int]] = {kind: set() for kind in models.RecordKind}
    rows = session.execute(
        sa.select(col(models.Event.record_kind), col(models.Event.record_id)).where(
            col(models.Event.id) > after_event, col(models.Event.id) <= up_to_event
        )
    )
    for kind, record_id in rows:
        changed[models.RecordKind(kind)].add(int(record_id))

    def between(column: Any, *, last_day: bool) -> sa.ColumnElement[bool]:
        # a first day d shows on `on` but not on `since` when since < d <= on; a last day d
        # shows on `since` but not on `on` when since <= d < on
        if last_day:
            return sa.and_(column >= since, column < on)
        return sa.and_(column > since, column <= on)

    for kind, model in models.RECORD_MODELS.items():
        flips = [
            between(col(model.published_on), last_day=False),
            between(col(model.ended_on), last_day=False),
            between(col(model.objection_opened_on), last_day=False),
        ]
        if model is models.Penalty:
            flips.append(between(col(models.Penalty.publicity_end_on), last_day=True))
        elif model is models.ListEntry:
            flips.append(between(col(models.ListEntry.valid_until_on), last_day=True))
        else:
            flips.append(between(col(models.License.valid_to_on), last_day=True))
        found = session.execute(sa.select(col(model.id)).where(sa.or_(*flips))).scalars()
        changed[kind].update(int(record_id) for record_id in found)
    return changed


# --- Feeds: the newest publications and the newest ends of publication. ---


def latest_published(
    session: Session,
    model: RecordModel,
    *,
    on: dt.date,
    where: RecordFilter = RecordFilter(),
    first: int,
) -> list[models.Record]:
    """The `first` public records of `model` on `on` passing `where`, newest publication first."""
    newest = (col(model.published_on).desc(), col(model.id).desc())
    return _newest_first(session, model, _filtered(model, on, where), newest, first)


def _newest_first(
    session: Session,
    model: RecordModel,
    conditions: Sequence[sa.ColumnElement[bool]],
    order: Sequence[sa.UnaryExpression[Any]],
    first: int,
) -> list[models.Record]:
    """The first `first` records of `model` meeting `conditions` in `order`, with their parties.

    The ids are chosen first, and only theirs loaded: a filter whose index does not serve the
    order (a department's records by publication date) sorts tens of thousands of rows of a
    million-record database, which is ten times as slow when each is joined to its parties."""
    chosen = sa.select(col(model.id)).where(*conditions).order_by(*order).limit(first)
    statement = select(model).where(col(model.id).in_(chosen.scalar_subquery())).order_by(*order)
    return list(session.exec(statement).unique())  # type: ignore[arg-type]


def _last_public_day(model: RecordModel) -> Any:
    """`lifecycle.last_public_day` as a column; None for licenses, which have none."""
    if model is models.Penalty:
        return col(models.Penalty.publicity_end_on)
    if model is models.ListEntry:
        return col(models.ListEntry.valid_until_on)
    return None


def latest_ended(
    session: Session,
    model: RecordModel,
    *,
    on: dt.date,
    first: int,
    reasons: Collection[models.EndReason] | None = None,
) -> list[models.Record]:
    """At least the `first` records of `model` whose publicity ended last by `on` (ended early,
    or past their own last day), each ending taken from the index that orders it; with
    `reasons`, only those that ended early for one of them."""
    shown = shown_clause(model, on)
    last = _last_public_day(model)
    early = [col(model.ended_on).is_not(None), col(model.ended_on) <= on]
    if last is not None:
        early.append(sa.or_(last.is_(None), col(model.ended_on) <= last))
    if reasons is not None:
        early.append(col(model.end_reason).in_(sorted(reasons)))
    newest = (col(model.ended_on).desc(), col(model.id).desc())
    found = _newest_first(session, model, [shown, *early], newest, first)
    if last is not None and reasons is None:
        ran_out = [
            last.is_not(None),
            last < on,
            sa.or_(col(model.ended_on).is_(None), col(model.ended_on) > last),
        ]
        found += _newest_first(
            session, model, [shown, *ran_out], (last.desc(), col(model.id).desc()), first
        )
    return found


def last_corrections(
    session: Session, kind: models.RecordKind, ids: Collection[int], on: dt.date
) -> dict[int, dt.date]:
    """The day each of these records was last corrected by `on`, for those ever corrected."""
    if not ids:
        return {}
    rows = session.execute(
        sa.select(col(models.Event.record_id), sa.func.max(col(models.Event.effective_on)))
        .where(
            col(models.Event.record_kind) == kind,
            col(models.Event.record_id).in_(list(ids)),
            col(models.Event.type) == models.EventType.CORRECTED,
            col(models.Event.effective_on) <= on,
        )
        .group_by(col(models.Event.record_id))
    )
    return {int(record_id): day for record_id, day in rows}
