"""The measures each named list carries (`models.JointMeasure`, 联合奖惩措施 of a list), and the
whole measures list: the configured one joined with them."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from disclosure import models, prepared
from disclosure.measures import BUILT_IN, Catalogue, Measure, MeasureKind, Trigger, TriggerKind


def list_measure_code(list_code: str, measure_id: int) -> str:
    """The code of a list's measure that was stored without one (what migration 0007 gives)."""
    return f"{list_code}-{measure_id}"


def from_lists(session: Session) -> tuple[Measure, ...]:
    """The measures the named lists carry, each triggered by an entry on its list. Read as plain
    rows each time (they change without an event) and made into measures once for the same
    rows: a standing reads them at every lookup (bench/standing.py)."""
    rows = _list_measures_statement().execute(session.connection(), {})
    return _list_measures(tuple(tuple(row) for row in rows))


@functools.cache
def _list_measures_statement() -> prepared.Prepared:
    measure, named = models.JointMeasure, models.List
    statement = (
        sa.select(
            col(measure.id),
            col(measure.code),
            col(measure.measure),
            col(measure.implementing_department),
            col(measure.mandatory),
            col(measure.legal_basis),
            col(measure.effective_on),
            col(measure.reaches_legal_representative),
            col(named.code),
            col(named.kind),
            col(named.legal_basis),
        )
        .join(named, col(named.id) == col(measure.list_id))
        .order_by(col(named.code), col(measure.id))
    )
    # read back through their types: the flags, the date and the list's kind
    return prepared.Prepared(statement, (), converted=(4, 6, 7, 9))


@functools.lru_cache(maxsize=8)
def _list_measures(rows: tuple[tuple[Any, ...], ...]) -> tuple[Measure, ...]:
    return tuple(_list_measure(*row) for row in rows)


def _list_measure(
    measure_id: int,
    code: str | None,
    text: str,
    department: str,
    mandatory: bool,
    legal_basis: str | None,
    effective_on: dt.date | None,
    reaches_legal_representative: bool,
    list_code: str,
    list_kind: models.ListKind,
    list_basis: str,
) -> Measure:
    red = list_kind is models.ListKind.RED
    return Measure(
        code=code or list_measure_code(list_code, measure_id),
        text=text,
        kind=MeasureKind.INCENTIVE if red else MeasureKind.PUNISHMENT,
        mandatory=mandatory,
        legal_basis=legal_basis or list_basis,
        departments=(department,),
        triggers=(Trigger(TriggerKind.LIST, list_codes=(list_code,)),),
        effective_on=effective_on or dt.date.min,
        reaches_legal_representative=reaches_legal_representative,
    )


def catalogue(session: Session, configured: Catalogue = BUILT_IN) -> Catalogue:
    """The whole measures list: the configured one (`load`) and the lists' own measures."""
    return _joined(configured, from_lists(session))


@functools.lru_cache(maxsize=8)
def _joined(configured: Catalogue, listed: tuple[Measure, ...]) -> Catalogue:
    return configured.extended(m for m in listed if configured.get(m.code) is None)
