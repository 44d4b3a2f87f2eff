"""The tokens, the audit trail and the table state the mutation tests share."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from disclosure import models, tokens
from tests import factories
from tests.factories import TAX

MARKET = "赤坎区市场监督管理局"  # the factories' department


OPERATOR = "赤坎区发展和改革局"


@dataclasses.dataclass
class Tokens:
    market: str
    tax: str
    operator: str
    market_operator: str  # an operator token of a department: still no edits
    market_unit: int


def make_tokens(session: Session) -> Tokens:
    """A department token of each of two departments, an operator's, and an operator token of
    the first department, committed."""
    market = factories.add_department(session, MARKET)
    tax = factories.add_department(session, TAX)
    operator = factories.add_department(session, OPERATOR)
    found = Tokens(
        market=tokens.create(session, unit_code=market.credit_code, role=models.Role.DEPARTMENT)[1],
        tax=tokens.create(session, unit_code=tax.credit_code, role=models.Role.DEPARTMENT)[1],
        operator=tokens.create(session, unit_code=operator.credit_code, role=models.Role.OPERATOR)[
            1
        ],
        market_operator=tokens.create(
            session, unit_code=market.credit_code, role=models.Role.OPERATOR
        )[1],
        market_unit=market.id or 0,
    )
    session.commit()
    return found


def audit_trail(session: Session) -> list[tuple[str | None, str, list[str], str]]:
    """The audit entries as (unit, operation, records, outcome), oldest first."""
    session.expire_all()
    rows = session.exec(select(models.AuditEntry).order_by(col(models.AuditEntry.id))).all()
    names = {unit.id: unit.name for unit in session.exec(select(models.Department))}
    return [
        (names.get(row.unit_id) if row.unit_id else None, row.operation, row.records, row.outcome)
        for row in rows
    ]


def state(session: Session) -> dict[str, list[str]]:
    """Every table but the audit trail, row by row: what a refused write leaves as it was."""
    session.expire_all()
    connection = session.connection()
    return {
        table.name: sorted(repr(tuple(row)) for row in connection.execute(sa.select(table)))
        for table in SQLModel.metadata.sorted_tables
        if table.name != models.AuditEntry.__tablename__
    }


def events(session: Session) -> list[tuple[str, int, str]]:
    rows = session.exec(select(models.Event).order_by(col(models.Event.id))).all()
    return [(row.record_kind.value, row.record_id, row.type.value) for row in rows]


def penalty_id(session: Session, number: str) -> int:
    found = session.exec(
        select(models.Penalty).where(col(models.Penalty.decision_doc_no) == number)
    ).one()
    assert found.id is not None
    return found.id


OPEN = """mutation($id: ID!, $grounds: String!) {
  openObjection(id: $id, grounds: $grounds) {
    __typename
    ... on Objection { recordId openedOn dueOn closedOn outcome }
    ... on MutationError { code }
  }
}"""


def objection_ids(session: Session) -> list[int]:
    session.expire_all()
    return [
        o.id or 0 for o in session.exec(select(models.Objection).order_by(col(models.Objection.id)))
    ]
