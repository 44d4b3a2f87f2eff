"""Building the index and keeping it current from the change log, by watermark.

Layout of an index folder (one per API node): `current` → `builds/<stamp>/`, each build holding
one whoosh index per record kind (shards: a kind filter is a choice of shards, and the shards are
built in parallel) and `watermark.json`: the last event applied and the day it was applied for.
A rebuild holds an exclusive lock on `builds/<stamp>.lock` while it writes, so that any run of
`index` can remove the builds a killed rebuild left (not current, not the previous one, unlocked).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session
from whoosh import index as whoosh_index
from whoosh.index import LockError

from disclosure import db, lifecycle, models, privacy
from disclosure.queries import change_log, plain_rows
from search_index import documents, lag

WRITER_MEMORY_MB = 256


class IndexUnavailable(RuntimeError):
    """The index is missing, or busy with another writer."""


@dataclasses.dataclass(frozen=True)
class Watermark:
    """How far a build has followed the change log."""

    event_id: int
    as_of: dt.date
    format: int = documents.FORMAT  # the document layout of the build


@dataclasses.dataclass(frozen=True)
class Report:
    """What a build or an update did."""

    indexed: int
    removed: int
    events: int
    watermark: Watermark
    seconds: float


def current(index_dir: Path) -> Path | None:
    """The folder of the live build, if there is one."""
    link = index_dir / "current"
    return link.resolve() if link.exists() else None


def read_watermark(build: Path) -> Watermark:
    """How far `build` has followed the change log; IndexUnavailable if it was built with
    another document layout than this gongshi's."""
    data = json.loads((build / "watermark.json").read_text(encoding="utf-8"))
    mark = Watermark(
        int(data["event_id"]), dt.date.fromisoformat(data["as_of"]), int(data.get("format", 1))
    )
    if mark.format != documents.FORMAT:
        raise IndexUnavailable(
            f"the index in {build.parent.parent} was built by another version of gongshi "
            "(a different document layout): run `gongshi index --rebuild`"
        )
    return mark


def _write_watermark(build: Path, mark: Watermark) -> None:
    temporary = build / "watermark.json.tmp"
    payload = {"event_id": mark.event_id, "as_of": mark.as_of.isoformat(), "format": mark.format}
    temporary.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(temporary, build / "watermark.json")


def _build_shard(engine: sa.Engine, folder: Path, kind: models.RecordKind, on: dt.date) -> int:
    folder.mkdir(parents=True)
    shard = whoosh_index.create_in(str(folder), documents.schema())
    writer = shard.writer(limitmb=WRITER_MEMORY_MB)
    count = 0
    with Session(engine) as session:
        for record in plain_rows.public_records(session, models.RECORD_MODELS[kind], on):
            writer.add_document(**documents.document(privacy.project(record, on)))
            count += 1
    writer.commit()
    return count


def _build_shard_in_process(url: str, folder: Path, kind: models.RecordKind, on: dt.date) -> int:
    engine = db.create_engine(url)
    try:
        return _build_shard(engine, folder, kind, on)
    finally:
        engine.dispose()


@contextmanager
def writer_lock(build: Path, *, wait: bool) -> Iterator[bool]:
    """Hold the lock of the writer of `build` (yields False, without waiting, if another holds
    it); the kernel releases it when the holder dies, kill -9 included, leaving the file."""
    build.parent.mkdir(parents=True, exist_ok=True)
    path = build.with_name(build.name + ".lock")
    while True:
        with path.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                if os.stat(path).st_ino != os.fstat(lock.fileno()).st_ino:
                    continue  # a cleaner unlinked the file we locked: lock the one there now
            except FileNotFoundError:
                continue
            try:
                yield True
            finally:
                path.unlink(missing_ok=True)  # before closing releases it: see the check above
            return


