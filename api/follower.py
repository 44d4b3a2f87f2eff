"""How a node keeps its own search index current while it serves: it applies the change log."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread
import sqlalchemy as sa

from api import node_memory
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


async def watch(searcher: search.Searcher, memory: node_memory.NodeMemory, seconds: float) -> None:
    """Reopen the searcher whenever the node's index follower has updated the index (a worker
    of a node of several processes: the follower is the index folder's one writer)."""
    seen = memory.generation()
    while True:
        await anyio.sleep(seconds)
        generation = memory.generation()
        if generation == seen:
            continue
        try:
            await anyio.to_thread.run_sync(searcher.refresh)
        except indexer.IndexUnavailable as error:
            logging.getLogger("gongshi.follow").warning("index not reopened: %s", error)
            continue
        seen = generation


def lead(
    index_dir: Path,
    engine: sa.Engine,
    memory: node_memory.NodeMemory,
    seconds: float,
    as_of: dt.date | None,
    stop: Callable[[], bool],
) -> None:
    """The index follower of a node of several worker processes: apply the change log to the
    index every `seconds` and tell the workers, which only read it, until `stop()`."""
    while not _slept(seconds, stop):
        on = as_of or settings.today()
        try:
            indexer.update(index_dir, engine, on=on)
        except (sa.exc.OperationalError, indexer.IndexUnavailable) as error:
            logging.getLogger("gongshi.follow").warning("index not updated: %s", error)
            continue
        memory.advance_generation()


def _slept(seconds: float, stop: Callable[[], bool]) -> bool:
    """Sleep `seconds`, or less when `stop()` turns true; returns `stop()`."""
    deadline = time.monotonic() + seconds
    while not stop() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))
    return stop()


def update(index_dir: Path, engine: sa.Engine, searcher: search.Searcher, on: dt.date) -> None:
    """Apply the change log to the index and let the searcher see it (in a thread: both block)."""
    indexer.update(index_dir, engine, on=on)
    searcher.refresh()
