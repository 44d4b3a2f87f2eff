"""Read queries over the records; every public one goes through `lifecycle.public_clause`."""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col

from disclosure import lifecycle, models


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
