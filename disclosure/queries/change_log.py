"""The change log: its events in order, its watermark, and the records whose pages a span of
events and days changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import lifecycle, models


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
                            lifecycle.shown_clause(model, shown_on),
                        ),
                    )
                    for model in models.RECORD_MODELS.values()
                )
            )
        )
    return session.exec(statement.order_by(col(models.Event.id)).limit(first)).all()


_LAST_EVENT_ID = sa.select(sa.func.max(col(models.Event.id)))


def last_event_id(session: Session) -> int:
    """The newest event id (0 when empty): the watermark of everything derived from the change
    log, and the API's data version. Asked on every API request, so it skips the ORM layer."""
    return int(session.connection().execute(_LAST_EVENT_ID).scalar() or 0)


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


def lapsed_between(
    session: Session, model: models.RecordModel, start: dt.date, end: dt.date
) -> list[int]:
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
