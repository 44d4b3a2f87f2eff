"""The change log: appending events in the transaction of the change they record."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import db, models

# One constant key: writers that append events take turns on PostgreSQL, so event ids become
# visible in increasing order and a reader following `id > watermark` never skips one.
_EVENT_LOCK_KEY = 0x67_6F_6E_67  # "gong"


def jsonable(value: Any) -> Any:
    """A value as it goes into an event payload: dates as ISO text, amounts as exact text."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row(
    kind: models.RecordKind,
    record_id: int,
    type: models.EventType,
    *,
    effective_on: dt.date,
    actor: str,
    payload: Mapping[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The event table row for `type` happening to record `record_id` of `kind`."""
    return {
        "record_kind": kind,
        "record_id": record_id,
        "type": type,
        "occurred_at": occurred_at or models.now_utc(),
        "effective_on": effective_on,
        "actor": actor,
        "payload": {key: jsonable(value) for key, value in (payload or {}).items()},
    }


def published_payload(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of PUBLISHED: the natural key only. The record's history is its current row
    and, walking back, the `before` values of its CORRECTED events."""
    return {"authority_id": fields["authority_id"], "decision_doc_no": fields["decision_doc_no"]}


def take_turn(session: Session) -> None:
    """Serialise event writers on PostgreSQL until this transaction ends (SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_EVENT_LOCK_KEY)))


def append(
    session: Session,
    record: models.Record,
    type: models.EventType,
    *,
    effective_on: dt.date,
    actor: str,
    payload: Mapping[str, Any] | None = None,
) -> models.Event:
    """Append one event for `record` to the session's transaction."""
    assert record.id is not None, "an event needs a stored record"
    take_turn(session)
    event = models.Event(
        **row(record.KIND, record.id, type, effective_on=effective_on, actor=actor, payload=payload)
    )
    session.add(event)
    _touch(session, record.KIND, [record.id])
    return event


def append_many(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Insert prepared event rows in bulk; returns how many."""
    batch = list(rows)
    if batch:
        take_turn(session)
        db.bulk_insert(session.connection(), models.Event.__table__, batch)  # type: ignore[attr-defined]
        for kind in {row["record_kind"] for row in batch}:
            _touch(session, kind, [row["record_id"] for row in batch if row["record_kind"] == kind])
    return len(batch)


# session.info key: the records whose events this transaction appended, by kind
_TOUCHED = "gongshi.search_touched"


def _touch(session: Session, kind: models.RecordKind, ids: Iterable[int]) -> None:
    """Note records changed in this transaction: their search rows are rewritten before it
    commits, once for all of them (a batch of ingest is one write, not one per record)."""
    touched: dict[models.RecordKind, set[int]] = session.info.setdefault(_TOUCHED, {})
    touched.setdefault(kind, set()).update(ids)


@sa.event.listens_for(Session, "before_commit")
def _write_search_rows(session: Session) -> None:
    """Every change of a record appends an event: its search rows follow in the same
    transaction, so search in the database is never behind the data."""
    touched = session.info.pop(_TOUCHED, None)
    if touched:
        # imported here: search rows are built from the public projection, whose rules
        # (lifecycle) append events through this module
        from disclosure import search_rows

        if search_rows.kept(session.connection()):
            session.flush()
            search_rows.refresh(session, touched)


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_touched(session: Session, transaction: Any) -> None:
    """A transaction rolled back leaves nothing to write (a savepoint's leaves the rest)."""
    if transaction.parent is None:
        session.info.pop(_TOUCHED, None)


def history(session: Session, record: models.Record) -> list[models.Event]:
    """Every event of `record`, oldest first."""
    return list(
        session.scalars(
            select(models.Event)
            .where(
                col(models.Event.record_kind) == record.KIND,
                col(models.Event.record_id) == record.id,
            )
            .order_by(col(models.Event.id))
        )
    )
