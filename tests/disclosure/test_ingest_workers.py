"""Rows checked by worker processes land exactly as rows checked by the writer itself."""

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from disclosure import checkers, ingest, models, privacy, workflows
from tests import factories
from tests.template_rows import PERSON, doc, penalty_cells, run, write_csv


def mixed_rows() -> list[dict[str, str]]:
    """Good rows, rejected ones, a repeated key and a natural person, over several chunks."""
    rows = [penalty_cells(decision_doc_no=doc(i)) for i in range(20)]
    rows[3] = penalty_cells(decision_doc_no=doc(3), fine_amount_wan="x")
    rows[7] = penalty_cells(decision_doc_no=doc(6))  # repeats row 6's key
    rows[9] = penalty_cells(decision_doc_no=doc(9), decision_date="2026/13/01")
    rows[12] = penalty_cells(
        decision_doc_no=doc(12),
        subject_category="自然人",
        subject_name="王芳",
        subject_uscc="",
        legal_rep_name="",
        person_id_no=PERSON,
    )
    rows[15] = penalty_cells(decision_doc_no=doc(15), penalty_category="没收")
    return rows


def contents(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows but the instants (`*_at`: when a row was written differs between runs)."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.c if not c.key.endswith("_at")]
            query = sa.select(*columns).order_by(*table.primary_key.columns)
            found[table.name] = [tuple(row) for row in connection.execute(query)]
    return found


def test_two_workers_make_the_same_report_rejects_and_database_as_one(
    session: Session, engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkers, "CHUNK", 3)  # many chunks in flight, out of step with batches
    one_dir, two_dir = tmp_path / "one", tmp_path / "two"
    one_dir.mkdir()
    two_dir.mkdir()
    one_path = write_csv(one_dir / "p.csv", mixed_rows())
    two_path = write_csv(two_dir / "p.csv", mixed_rows())

    alone = sa.create_engine(f"sqlite:///{tmp_path / 'one.db'}")
    SQLModel.metadata.create_all(alone)
    with Session(alone, expire_on_commit=False) as one_session:
        one = run(one_session, one_path, workers=1)
    two = run(session, two_path, workers=2)

    assert dict(vars(one), path=None, rejects_path=None) == dict(
        vars(two), path=None, rejects_path=None
    )
    assert (one.read, one.accepted, one.rejected) == (20, 16, 4)
    assert ingest.rejects_path(one_path).read_bytes() == ingest.rejects_path(two_path).read_bytes()
    assert contents(alone) == contents(engine)
    alone.dispose()


def test_a_worker_without_the_identity_key_stops_the_run_as_the_writer_would(
    session: Session, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "p.csv", mixed_rows())
    ctx = workflows.Context(actor="tests", on=factories.DEFAULT_ON, id_key=None)
    with pytest.raises(privacy.MissingKeyError):
        ingest.ingest(session, path, kind=models.RecordKind.PENALTY, ctx=ctx, workers=2)
    assert not ingest.rejects_path(path).exists()
