"""What a request's resolvers share: one session, the as-of day, and request-scoped loaders."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session
from strawberry.dataloader import DataLoader

from api import ratelimit
from api.limits import Limits, TimeBudgetExceeded
from disclosure import models, queries, settings
from search_index import search

# a subject's public licenses, penalties and list entries
SubjectRecords = tuple[list[queries.RecordRow], list[queries.RecordRow], list[queries.RecordRow]]


@dataclasses.dataclass
class Context:
    """One request's view of gongshi: everything is public as of `on`."""

    session: Session
    on: dt.date
    settings: settings.Settings
    limits: Limits
    searcher: search.Searcher | None = None
    bearer: str | None = None  # the secret of the request's API token, for mutations
    cost: int = 0
    volatile: bool = False  # the answer depends on more than the data version: do not cache
    writes: bool = False  # a mutation wrote: commit when the request ends
    meter: ratelimit.Meter | None = None  # what the request's client may spend; None: no limit
    subjects: DataLoader[str, SubjectRecords] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.subjects = DataLoader(load_fn=self._load_subjects, max_batch_size=100)

    async def _load_subjects(self, keys: Sequence[str]) -> list[SubjectRecords]:
        licenses = queries.subjects_records(self.session, models.License, keys, self.on)
        penalties = queries.subjects_records(self.session, models.Penalty, keys, self.on)
        entries = queries.subjects_records(self.session, models.ListEntry, keys, self.on)
        return [(licenses[key], penalties[key], entries[key]) for key in keys]


@contextmanager
def opened(
    engine: sa.Engine,
    app_settings: settings.Settings,
    limits: Limits,
    on: dt.date,
    searcher: search.Searcher | None = None,
    bearer: str | None = None,
) -> Iterator[Context]:
    """A context whose database statements stop when the request's time budget is spent; the
    writes of its mutations are committed together when it closes without an error."""
    with Session(engine, expire_on_commit=False) as session:
        connection = session.connection()
        budget = limits.time_budget_seconds
        deadline = time.monotonic() + budget
        raw: Any = connection.connection.dbapi_connection
        if connection.dialect.name == "postgresql":
            # 0 would mean no timeout at all
            milliseconds = max(1, int(budget * 1000))
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        else:
            raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        connection.info[_DEADLINE] = deadline
        context = Context(session, on, app_settings, limits, searcher, bearer)
        try:
            yield context
        finally:
            connection.info.pop(_DEADLINE, None)
            if connection.dialect.name != "postgresql":
                raw.set_progress_handler(None, 0)
        if context.writes:  # past the deadline too: the work is done, only keeping it is left
            session.commit()


_DEADLINE = "gongshi.deadline"
_SPENT = "the query ran out of its time budget: ask for a smaller page or a narrower filter"


def watch_time_budget(engine: sa.Engine) -> None:
    """Turn the database's "interrupted" / "statement timeout", and any statement past the
    deadline, into TimeBudgetExceeded."""
    if not sa.event.contains(engine, "handle_error", _interrupted):
        sa.event.listen(engine, "handle_error", _interrupted)
        sa.event.listen(engine, "before_cursor_execute", _in_time)


def _in_time(connection: sa.Connection, *args: Any) -> None:
    """No statement starts once the request's deadline has passed (the database stops those
    already running)."""
    deadline = connection.info.get(_DEADLINE)
    if deadline is not None and time.monotonic() > deadline:
        raise TimeBudgetExceeded(_SPENT)


def _interrupted(context: sa.engine.ExceptionContext) -> None:
    original = context.original_exception
    stopped = (
        isinstance(original, sqlite3.OperationalError) and str(original) == "interrupted"
    ) or type(original).__name__ == "QueryCanceled"
    if stopped:
        raise TimeBudgetExceeded(_SPENT) from original
