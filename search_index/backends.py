"""The one place that chooses the search backend a node's settings name (`GONGSHI_SEARCH`):
for the API, the feeds made on request and the demo alike."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from disclosure import search_rows, settings
from search_index import database, indexer, search


def open_backend(
    node_settings: settings.Settings, engine: sa.Engine, *, on: dt.date | None = None
) -> search.Backend | None:
    """The settings' search backend: the database's search rows, or this node's whoosh index
    folder if it has been built (None if neither has been: `gongshi index --rebuild`); `on`
    fixes the day of the database's (tests)."""
    if node_settings.search == "database":
        with engine.connect() as connection:
            if not search_rows.kept(connection):
                return None
        return database.DatabaseSearcher(engine, on=on)
    index_dir = node_settings.index_dir
    return search.Searcher(index_dir) if indexer.current(index_dir) is not None else None
