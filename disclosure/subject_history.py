"""Every record of one subject whatever its visibility: what the subject's feed tells, the public
ones in full and the ended ones as tombstones."""

from __future__ import annotations

from typing import cast

from sqlmodel import Session, col, select

from disclosure import models


def subject_history(session: Session, subject_id: int) -> list[models.Record]:
    """The records of every kind of the subject `subject_id`, public or not (callers project or
    tombstone them)."""
    found: list[models.Record] = []
    for model in models.RECORD_MODELS.values():
        statement = select(model).where(col(model.subject_id) == subject_id)
        found += cast(list[models.Record], list(session.exec(statement).unique()))
    return found