def remove_abandoned(index_dir: Path) -> list[Path]:
    """Remove the builds a killed rebuild left: those neither current nor older than it (the
    previous build, which readers may still be on) whose writer holds no lock; returns them."""
    builds = index_dir / "builds"
    live = current(index_dir)
    removed = []
    for build in sorted(builds.iterdir()) if builds.is_dir() else []:
        if not build.is_dir() or build == live or (live is not None and build.name < live.name):
            continue
        with writer_lock(build, wait=False) as free:
            if free:  # its writer is gone: nobody will finish it
                shutil.rmtree(build, ignore_errors=True)
                removed.append(build)
    for lock in builds.glob("*.lock") if builds.is_dir() else []:
        if not lock.with_suffix("").exists():
            with writer_lock(lock.with_suffix(""), wait=False):
                pass  # a killed writer's: if free, taking it removes it
    return removed


def rebuild(index_dir: Path, engine: sa.Engine, *, on: dt.date, processes: int = 1) -> Report:
    """Build a fresh index of every public record in a new folder and switch `current` to it
    atomically; a killed build leaves the live one untouched, and its folder to the next run."""
    remove_abandoned(index_dir)
    build = index_dir / "builds" / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    with writer_lock(build, wait=True):
        return _rebuild(index_dir, build, engine, on=on, processes=processes)


def _rebuild(
    index_dir: Path, build: Path, engine: sa.Engine, *, on: dt.date, processes: int
) -> Report:
    started = time.perf_counter()
    build.mkdir(parents=True)
    with Session(engine) as session:
        mark = Watermark(
            change_log.last_event_id(session), on
        )  # events after this are applied later
    kinds = list(models.RecordKind)
    in_memory = engine.url.database in (None, "", ":memory:")
    if processes > 1 and not in_memory:
        url = engine.url.render_as_string(hide_password=False)
        with ProcessPoolExecutor(max_workers=processes) as pool:
            counts = list(
                pool.map(
                    _build_shard_in_process,
                    [url] * len(kinds),
                    [build / kind.value for kind in kinds],
                    kinds,
                    [on] * len(kinds),
                )
            )
    else:
        counts = [_build_shard(engine, build / kind.value, kind, on) for kind in kinds]
    _write_watermark(build, mark)
    _switch(index_dir, build)
    return Report(sum(counts), 0, 0, mark, time.perf_counter() - started)


def _switch(index_dir: Path, build: Path) -> None:
    link = index_dir / "current"
    previous = current(index_dir)
    temporary = index_dir / "current.tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(build.relative_to(index_dir))
    os.replace(temporary, link)
    for old in (index_dir / "builds").iterdir():
        if old.is_dir() and old not in (build, previous):  # readers may still be on previous
            with writer_lock(old, wait=False) as free:
                if free:  # not another rebuild's folder that it is still writing
                    shutil.rmtree(old, ignore_errors=True)


def update(index_dir: Path, engine: sa.Engine, *, on: dt.date, timeout: float = 10.0) -> Report:
    """Apply the events since the watermark, and the records that left publication by date since
    the last update, to the live build. One writer per shard; a busy shard waits `timeout`."""
    started = time.perf_counter()
    remove_abandoned(index_dir)
    build = current(index_dir)
    if build is None:
        raise IndexUnavailable(f"no index in {index_dir}: run `gongshi index --rebuild`")
    mark = read_watermark(build)
    with Session(engine) as session:
        found = lag.pending(session, mark.event_id, mark.as_of, on)
        last, events = found.last_event_id, found.events
        indexed = removed = 0
        for kind, ids in found.records.items():
            if not ids:
                continue
            shard = whoosh_index.open_dir(str(build / kind.value))
            try:
                writer = shard.writer(timeout=timeout)
            except LockError as error:
                raise IndexUnavailable(
                    f"the {kind.value} index is being written by another process"
                ) from error
            records = plain_rows.records_by_id(session, models.RECORD_MODELS[kind], ids)
            for record in records:
                if lifecycle.is_public(record, on):
                    writer.update_document(**documents.document(privacy.project(record, on)))
                    indexed += 1
                else:
                    assert record.id is not None
                    writer.delete_by_term("key", documents.key(kind, record.id))
                    removed += 1
            writer.commit()
    new_mark = Watermark(last, max(on, mark.as_of))
    _write_watermark(build, new_mark)
    return Report(indexed, removed, events, new_mark, time.perf_counter() - started)
