"""The change stream: what an agency replays to keep an exact copy of the public records.

Every event carries what may be said of its record today, by the one visibility rule
(lifecycle.is_public): the record while it is public, else its tombstone. So a replay of the
whole stream ends with exactly the public records, whatever order or dates its events have. The
events of a record that never had a page (a withheld penalty) are not in the stream at all.
Event payloads are internal (a correction keeps the values it replaced) and never leave here.
"""

from __future__ import annotations

from collections import defaultdict

from api import cursors
from api.context import Context
from api.types import Change, ChangePage
from disclosure import lifecycle, models, privacy, tombstones
from disclosure.queries import change_log, plain_rows


def page(context: Context, after: str | None, first: int) -> ChangePage:
    """Up to `first` events behind the cursor `after`, each with what may be said of its record."""
    found = list(
        change_log.events_after(
            context.session, cursors.event_id(after), first + 1, shown_on=context.on
        )
    )
    events, more = found[:first], len(found) > first
    wanted: dict[models.RecordKind, set[int]] = defaultdict(set)
    for event in events:
        wanted[event.record_kind].add(event.record_id)
    records = {
        (kind, record_id): record
        for kind, ids in wanted.items()
        for record_id, record in plain_rows.records_by_ids(
            context.session, kind, sorted(ids)
        ).items()
    }
    said = (
        _change(event, records.get((event.record_kind, event.record_id)), context)
        for event in events
    )
    changes = [change for change in said if change is not None]
    return ChangePage(
        changes=changes,
        end_cursor=cursors.event_cursor(events[-1].id) if events and events[-1].id else after,
        has_more=more,
    )


def _change(event: models.Event, record: models.Record | None, context: Context) -> Change | None:
    """The event with its record or its tombstone; None if the record lost its page between
    the two statements that read them (a correction committed meanwhile)."""
    assert event.id is not None
    public = None
    tombstone = None
    if record is not None and lifecycle.is_public(record, context.on):
        public = privacy.project(record, context.on)
    elif record is not None:
        tombstone = tombstones.tombstone(record, context.on)
    if public is None and tombstone is None:
        return None
    return Change(
        cursor=cursors.event_cursor(event.id),
        type=event.type,
        kind=event.record_kind,
        record_id=event.record_id,
        effective_on=event.effective_on,
        occurred_at=event.occurred_at,
        record=public,  # type: ignore[arg-type]
        tombstone=tombstone,  # type: ignore[arg-type]
    )
