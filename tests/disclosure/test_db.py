import datetime as dt
import time
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import Session, SQLModel

from disclosure import db, models
from tests import conftest, factories
from tests.conftest import unmasked_id_numbers


def _schema_differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                # the search tables are made by DDL of their own (models.SEARCH_DDL)
                "include_name": lambda name, type_, _parent: (
                    not (type_ == "table" and models.is_search_table(name or ""))
                ),
            },
        )
        return list(compare_metadata(context, SQLModel.metadata))


def test_migrations_build_exactly_the_models_on_sqlite(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'gongshi.db'}")
    assert db.current_revision(engine) is None
    assert db.upgrade(engine) == db.head_revision(engine)
    assert db.upgrade(engine) == db.head_revision(engine)  # upgrading twice is harmless
    assert _schema_differences(engine) == []


def test_migrations_build_exactly_the_models_on_postgresql(
    postgres_engine: sa.Engine,
) -> None:
    assert db.current_revision(postgres_engine) == db.head_revision(postgres_engine)
    assert _schema_differences(postgres_engine) == []


def test_instants_come_back_timezone_aware_utc(session: Session) -> None:
    penalty = factories.add_penalty(session)
    session.commit()
    session.expire_all()
    event = session.get(models.Event, 1)
    assert event is not None
    assert event.occurred_at.tzinfo == dt.UTC
    with pytest.raises(sa.exc.StatementError, match="must be timezone-aware"):
        penalty.updated_at = dt.datetime(2026, 1, 1)
        session.add(penalty)
        session.flush()


@pytest.mark.parametrize("amount", ["0.2", "123456789012.123456", "0.000001", "0"])
def test_amounts_in_wan_yuan_are_exact(engine: sa.Engine, amount: str) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        penalty = factories.add_penalty(session, fine_amount_wan=Decimal(amount))
    with Session(engine) as session:
        stored = session.get(models.Penalty, penalty.id)
        assert stored is not None
        assert stored.fine_amount_wan == Decimal(amount)
        total = session.execute(sa.select(sa.func.sum(models.Penalty.fine_amount_wan))).scalar()
        assert total == Decimal(amount)  # summed exactly, in whole fen


def test_amounts_beyond_six_decimals_are_refused(session: Session) -> None:
    with pytest.raises(sa.exc.StatementError, match="not a whole number of 分"):
        factories.add_penalty(session, fine_amount_wan=Decimal("0.0000001"))


def test_sqlite_engine_turns_on_foreign_keys() -> None:
    engine = conftest.sqlite_memory_engine()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_errors_never_show_statement_parameters(session: Session) -> None:
    digest = factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON).id_number_digest
    session.commit()
    with pytest.raises(sa.exc.IntegrityError) as raised:  # not null: PostgreSQL shows the row
        factories.add_subject(
            session, models.SubjectCategory.NATURAL_PERSON, id_number_digest=digest, name=None
        )
    assert "null" in str(raised.value).lower()
    assert unmasked_id_numbers(str(raised.value)) == []


def test_sqlite_connections_get_the_page_cache_asked_for(tmp_path: Path) -> None:
    for mib in (db.BULK_PAGE_CACHE_MIB, db.SERVING_PAGE_CACHE_MIB):
        engine = db.create_engine(f"sqlite:///{tmp_path / 'cache.db'}", page_cache_mib=mib)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -mib * 1024
        engine.dispose()


def test_the_party_name_migration_gives_each_record_its_subjects_name(tmp_path: Path) -> None:
    from alembic import command

    engine = db.create_engine(f"sqlite:///{tmp_path / 'gongshi.db'}")
    db.upgrade(engine)
    with Session(engine) as session:
        penalty = factories.add_penalty(session)
        entry = factories.add_list_entry(session)
        license = factories.add_license(session, subject_id=penalty.subject_id)
        session.commit()
        expected = {
            ("penalty", penalty.id, penalty.subject.name),
            ("list_entry", entry.id, entry.subject.name),
            ("license", license.id, penalty.subject.name),
        }
    command.downgrade(db.alembic_config(engine), "0003")  # as a database of the last release
    assert db.upgrade(engine) == db.head_revision(engine)
    with engine.connect() as connection:
        stored = {
            (table, row_id, name)
            for table in ("penalty", "list_entry", "license")
            for row_id, name in connection.execute(sa.text(f"SELECT id, party_name FROM {table}"))
        }
    assert stored == expected
    engine.dispose()


class Spent(Exception):
    """What the tests' engine raises for a spent time budget."""


SLOW = (
    "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100000000) "
    "SELECT count(*) FROM c"
)


def test_the_time_budget_stops_a_running_statement_and_lets_none_start_late(
    engine: sa.Engine,
) -> None:
    # an engine of its own: the tests' PostgreSQL engine is shared, and the API's watches it
    watched = db.create_engine(engine.url.render_as_string(hide_password=False))
    db.watch_time_budget(watched, Spent)
    with watched.connect() as connection:
        started = time.monotonic()
        with pytest.raises(Spent), db.time_budget(connection, 0.2):
            connection.exec_driver_sql(SLOW)
        assert time.monotonic() - started < 5
        connection.rollback()
        with pytest.raises(Spent) as late, db.time_budget(connection, 0.0):
            time.sleep(0.01)
            connection.exec_driver_sql("SELECT 1")
        assert late.value.__cause__ is None  # refused before the database saw it
        connection.rollback()
        with db.time_budget(connection, 5.0):
            assert connection.exec_driver_sql("SELECT 2").scalar() == 2
        assert connection.exec_driver_sql("SELECT count(*) FROM (VALUES (1)) AS v").scalar() == 1
    watched.dispose()
