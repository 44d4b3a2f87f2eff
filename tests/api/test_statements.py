"""DataLoaders keep nested lists to one statement per kind, whatever the page size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tests import factories
from tests.api.conftest import Run

QUERY = """query ($n: Int!) {
  penalties(first: $n) {
    edges { node { id subject {
      name licenses(first: 5) { id } penalties(first: 5) { id } listEntries(first: 5) { id }
    } } }
  }
}"""


@contextmanager
def counting(engine: sa.Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_nested_subject_lists_cost_one_statement_per_kind(
    run: Run, session: Session, engine: sa.Engine
) -> None:
    for _ in range(20):
        subject = factories.add_subject(session)
        factories.add_penalty(session, subject_id=subject.id)
        factories.add_license(session, subject_id=subject.id)
    session.commit()
    with counting(engine) as few:
        small = run(QUERY, {"n": 2})
    with counting(engine) as many:
        large = run(QUERY, {"n": 20})
    assert len(small["data"]["penalties"]["edges"]) == 2
    assert len(large["data"]["penalties"]["edges"]) == 20
    assert all(
        len(edge["node"]["subject"]["licenses"]) == 1
        for edge in large["data"]["penalties"]["edges"]
    )
    # the page, then licenses, penalties and list entries of all its subjects at once
    selects = [s for s in many if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4
    assert len(many) == len(few)
