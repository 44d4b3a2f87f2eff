"""The audit trail of writes through the API and the portal, in the transaction of the effect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from disclosure import models


def append(
    session: Session,
    *,
    operation: str,
    outcome: str,
    token: models.Token | None = None,
    records: Iterable[tuple[models.RecordKind, int]] = (),
    user_id: int | None = None,
    unit_id: int | None = None,
) -> models.AuditEntry:
    """Add one audit entry to the session's transaction: of a token's write, or (`user_id`,
    `unit_id`) of a portal account's sign-in, sign-out or action."""
    entry = models.AuditEntry(
        token_id=token.id if token else None,
        unit_id=token.unit_id if token else unit_id,
        user_id=user_id,
        operation=operation,
        records=[f"{kind.value}:{record_id}" for kind, record_id in records],
        outcome=outcome,
    )
    session.add(entry)
    return entry


def since(session: Session, day: dt.date) -> Sequence[models.AuditEntry]:
    """Entries from the start of `day` (UTC) on, oldest first."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return session.exec(
        select(models.AuditEntry)
        .where(col(models.AuditEntry.at) >= start)
        .order_by(col(models.AuditEntry.id))
    ).all()
