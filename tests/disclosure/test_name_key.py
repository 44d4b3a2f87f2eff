"""subject.name_key: backfilled by migration 0010, kept on every write."""

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlmodel import Session

from disclosure import db, lifecycle, sample, workdays, workflows
from tests import factories


def test_the_migration_keys_the_names_a_database_already_holds(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'gongshi.db'}")
    command.upgrade(db.alembic_config(engine), "0009")
    with engine.begin() as connection:  # rows of the 0009 schema, in its own SQL
        connection.execute(
            sa.text("INSERT INTO subject (category, name) VALUES ('legal_person', :name)"),
            [{"name": "湛江市鴻達食品有限公司"}, {"name": "赤坎区陈记海鲜大排档"}],
        )
    db.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT name_key, name_key_reversed FROM subject ORDER BY id")
        ).all()
    assert [tuple(row) for row in rows] == [
        ("鸿达食品", "品食达鸿"),
        ("陈记海鲜大排档", "档排大鲜海记陈"),
    ]
    engine.dispose()


def test_a_new_or_renamed_subject_gets_its_key(session: Session) -> None:
    subject = factories.add_subject(session, name="湛江市鸿达食品有限公司")
    assert (subject.name_key, subject.name_key_reversed) == ("鸿达食品", "品食达鸿")
    workflows.restate_subject(session, subject, {"name": "湛江市金海物流股份有限公司"})
    session.flush()
    stored = session.execute(
        sa.text("SELECT name_key FROM subject WHERE id = :id"), {"id": subject.id}
    ).scalar_one()
    assert stored == "金海物流"


def test_sample_companies_have_distinct_keys(session: Session) -> None:
    sample.generate(
        session,
        records=3000,
        seed=7,
        as_of=dt.date(2026, 11, 28),
        rules=lifecycle.Rules(),
        calendar=workdays.Calendar.load(None),
    )
    organisations = sa.text("SELECT name_key FROM subject WHERE category != 'natural_person'")
    keys = list(session.execute(organisations).scalars())
    assert len(keys) > 900 and None not in keys
    assert len(set(keys)) == len(keys)
