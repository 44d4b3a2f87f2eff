"""What every command shares: settings, the engine, errors users can act on, --as-of."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from disclosure import (
    db,
    idkey,
    ingest,
    lifecycle,
    privacy,
    sample,
    settings,
    tokens,
    workdays,
)
from publishers import release, search
from search_index import indexer

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False)
# progress goes to stderr, so that stdout keeps only what a command reports
progress_console = Console(stderr=True, highlight=False)


class UserMistake(click.ClickException):
    """A mistake in how gongshi was called or configured: one line, exit status 2."""

    exit_code = 2


class Env:
    """What every command needs: settings and an engine, built once per invocation."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.settings = settings.Settings.from_env(environ)
        self._engine: sa.Engine | None = None
        self.page_cache_mib = db.BULK_PAGE_CACHE_MIB  # a serving node asks for less

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = db.create_engine(
                self.settings.database_url, page_cache_mib=self.page_cache_mib
            )
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def rules(self) -> lifecycle.Rules:
        return lifecycle.load_rules(self.settings.rules_path)

    def calendar(self) -> workdays.Calendar:
        return workdays.Calendar.load(self.settings.holidays_path)

    def require_schema(self) -> None:
        sqlite_file = db.sqlite_file(self.settings.database_url)
        # checked before connecting, which would leave an empty file there (a "folder" that is
        # a file is the engine's to name)
        if (
            sqlite_file is not None
            and not sqlite_file.exists()
            and not sqlite_file.parent.is_file()
        ):
            raise click.ClickException(
                f"there is no database at {sqlite_file}: create it with `gongshi init`, "
                "or set DATABASE_URL or GONGSHI_DATA_DIR to the one you have"
            )
        if db.current_revision(self.engine) != db.head_revision(self.engine):
            raise click.ClickException("the database schema is missing or old: run `gongshi init`")
        with user_errors(), self.engine.begin() as connection:
            idkey.verify(connection, self.settings.id_key)


# Errors a user can act on: one line, exit status 1 (a mistake in the settings, as click's
# usage errors, exits 2).
USER_ERRORS: tuple[type[Exception], ...] = (
    privacy.MissingKeyError,
    lifecycle.RulesError,
    workdays.CalendarError,
    sample.SampleError,
    indexer.IndexUnavailable,
    ingest.IngestError,
    tokens.TokenError,
    sa.exc.OperationalError,
    db.DatabaseUnavailable,
    release.ReleaseError,
    search.SearchIndexError,
)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except (settings.SettingsError, idkey.IdKeyError) as error:
        raise UserMistake(_first_line(error)) from error
    except USER_ERRORS as error:
        raise click.ClickException(_first_line(error)) from error


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def progress(*, seconds: bool = False) -> Progress:
    """A progress display on stderr, shown only when stderr is a terminal; with `seconds`, a
    spinner and the time elapsed, for work that cannot count its steps."""
    columns = (
        (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        if seconds
        else Progress.get_default_columns()
    )
    return Progress(
        *columns,
        console=progress_console,
        transient=True,
        redirect_stdout=False,  # what a command reports stays on stdout
        disable=not sys.stderr.isatty(),
    )


def as_of_option(function: F) -> F:
    return click.option(
        "--as-of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="The day to act as of (default: today in Asia/Shanghai).",
    )(function)


def as_of_date(value: dt.datetime | None) -> dt.date:
    return value.date() if value is not None else settings.today()
