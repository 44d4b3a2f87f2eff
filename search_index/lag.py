"""How far an index lags behind the database: the records it may show wrongly, and of those
the ones it holds that are no longer public (a search hides them from its hits and its counts
alike, until the index catches up)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlmodel import Session

from disclosure import lifecycle, models
from disclosure.queries import change_log, plain_rows

BATCH = 10_000
# record kind → ids of the records a search must neither show nor count
Hidden = dict[models.RecordKind, set[int]]


@dataclasses.dataclass(frozen=True)
class Pending:
    """What the index has not applied: the records touched since its watermark."""

    records: dict[models.RecordKind, set[int]]
    last_event_id: int  # the newest event read
    events: int  # how many events were read


def pending(session: Session, event_id: int, as_of: dt.date, on: dt.date) -> Pending:
    """The records with events after `event_id`, and those whose publicity ran out by date
    between the index's day `as_of` and `on` (no event says so)."""
    touched: dict[models.RecordKind, set[int]] = {kind: set() for kind in models.RecordKind}
    last, events = event_id, 0
    while batch := change_log.events_after(session, last, BATCH):
        for event in batch:
            touched[event.record_kind].add(event.record_id)
        last, events = batch[-1].id or last, events + len(batch)
    if on > as_of:
        for kind, model in models.RECORD_MODELS.items():
            touched[kind].update(change_log.lapsed_between(session, model, as_of, on))
    return Pending(touched, last, events)


def hidden(session: Session, event_id: int, as_of: dt.date, on: dt.date) -> Hidden:
    """The records an index at (`event_id`, `as_of`) may still hold that are not public on
    `on`: withdrawn, repaired, exited or run out since it was last updated."""
    found: Hidden = {}
    for kind, ids in pending(session, event_id, as_of, on).records.items():
        records = plain_rows.records_by_id(session, models.RECORD_MODELS[kind], ids)
        gone = {record.id for record in records if not lifecycle.is_public(record, on)}
        if gone:
            found[kind] = {record_id for record_id in gone if record_id is not None}
    return found
