"""The departments and the named lists: few rows, read whole, that every publication names."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import models


def departments(session: Session) -> list[models.Department]:
    """Every department, by credit code."""
    statement = select(models.Department).order_by(col(models.Department.credit_code))
    return list(session.exec(statement))


def department_names(session: Session) -> dict[int, str]:
    """Every department's name, by id."""
    statement = sa.select(col(models.Department.id), col(models.Department.name))
    return {int(unit_id): name for unit_id, name in session.execute(statement)}


def departments_by_code(session: Session, codes: Collection[str]) -> dict[str, models.Department]:
    """The departments with these credit codes, by code."""
    found = session.exec(
        select(models.Department).where(col(models.Department.credit_code).in_(list(codes)))
    )
    return {unit.credit_code: unit for unit in found}


def named_lists(session: Session) -> list[models.List]:
    """Every named list in the order they are shown: by kind in the order of `ListKind` (red,
    black, watch), then by code."""
    kinds = list(models.ListKind)
    found = session.exec(select(models.List)).all()
    return sorted(found, key=lambda named: (kinds.index(named.kind), named.code))
