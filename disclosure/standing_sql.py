"""What the standing rule (`standing.compute`) reads, as one SQL statement for many subjects on
a day: their public penalties and list entries with what a trigger matches on (the measures'
own `matches_*` decide, as in the rule) and whether an objection to each is being verified,
and the dates a clean record counts from. A property test holds it equal to the rule.

The statement does not depend on the measures list, so it is built once; one statement instead
of one per question is what keeps a single subject's standing cheap (bench/standing.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col

from disclosure import lifecycle, measures, models, prepared, privacy

IDS = sa.bindparam("ids", expanding=True, type_=sa.Integer)
ID = sa.bindparam("id", type_=sa.Integer)  # the statement for one subject: nothing to expand
ON = sa.bindparam("on", type_=sa.Date)
KINDS = (models.License, models.Penalty, models.ListEntry)  # a row names its kind by index
PENALTY, LIST_ENTRY = 1, 2


class _Unindexed(FunctionElement[Any]):
    """A column SQLite must not find rows by. Without statistics its planner takes the join of
    a few lists to their entries for more selective than hundreds of subject ids, and reads
    every entry of every list (bench/standing.py)."""

    name = "unindexed"
    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(_Unindexed)
def _plain(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_Unindexed, "sqlite")
def _unary_plus(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    # SQLite's documented way to keep a term from driving an index: a unary plus
    return "+" + str(compiler.process(element.clauses, **kw))


@dataclasses.dataclass(frozen=True, order=True)
class TriggerRef:
    """A public record that makes a measure apply."""

    kind: models.RecordKind
    id: int

    def label(self) -> str:
        """`<kind>:<id>`, as a feedback report keeps it."""
        return f"{self.kind.value}:{self.id}"


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A public penalty or list entry of the subject, with what a measure's trigger matches."""

    ref: TriggerRef
    verifying: bool  # under an objection being verified on the day
    severity: models.Severity | None = None  # penalties'
    texts: tuple[str, str] = ("", "")  # penalties' 违法行为类型 and 处罚依据
    list_code: str = ""  # list entries'
    list_kind: models.ListKind | None = None


@dataclasses.dataclass
class Facts:
    """What the statement tells of one subject on the day."""

    known_since: dt.date | None = None  # its first decision on record (`standing._counts`)
    closed_on: dt.date | None = None  # the day its last unfavourable record closed
    blemished: bool = False  # an unfavourable record is public on the day
    public: list[Candidate] = dataclasses.field(default_factory=list)  # what may trigger


def facts(session: Session, ids: Sequence[int], on: dt.date) -> dict[int, Facts]:
    """The facts of each of `ids` that has records (others have none)."""
    found: dict[int, Facts] = {}
    rows: Iterable[Sequence[Any]]
    if len(ids) == 1:  # a subject's lookup: the statement's execution outweighs its SQL
        rows = _one().execute(session.connection(), {"id": ids[0], "on": on})
    else:
        rows = session.connection().execute(_statement(False), {"ids": list(ids), "on": on})
    for subject_id, kind, record_id, known, ended, last, public, verifying, *texts in rows:
        of = found.get(subject_id)
        if of is None:
            of = found[subject_id] = Facts()
        if record_id is None:  # the facts of the subject's records of one kind
            if known is not None and (of.known_since is None or known < of.known_since):
                of.known_since = known
            of.blemished = of.blemished or bool(public)
            for day in (ended, last + lifecycle.ONE_DAY if last is not None else None):
                if day is not None and (of.closed_on is None or day > of.closed_on):
                    of.closed_on = day
        elif kind == PENALTY:
            severity, violation_type, basis = texts
            ref = TriggerRef(models.RecordKind.PENALTY, record_id)
            severity_of = models.Severity(severity)
            of.public.append(Candidate(ref, bool(verifying), severity_of, (violation_type, basis)))
        else:
            list_kind, list_code, _ = texts
            ref = TriggerRef(models.RecordKind.LIST_ENTRY, record_id)
            kind_of = models.ListKind(list_kind)
            of.public.append(
                Candidate(ref, bool(verifying), list_code=list_code, list_kind=kind_of)
            )
    return found


def subject_ids(session: Session, keys: Iterable[str]) -> dict[str, int]:
    """The row ids of the subjects with public keys `keys` (credit codes, or "P<id>" for a
    person without one), in one query; keys of no subject are left out."""
    codes: dict[str, list[str]] = {}
    people: dict[int, list[str]] = {}
    for key in keys:
        person = privacy.person_of_key(key)
        if person is None:
            codes.setdefault(key.upper(), []).append(key)
        else:
            people.setdefault(person, []).append(key)
    if not codes and not people:
        return {}
    found: dict[str, int] = {}
    values = {"codes": list(codes), "people": list(people)}
    for subject_id, code in session.connection().execute(_subjects_statement(), values):
        for key in codes.get(code, []) if code is not None else people.get(subject_id, []):
            found[key] = subject_id
    return found


@functools.cache
def _subjects_statement() -> Any:
    subject = models.Subject
    codes = sa.bindparam("codes", expanding=True, type_=sa.String)
    people = sa.bindparam("people", expanding=True, type_=sa.Integer)
    return sa.select(col(subject.id), col(subject.credit_code)).where(
        sa.or_(
            col(subject.credit_code).in_(codes),
            sa.and_(col(subject.id).in_(people), col(subject.credit_code).is_(None)),
        )
    )


