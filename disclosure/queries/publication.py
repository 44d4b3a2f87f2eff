"""What the static site and the feeds publish: the records that have a page, by id range,
the newest publications and the newest ends of publication."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import lifecycle, models
from disclosure.queries import record_pages


def shown_id_range(
    session: Session, model: models.RecordModel, on: dt.date
) -> tuple[int, int] | None:
    """The lowest and highest id of `model`'s records that have a page on `on`."""
    low, high = session.execute(
        sa.select(sa.func.min(col(model.id)), sa.func.max(col(model.id))).where(
            lifecycle.shown_clause(model, on)
        )
    ).one()
    return None if low is None else (int(low), int(high))


def shown_records(
    session: Session,
    model: models.RecordModel,
    on: dt.date,
    *,
    id_from: int | None = None,
    id_to: int | None = None,
    ids: Sequence[int] | None = None,
) -> list[models.Record]:
    """Records of `model` that have a page on `on`, by id range (inclusive) or id list, by id."""
    conditions = [lifecycle.shown_clause(model, on)]
    if id_from is not None:
        conditions.append(col(model.id) >= id_from)
    if id_to is not None:
        conditions.append(col(model.id) <= id_to)
    if ids is not None:
        conditions.append(col(model.id).in_(list(ids)))
    statement = select(model).where(*conditions).order_by(col(model.id))
    return list(session.exec(statement).unique())  # type: ignore[arg-type]


def latest_published(
    session: Session,
    model: models.RecordModel,
    *,
    on: dt.date,
    where: record_pages.RecordFilter = record_pages.RecordFilter(),
    first: int,
) -> list[models.Record]:
    """The `first` public records of `model` on `on` passing `where`, newest publication first."""
    newest = (col(model.published_on).desc(), col(model.id).desc())
    return _newest_first(
        session, model, record_pages.filter_conditions(model, on, where), newest, first
    )


def _newest_first(
    session: Session,
    model: models.RecordModel,
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


def _last_public_day(model: models.RecordModel) -> Any:
    """`lifecycle.last_public_day` as a column; None for licenses, which have none."""
    if model is models.Penalty:
        return col(models.Penalty.publicity_end_on)
    if model is models.ListEntry:
        return col(models.ListEntry.valid_until_on)
    return None


def latest_ended(
    session: Session,
    model: models.RecordModel,
    *,
    on: dt.date,
    first: int,
    reasons: Collection[models.EndReason] | None = None,
) -> list[models.Record]:
    """At least the `first` records of `model` whose publicity ended last by `on` (ended early,
    or past their own last day), each ending taken from the index that orders it; with
    `reasons`, only those that ended early for one of them."""
    shown = lifecycle.shown_clause(model, on)
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
