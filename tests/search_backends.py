"""Both search backends behind one `search.Backend`, for tests that every backend must pass."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from search_index import database, indexer, search

BACKENDS = ("whoosh", "database")


def open_searcher(backend: str, engine: sa.Engine, index_dir: Path, on: dt.date) -> search.Backend:
    """A searcher of `backend` over `engine`'s records as of `on`: a whoosh index built into
    `index_dir`, or the database's own search rows (nothing to build)."""
    if backend == "whoosh":
        indexer.rebuild(index_dir, engine, on=on)
        return search.Searcher(index_dir)
    return database.DatabaseSearcher(engine, on=on)
