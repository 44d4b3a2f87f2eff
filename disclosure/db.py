"""Engines, sessions and the schema (through the Alembic migrations beside this module)."""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session

if TYPE_CHECKING:
    from alembic.config import Config

    from disclosure.idkey import IdKey

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or opened (server down, refused, not a database file)."""


def unavailable(engine: sa.Engine, error: Exception) -> DatabaseUnavailable:
    """The one-line error that names the database (without its password) and the reason."""
    reason = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    detail = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    url = engine.url.render_as_string(hide_password=True)
    return DatabaseUnavailable(f"the database {url} is unreachable: {detail}")


def lost(error: sa.exc.DBAPIError) -> bool:
    """Whether a database error means the database is away or unreadable (rather than that a
    statement was wrong): refused, dropped, timed out, or a file that is not a database."""
    return (
        error.connection_invalidated
        or isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError)
        or type(error) is sa.exc.DatabaseError
    )


@contextmanager
def connected(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection from `engine`, or DatabaseUnavailable when none can be opened."""
    try:
        connection = engine.connect()
    except sa.exc.DBAPIError as error:
        raise unavailable(engine, error) from error
    with connection:
        yield connection


@contextmanager
def time_budget(connection: sa.Connection, seconds: float) -> Iterator[None]:
    """Within the block, no statement on `connection` runs past `seconds` from now: the
    database stops one that is running (SQLite's progress handler, PostgreSQL's
    statement_timeout for the transaction) and none starts after the deadline. An engine under
    `watch_time_budget` turns either into its error."""
    deadline = time.monotonic() + seconds
    raw: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        # 0 would mean no timeout at all
        milliseconds = max(1, int(seconds * 1000))
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
    else:
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    connection.info[_DEADLINE] = deadline
    try:
        yield
    finally:
        connection.info.pop(_DEADLINE, None)
        if connection.dialect.name != "postgresql":
            raw.set_progress_handler(None, 0)


_DEADLINE = "gongshi.deadline"
Spent = Callable[[], Exception]  # the error a spent time budget raises


def watch_time_budget(engine: sa.Engine, spent: Spent) -> None:
    """Make `engine` raise `spent()` for the database's "interrupted" / "statement timeout",
    and for any statement past the deadline of a `time_budget`. Once per engine and error."""
    in_time, interrupted = _budget_listeners(spent)
    if not sa.event.contains(engine, "handle_error", interrupted):
        sa.event.listen(engine, "handle_error", interrupted)
        sa.event.listen(engine, "before_cursor_execute", in_time)


@functools.cache
def _budget_listeners(
    spent: Spent,
) -> tuple[Callable[..., None], Callable[[sa.engine.ExceptionContext], None]]:
    """The two event listeners of `watch_time_budget`, one pair for each error (so that a
    second watch of an engine finds them already listening)."""

    def in_time(connection: sa.Connection, *args: Any) -> None:
        """No statement starts once the deadline has passed (the database stops those already
        running)."""
        deadline = connection.info.get(_DEADLINE)
        if deadline is not None and time.monotonic() > deadline:
            raise spent()

    def interrupted(context: sa.engine.ExceptionContext) -> None:
        original = context.original_exception
        stopped = (
            isinstance(original, sqlite3.OperationalError) and str(original) == "interrupted"
        ) or type(original).__name__ == "QueryCanceled"
        if stopped:
            raise spent() from original

    return in_time, interrupted


BACKENDS = ("sqlite", "postgresql")  # what the migrations and queries are written for


