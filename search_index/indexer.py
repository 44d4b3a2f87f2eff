"""Building the index and keeping it current from the change log, by watermark.

Layout of an index folder (one per API node): `current` → `builds/<stamp>/`, each build holding
one whoosh index per record kind (shards: a kind filter is a choice of shards, and the shards are
built in parallel) and `watermark.json`: the last event applied and the day it was applied for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session
from whoosh import index as whoosh_index
from whoosh.index import LockError

from disclosure import db, lifecycle, models, privacy, queries
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
        for record in queries.public_records(session, models.RECORD_MODELS[kind], on):
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


def rebuild(index_dir: Path, engine: sa.Engine, *, on: dt.date, processes: int = 1) -> Report:
    """Build a fresh index of every public record in a new folder and switch `current` to it
    atomically; a killed build leaves the live one untouched."""
    started = time.perf_counter()
    build = index_dir / "builds" / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    build.mkdir(parents=True)
    with Session(engine) as session:
        mark = Watermark(queries.last_event_id(session), on)  # events after this are applied later
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
        if old not in (build, previous):  # keep the previous build for readers still on it
            shutil.rmtree(old, ignore_errors=True)


def update(index_dir: Path, engine: sa.Engine, *, on: dt.date, timeout: float = 10.0) -> Report:
    """Apply the events since the watermark, and the records that left publication by date since
    the last update, to the live build. One writer per shard; a busy shard waits `timeout`."""
    started = time.perf_counter()
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
            records = queries.records_by_id(session, models.RECORD_MODELS[kind], ids)
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
