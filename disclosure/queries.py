"""Read queries over the records; every public one goes through `lifecycle.public_clause`."""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col

from disclosure import lifecycle, models, timeliness, workdays


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