# --- the statement ---


def _counted(model: Any) -> list[sa.ColumnElement[bool]]:
    """`standing._counts` as SQL: public at some day up to the day, and not void."""
    ended, published = col(model.ended_on), col(model.published_on)
    clauses = [
        published <= ON,
        sa.or_(
            col(model.end_reason).is_(None), _none_of(col(model.end_reason), measures.VOID_ENDS)
        ),
    ]
    last = lifecycle.last_public_day_column(model)
    if last is None:
        clauses.append(sa.or_(ended.is_(None), published < ended))
        return clauses
    if model is models.Penalty:
        clauses.append(last.is_not(None))
    # the first closed day is the earlier of ended_on and last + 1: published before it
    clauses.append(
        sa.or_(
            sa.and_(ended.is_(None), sa.or_(last.is_(None), published <= last)),
            sa.and_(
                ended.is_not(None), published < ended, sa.or_(last.is_(None), published <= last)
            ),
        )
    )
    return clauses


def _early(model: Any, last: Any) -> sa.ColumnElement[bool]:
    """Ended before its own last day was over (its first closed day is `ended_on`)."""
    return sa.and_(
        col(model.ended_on).is_not(None), sa.or_(last.is_(None), col(model.ended_on) <= last)
    )


def _null(type_: Any) -> Any:
    # typed: PostgreSQL resolves a UNION's column types pairwise and a bare NULL as text
    return sa.cast(sa.null(), type_)


def _one_of(column: Any, values: Iterable[Any]) -> sa.ColumnElement[bool]:
    # equalities, not IN: each IN of a statement is expanded anew at every execution
    return sa.or_(*(column == value for value in values))


def _none_of(column: Any, values: Iterable[Any]) -> sa.ColumnElement[bool]:
    return sa.and_(*(column != value for value in values))


def _of_subjects(model: Any, one: bool) -> sa.ColumnElement[bool]:
    return col(model.subject_id) == ID if one else col(model.subject_id).in_(IDS)


def _facts_branch(index: int, one: bool) -> sa.Select[Any]:
    """Per subject, its first counted decision of one kind, and of its unfavourable records
    the last early end, the last own last day, and whether one is public on the day."""
    model = KINDS[index]
    last = lifecycle.last_public_day_column(model)
    if last is None:  # licenses are never unfavourable
        closing = [_null(sa.Date), _null(sa.Date), _null(sa.Integer)]
    else:
        if model is models.Penalty:
            unfavourable = _one_of(col(model.severity), measures.UNFAVOURABLE_SEVERITIES)
        else:
            unfavourable = _one_of(col(models.List.kind), measures.UNFAVOURABLE_LIST_KINDS)
        early = _early(model, last)
        public = lifecycle.public_clause(model, ON)
        closing = [
            sa.func.max(sa.case((sa.and_(unfavourable, early), col(model.ended_on)))),
            sa.func.max(sa.case((sa.and_(unfavourable, ~early), last))),
            sa.func.max(sa.case((sa.and_(unfavourable, public), 1), else_=0)),
        ]
    statement = sa.select(
        col(model.subject_id),
        sa.literal_column(str(index), sa.Integer),
        _null(sa.Integer),
        sa.func.min(col(model.decision_on)),
        *closing,
        _null(sa.Boolean),
        *(_null(sa.String) for _ in range(3)),
    )
    if model is models.ListEntry:
        statement = statement.outerjoin(
            models.List, col(models.List.id) == col(models.ListEntry.list_id)
        )
    return statement.where(_of_subjects(model, one), *_counted(model)).group_by(
        col(model.subject_id)
    )


def _public_branch(index: int, one: bool) -> sa.Select[Any]:
    """The public records of one kind with what triggers match, and whether an objection to
    each is being verified on the day."""
    model, objection = KINDS[index], models.Objection
    verifying = sa.exists().where(
        col(objection.record_kind) == model.KIND,
        col(objection.record_id) == col(model.id),
        col(objection.opened_on) <= ON,
        sa.or_(col(objection.closed_on).is_(None), col(objection.closed_on) > ON),
    )
    if model is models.Penalty:
        texts = [
            col(models.Penalty.severity),
            col(models.Penalty.violation_type),
            col(models.Penalty.legal_basis),
        ]
    else:
        texts = [col(models.List.kind), col(models.List.code), _null(sa.String)]
    statement = sa.select(
        col(model.subject_id),
        sa.literal_column(str(index), sa.Integer),
        col(model.id),
        *(_null(sa.Date) for _ in range(3)),
        _null(sa.Integer),
        verifying,
        *texts,
    )
    if model is models.ListEntry:
        on_list = col(models.List.id) == _Unindexed(col(models.ListEntry.list_id))
        statement = statement.join(models.List, on_list)
    return statement.where(_of_subjects(model, one), lifecycle.public_clause(model, ON))


@functools.cache
def _one() -> prepared.Prepared:
    """The statement for one subject, prepared: its dates read back as dates."""
    return prepared.Prepared(_statement(True), ("id", "on"), converted=(3, 4, 5))


@functools.cache
def _statement(one: bool) -> Any:
    """The statement for one subject (`id`) or many (`ids`)."""
    branches = [_facts_branch(index, one) for index in range(len(KINDS))]
    branches += [_public_branch(PENALTY, one), _public_branch(LIST_ENTRY, one)]
    return sa.union_all(*branches)
