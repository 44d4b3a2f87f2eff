"""Counts and statistics: records per department, kind and list, the change log's events by
type, on-time publication and the deadlines missed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import lifecycle, models, timeliness, workdays


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