def unsupported(url: str) -> str | None:
    """Why gongshi cannot run on the database at `url`, or None when it can."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return "is not a database URL"
    use = "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
    if parsed.get_backend_name() not in BACKENDS:
        return f"names {parsed.get_backend_name()}, which gongshi does not run on: {use}"
    try:
        parsed.get_dialect().import_dbapi()
    except (ImportError, sa.exc.NoSuchModuleError):
        return f"names the driver {parsed.drivername}, which is not installed: {use}"
    return None


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for an in-memory database or another backend)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


BULK_PAGE_CACHE_MIB = 32  # per SQLite connection: bulk writes touch many index pages
SERVING_PAGE_CACHE_MIB = 8  # an API node's many reading connections share the OS page cache


def create_engine(
    url: str, *, page_cache_mib: int = BULK_PAGE_CACHE_MIB, **options: Any
) -> sa.Engine:
    """An engine for `url`; SQLite files get foreign keys, WAL, a busy timeout and a page cache
    of `page_cache_mib` per connection.

    Statement parameters never appear in error messages: they may hold identity numbers.
    """
    options.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        database = sqlite_file(url)
        if database is not None:
            try:
                database.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseUnavailable(
                    f"the folder {database.parent} of the SQLite database cannot be made: "
                    f"{error.strerror}"
                ) from error
        options.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = sa.create_engine(url, **options)
        sa.event.listen(engine, "connect", functools.partial(_sqlite_pragmas, page_cache_mib))
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **options)


def _sqlite_pragmas(page_cache_mib: int, connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute(f"PRAGMA cache_size = -{page_cache_mib * 1024}")
    cursor.close()


# Alembic is imported by the functions below, when they run: importing it takes a quarter of a
# second of every process that only reads (each bulk export worker imports this module).


def alembic_config(engine: sa.Engine, id_key: IdKey | None = None) -> Config:
    """An Alembic configuration that migrates `engine` (no alembic.ini needed); `id_key` keys
    the identity digests migration 0006 converts."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    config.attributes["id_key"] = id_key
    return config


def upgrade(engine: sa.Engine, id_key: IdKey | None = None) -> str | None:
    """Create or migrate the schema to the newest revision; returns that revision."""
    from alembic import command

    command.upgrade(alembic_config(engine, id_key), "head")
    return current_revision(engine)


def current_revision(engine: sa.Engine) -> str | None:
    """The schema revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with connected(engine) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: sa.Engine) -> str | None:
    """The newest revision the migrations know."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def bulk_insert(
    connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert many rows through the driver's executemany, converting values with the columns'
    own types a column at a time rather than a statement at a time (3–4× SQLAlchemy's
    executemany). Every row must carry the same keys; columns they leave out get their
    Python-side default, evaluated once for the batch."""
    if not rows:
        return
    keys = list(rows[0])
    defaults = {
        column.key: column.default.arg(None) if column.default.is_callable else column.default.arg
        for column in table.c
        if isinstance(column.default, sa.ColumnDefault) and column.key not in rows[0]
    }
    dialect = connection.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=keys + list(defaults))
    values: dict[str, list[Any]] = {}
    for key in keys:
        column = [row[key] for row in rows]
        process = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
        values[key] = list(map(process, column)) if process else column
    for key, value in defaults.items():
        process = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
        values[key] = [process(value) if process else value] * len(rows)
    if dialect.name == "postgresql":
        _copy(connection, table, values)
        return
    if compiled.positional:
        order = [compiled.binds[name].key for name in compiled.positiontup or ()]
        parameters: list[Any] = list(zip(*(values[key] for key in order), strict=True))
    else:
        names = list(values)
        parameters = [
            dict(zip(names, row, strict=True)) for row in zip(*values.values(), strict=True)
        ]
    connection.exec_driver_sql(str(compiled), parameters)


def _copy(connection: sa.Connection, table: sa.Table, values: dict[str, list[Any]]) -> None:
    """COPY the columns `values` gives (already converted by their types) into `table`, in the
    connection's transaction: PostgreSQL's bulk load, one command streaming every row where
    executemany sends a statement per row."""
    from psycopg import sql  # the PostgreSQL driver, present wherever that dialect is used

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, values))
    )
    raw: Any = connection.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in zip(*values.values(), strict=True):
            copy.write_row(row)


@contextmanager
def transaction(engine: sa.Engine) -> Iterator[Session]:
    """A session whose work is committed together at the end, or not at all."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def reserve_ids(connection: sa.Connection, table: sa.Table, count: int) -> list[int]:
    """`count` fresh ids for rows of `table` to be inserted with explicit ids: from the id
    sequence on PostgreSQL (safe beside concurrent writers), past the largest id on SQLite
    (one writer at a time)."""
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        series = sa.func.generate_series(1, count).table_valued("n")
        found = connection.execute(sa.select(sa.func.nextval(sequence)).select_from(series))
        return [int(value) for value in found.scalars()]
    first = connection.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    return list(range(first + 1, first + 1 + count))


WRITE_LOCK = 0x67_6F_6E_67  # "gong": the advisory lock writers through the API take


def lock_for_writing(session: Session) -> None:
    """Make the session's transaction the one writer until it ends: a concurrent writer waits
    (SQLite: BEGIN IMMEDIATE within the busy timeout; PostgreSQL: an advisory lock), so that
    what a writer reads before it writes is still true when it commits. Call it first."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(WRITE_LOCK)))
        return
    raw: Any = connection.connection.dbapi_connection
    if not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
