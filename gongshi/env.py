"""What every command shares: settings, the engine, errors users can act on, --as-of."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from rich.console import Console

from disclosure import (
    db,
    ingest,
    lifecycle,
    sample,
    settings,
    tokens,
    workdays,
)
from publishers import release, search
from search_index import indexer

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False)


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
        if db.current_revision(self.engine) != db.head_revision(self.engine):
            raise click.ClickException("the database schema is missing or old: run `gongshi init`")


# Errors a user can act on: one line, exit status 1 (click's usage errors exit 2).
USER_ERRORS: tuple[type[Exception], ...] = (
    settings.SettingsError,
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
    except USER_ERRORS as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise click.ClickException(message) from error


def as_of_option(function: F) -> F:
    return click.option(
        "--as-of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="The day to act as of (default: today in Asia/Shanghai).",
    )(function)


def as_of_date(value: dt.datetime | None) -> dt.date:
    return value.date() if value is not None else settings.today()
