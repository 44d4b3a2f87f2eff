"""How a node keeps its own search index current while it serves: it applies the change log."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import anyio
import anyio.to_thread
import sqlalchemy as sa

from disclosure import settings
from search_index import indexer, search


async def follow(
    index_dir: Path,
    engine: sa.Engine,
    searcher: search.Searcher,
    seconds: float,
    as_of: dt.date | None,
) -> None:
    """Apply the change log to this node's index every `seconds`, for as long as it serves."""
    while True:
        await anyio.sleep(seconds)
        on = as_of or settings.today()
        try:
            await anyio.to_thread.run_sync(update, index_dir, engine, searcher, on)
        except (sa.exc.OperationalError, indexer.IndexUnavailable) as error:
            # the database or the index is away for now: the next tick tries again
            logging.getLogger("gongshi.follow").warning("index not updated: %s", error)


def update(index_dir: Path, engine: sa.Engine, searcher: search.Searcher, on: dt.date) -> None:
    """Apply the change log to the index and let the searcher see it (in a thread: both block)."""
    indexer.update(index_dir, engine, on=on)
    searcher.refresh()
