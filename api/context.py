"""What a request's resolvers share: one session, the as-of day, and request-scoped loaders."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlmodel import Session
from strawberry.dataloader import DataLoader

from api import ratelimit
from api.errors import TimeBudgetExceeded
from api.limits import Limits
from disclosure import db, list_measures, measures, models, settings
from disclosure.queries import record_pages
from search_index import search

# a subject's public licenses, penalties and list entries
SubjectRecords = tuple[
    list[record_pages.RecordRow], list[record_pages.RecordRow], list[record_pages.RecordRow]
]


@dataclasses.dataclass
class Context:
    """One request's view of gongshi: everything is public as of `on`."""

    session: Session
    on: dt.date
    settings: settings.Settings
    limits: Limits
    searcher: search.Backend | None = None
    bearer: str | None = None  # the secret of the request's API token, for mutations
    cost: int = 0
    volatile: bool = False  # the answer depends on more than the data version: do not cache
    writes: bool = False  # a mutation wrote: commit when the request ends
    meter: ratelimit.Meter | None = None  # what the request's client may spend; None: no limit
    version: int | None = None  # the data version the request is answered at, once read
    horizons: Horizons | None = None  # the node's, shared by its requests
    catalogues: Catalogues | None = None  # the node's, shared by its requests
    subject_ids: dict[str, int] = dataclasses.field(default_factory=dict)  # by key, once looked up
    subjects: DataLoader[str, SubjectRecords] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        # the loader holds the session and the day, not the context: holding the context would
        # make a cycle, and each request's context would wait for the cyclic garbage collector
        load = functools.partial(_load_subjects, self.session, self.on)
        self.subjects = DataLoader(load_fn=load, max_batch_size=100)

    def since(self, model: models.RecordModel) -> dt.date | None:
        """`record_pages.public_since` for this request, once its data version is known."""
        if self.horizons is None or self.version is None:
            return None
        return self.horizons.since(self.session, model, self.on, self.version)


async def _load_subjects(
    session: Session, on: dt.date, keys: Sequence[str]
) -> list[SubjectRecords]:
    """The public records of the subjects under `keys`, three statements for them all."""
    licenses = record_pages.subjects_records(session, models.License, keys, on)
    penalties = record_pages.subjects_records(session, models.Penalty, keys, on)
    entries = record_pages.subjects_records(session, models.ListEntry, keys, on)
    return [(licenses[key], penalties[key], entries[key]) for key in keys]


class Horizons:
    """`record_pages.public_since` of each kind at the newest data version and day asked about: it
    moves only when the data or the day does, and costs a query of its own that a page would
    otherwise run each time."""

    def __init__(self) -> None:
        self._at: tuple[dt.date, int] | None = None
        self._since: dict[models.RecordModel, dt.date | None] = {}
        self._lock = threading.Lock()  # asked from the event loop and from query threads

    def since(
        self, session: Session, model: models.RecordModel, on: dt.date, version: int
    ) -> dt.date | None:
        """The bound for `model` on `on` at `version`; read in `session` if not known. Read
        after the version was, it holds for that version: only an event (a newer version) can
        make an older record public."""
        with self._lock:
            if self._at == (on, version) and model in self._since:
                return self._since[model]
        found = record_pages.public_since(session, model, on)
        with self._lock:
            if self._at != (on, version):
                self._at, self._since = (on, version), {}
            self._since[model] = found
        return found


class Catalogues:
    """The measures list at the newest data version. The lists' own measures (joint_measure)
    would otherwise be read at every standing asked; they are kept for a version as the
    response cache keeps whole answers for one, so a row changed without an event shows from
    the next event on, in both."""

    def __init__(self) -> None:
        # the configured list and the version it was read for, and what was read
        self._kept: tuple[measures.Catalogue, int, measures.Catalogue] | None = None
        self._lock = threading.Lock()  # asked from the event loop and from query threads

    def catalogue(
        self, session: Session, configured: measures.Catalogue, version: int
    ) -> measures.Catalogue:
        """`list_measures.catalogue(session, configured)` at `version`; read in `session` if not
        known. Read after the version was, it holds for that version."""
        with self._lock:
            kept = self._kept
        if kept is not None and kept[0] is configured and kept[1] == version:
            return kept[2]
        found = list_measures.catalogue(session, configured)
        with self._lock:
            self._kept = (configured, version, found)
        return found


@contextmanager
def opened(
    engine: sa.Engine,
    app_settings: settings.Settings,
    limits: Limits,
    on: dt.date,
    searcher: search.Backend | None = None,
    bearer: str | None = None,
    horizons: Horizons | None = None,
    catalogues: Catalogues | None = None,
) -> Iterator[Context]:
    """A context whose database statements stop when the request's time budget is spent; the
    writes of its mutations are committed together when it closes without an error."""
    with Session(engine, expire_on_commit=False) as session:
        with db.time_budget(session.connection(), limits.time_budget_seconds):
            context = Context(
                session,
                on,
                app_settings,
                limits,
                searcher,
                bearer,
                horizons=horizons,
                catalogues=catalogues,
            )
            yield context
        if context.writes:  # past the deadline too: the work is done, only keeping it is left
            session.commit()


_SPENT = "the query ran out of its time budget: ask for a smaller page or a narrower filter"


def watch_time_budget(engine: sa.Engine) -> None:
    """Answer a statement the time budget stopped (see `opened`) with TimeBudgetExceeded."""
    db.watch_time_budget(engine, _spent)


def _spent() -> TimeBudgetExceeded:
    return TimeBudgetExceeded(_SPENT)
