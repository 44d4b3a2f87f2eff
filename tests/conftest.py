"""Fixtures: the same tests run on SQLite (default) and on PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel
from stdnum.cn import ric

from disclosure import db, models, settings
from tests import factories

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parent.parent  # the checkout


def examples(count: int) -> int:
    """How many cases a generated test tries: `count` on SQLite, half on PostgreSQL, where each
    case costs several times more and the cases are the same (the suite runs on both)."""
    return count // 2 if POSTGRES_URL else count


ID_RUN = re.compile(r"\d{17}[\dX]")


def unmasked_id_numbers(text: str) -> list[str]:
    """Every run in `text` that is a valid 18-character resident identity number."""
    return [run for run in ID_RUN.findall(text) if ric.is_valid(run)]


def reset_postgres() -> None:
    """Empty the PostgreSQL test database: its schema dropped, for `gongshi init` to migrate."""
    assert POSTGRES_URL is not None
    engine = db.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def cli_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The command line in an empty working directory, on the database the tests run against
    (its default SQLite file there, or the PostgreSQL test database emptied)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GONGSHI_DATA_DIR", raising=False)
    if POSTGRES_URL:
        reset_postgres()
        monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    return CliRunner()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    """A PostgreSQL database migrated by Alembic from scratch once per test session."""
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests need a database")
    engine = db.create_engine(POSTGRES_URL)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    except sa.exc.OperationalError as error:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(error).splitlines()[0]}")
    db.upgrade(engine)
    yield engine
    engine.dispose()


def sqlite_memory_engine() -> sa.Engine:
    """An in-memory SQLite database shared by every thread, with the current schema."""
    engine = db.create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    SQLModel.metadata.create_all(engine)
    return engine


def keep_search_rows(connection: sa.Connection) -> None:
    """Have the writers keep the search rows, as `gongshi index --rebuild` with
    GONGSHI_SEARCH=database does, so that the tests of both backends find what they add (a
    fresh database keeps none: tests/search_index/test_search.py)."""
    connection.execute(
        sa.text(f"INSERT INTO {models.SEARCH_STATE_TABLE} (kept) VALUES (:kept)"), {"kept": True}
    )


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty database: a SQLite file, or the PostgreSQL test database truncated.

    A file, not one in-memory connection shared by every thread: the API runs queries, writes
    and its index follower in threads of their own, each with its own connection, as it does in
    production."""
    if POSTGRES_URL:
        engine: sa.Engine = request.getfixturevalue("postgres_engine")
        tables = ", ".join(
            [table.name for table in SQLModel.metadata.sorted_tables]
            + [models.SEARCH_TABLE, models.SEARCH_STATE_TABLE]
        )
        with engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            keep_search_rows(connection)
        yield engine
        return
    engine = db.create_engine(f"sqlite:///{tmp_path / 'test.db'}")
    SQLModel.metadata.create_all(engine)
    with engine.begin() as connection:
        keep_search_rows(connection)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app_settings(tmp_path: Path) -> settings.Settings:
    """Settings with data under tmp_path, on the database the tests run against."""
    return settings.Settings(
        database_url=POSTGRES_URL or f"sqlite:///{tmp_path / 'gongshi.db'}",
        data_dir=tmp_path,
        id_key=factories.ID_KEY,
    )
