"""The build folders of an index: a rebuild's folder stays while its writer lives, goes after."""

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from search_index import indexer

ON = dt.date(2026, 6, 1)


def test_a_build_being_written_is_kept_and_an_abandoned_one_removed(
    engine: sa.Engine, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    indexer.rebuild(index_dir, engine, on=ON)
    previous = indexer.current(index_dir)
    indexer.rebuild(index_dir, engine, on=ON)
    live = indexer.current(index_dir)
    assert previous is not None and live is not None and previous != live
    writing = index_dir / "builds" / "99990101T000000000000"
    abandoned = index_dir / "builds" / "99990101T000000000001"
    with indexer.writer_lock(writing, wait=True):  # another process's rebuild, mid-way
        writing.mkdir()
        abandoned.mkdir()
        (abandoned / "penalty").mkdir()
        assert indexer.remove_abandoned(index_dir) == [abandoned]
        assert writing.is_dir() and previous.is_dir() and live.is_dir()
        indexer.update(index_dir, engine, on=ON)
        assert writing.is_dir()
    assert indexer.remove_abandoned(index_dir) == [writing]  # its writer is gone
    assert sorted(p.name for p in (index_dir / "builds").iterdir()) == [previous.name, live.name]
