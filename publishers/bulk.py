"""Bulk open data: every public record as gzipped CSV and JSON Lines, a Frictionless
datapackage.json, SHA256SUMS, releases.json and the changes since the previous release.

The records are written in fixed id ranges (`bulk_chunk`), over a process pool when there are
workers, each range streamed from the database as gzip members that are then concatenated in
(kind, id) order and hashed as they are: bounded memory, and the same bytes for the same data
whatever the number of workers. The changes come from a merge of each range with the same range
of the previous release's JSON Lines file, found by the member offsets its manifest keeps.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import dataclasses
import datetime as dt
import gzip
import hashlib
import io
import json
import multiprocessing
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import models, urls
from disclosure.queries import plain_rows
from publishers import bulk_chunk, bulk_schema, release

NAME = "bulk"
KEEP_CHANGES = 30  # releases whose change files stay downloadable
PARTS = ".bulk-parts"  # the chunks' members until they are concatenated; never published
COPY_BLOCK = 1 << 20
# Fewer chunks are written here: a worker takes about a second to start, which a pool does not
# win back on a 100,000-record database (5 chunks: 7.0 s with two workers, 3.7 s without).
MIN_POOLED_CHUNKS = 8
PLAIN_CSV_LIMIT = 50 * 2**20  # a kind's CSV is offered uncompressed too while under this size


@dataclasses.dataclass(frozen=True)
class BulkOptions:
    """How to build the bulk files."""

    on: dt.date
    links: urls.Urls  # the site's addresses, at its base URL
    database_url: str | None = None  # lets worker processes connect; None: all in this process
    workers: int = 1
    chunk_ids: int = bulk_chunk.CHUNK_IDS  # ids per chunk (the files do not depend on it)


@dataclasses.dataclass
class BulkReport:
    """What one build did."""

    records: int = 0
    added: int = 0
    modified: int = 0
    deleted: int = 0


class _File:
    """A file of the release written from gzip members, counted and hashed as written."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self.bytes += len(data)
        self.target.write(data)

    def append(self, member: Path | None) -> None:
        """Copy a chunk's member file to the end, and delete it."""
        if member is None:
            return
        with open(member, "rb") as source:
            while block := source.read(COPY_BLOCK):
                self.write(block)
        member.unlink()

    @property
    def summary(self) -> tuple[str, int]:
        return self.sha256.hexdigest(), self.bytes


@contextlib.contextmanager
def _file(folder: Path, path: str) -> Iterator[_File]:
    target = folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as raw:
        yield _File(raw)


def _member(data: bytes) -> bytes:
    """`data` as one gzip member of its own."""
    deflate = bulk_chunk.compressor()
    return bytes(deflate.compress(data) + deflate.flush())


def _header(kind: models.RecordKind) -> bytes:
    """The CSV file's first member: the BOM (so Excel reads UTF-8) and the header row."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerow(
        [column.header for column in bulk_schema.columns(kind)]
    )
    return _member(("\ufeff" + text.getvalue()).encode())


# Where each chunk's JSON Lines are in a file: [chunk number, offset, length] of its members.
Members = dict[str, list[list[int]]]


def _chunks(session: Session, previous: Members | None, size: int) -> list[bulk_chunk.Chunk]:
    """Every chunk that holds a record now or held one in the previous release, in file order."""
    chunks = []
    for kind, model in models.RECORD_MODELS.items():
        numbers = {number for number, _offset, _size in (previous or {}).get(_jsonl(kind), [])}
        span = plain_rows.record_id_span(session, model)
        if span is not None:
            low, high = (bulk_chunk.chunk_number(i, size) for i in span)
            numbers.update(range(low, high + 1))
        chunks += [bulk_chunk.Chunk(kind, number, size) for number in sorted(numbers)]
    return chunks


def _plain_csv(folder: Path, gzipped: str, path: str) -> tuple[str, int] | None:
    """`gzipped` uncompressed at `path` when it is under PLAIN_CSV_LIMIT (digest and size);
    None, and no file, when it is not."""
    with gzip.open(folder / gzipped, "rb") as source, _file(folder, path) as target:
        while block := source.read(COPY_BLOCK):
            target.write(block)
            if target.bytes >= PLAIN_CSV_LIMIT:
                break
    if target.bytes >= PLAIN_CSV_LIMIT:
        (folder / path).unlink()
        return None
    return target.summary


def _jsonl(kind: models.RecordKind) -> str:
    return urls.data_path(kind, "jsonl.gz")


def _old(
    rel: release.Release, chunk: bulk_chunk.Chunk, previous: Members | None
) -> bulk_chunk.Old | None:
    """Where the previous release's JSON Lines of `chunk` are."""
    if rel.previous is None:
        return None
    path = rel.previous.folder / _jsonl(chunk.kind)
    if previous is None:  # a release that kept no offsets: read its file up to the chunk
        return bulk_chunk.Old(path)
    for number, offset, size in previous.get(_jsonl(chunk.kind), []):
        if number == chunk.number:
            return bulk_chunk.Old(path, offset, size)
    return None


def _written(
    session: Session,
    chunks: list[bulk_chunk.Chunk],
    olds: list[bulk_chunk.Old | None],
    target: bulk_chunk.Target,
    options: BulkOptions,
) -> Iterator[bulk_chunk.Written]:
    """What each chunk wrote, in order: over a process pool when there are workers."""
    if options.workers <= 1 or options.database_url is None or len(chunks) < MIN_POOLED_CHUNKS:
        for chunk, old in zip(chunks, olds, strict=True):
            yield bulk_chunk.write_chunk(session, chunk, target, old)
        return
    url = options.database_url
    with concurrent.futures.ProcessPoolExecutor(
        min(options.workers, len(chunks)), mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        futures = [
            pool.submit(bulk_chunk.run_chunk, url, chunk, target, old)
            for chunk, old in zip(chunks, olds, strict=True)
        ]
        try:
            for future in futures:
                yield future.result()
        finally:
            pool.shutdown(cancel_futures=True)


def builder(engine: sa.Engine, options: BulkOptions, report: BulkReport) -> release.Builder:
    """The bulk data's release builder."""

    def build(rel: release.Release) -> None:
        with Session(engine) as session:
            _build(session, rel, options, report)

    return build


def _build(
    session: Session, rel: release.Release, options: BulkOptions, report: BulkReport
) -> None:
    previous_state = rel.previous.state(NAME) if rel.previous is not None else None
    history: list[dict[str, Any]] = list((previous_state or {}).get("releases", []))
    changes_path = urls.changes_path(rel.id) if previous_state is not None else None
    previous_members: Members | None = None
    if previous_state is not None and previous_state.get("chunk_ids") == options.chunk_ids:
        previous_members = previous_state.get("members")
    chunks = _chunks(session, previous_members, options.chunk_ids)
    olds = [_old(rel, chunk, previous_members) for chunk in chunks]
    target = bulk_chunk.Target(options.on, rel.folder / PARTS, changes_path is not None)
    target.parts.mkdir()
    files: dict[str, tuple[str, int]] = {}
    counts: dict[str, int] = {}
    members: Members = {}
    written = _written(session, chunks, olds, target, options)
    with contextlib.ExitStack() as stack:
        changes = stack.enter_context(_file(rel.folder, changes_path or f"{PARTS}/changes"))
        for kind in models.RecordKind:
            csv_path, jsonl_path = urls.data_path(kind, "csv.gz"), _jsonl(kind)
            counts[kind.value] = 0
            members[jsonl_path] = []
            with _file(rel.folder, csv_path) as csv_file, _file(rel.folder, jsonl_path) as jsonl:
                csv_file.write(_header(kind))
                for chunk in chunks:
                    if chunk.kind is not kind:
                        continue
                    done = next(written)
                    csv_file.append(done.csv)
                    offset = jsonl.bytes
                    jsonl.append(done.jsonl)
                    if jsonl.bytes > offset:
                        members[jsonl_path].append([chunk.number, offset, jsonl.bytes - offset])
                    changes.append(done.changes)
                    counts[kind.value] += done.records
                    report.added += done.added
                    report.modified += done.modified
                    report.deleted += done.deleted
                if jsonl.bytes == 0:
                    jsonl.write(_member(b""))
            files[csv_path], files[jsonl_path] = csv_file.summary, jsonl.summary
            plain = _plain_csv(rel.folder, csv_path, urls.data_path(kind, "csv"))
            if plain is not None:
                files[urls.data_path(kind, "csv")] = plain
            report.records += counts[kind.value]
        if changes.bytes == 0:
            changes.write(_member(b""))
        changes_summary = changes.summary
    shutil.rmtree(target.parts)
    if changes_path is not None:
        files[changes_path] = changes_summary
    for path, (digest, _size) in files.items():
        rel.settle(path, digest)
    history.append(
        {
            "id": rel.id,
            "as_of": options.on.isoformat(),
            "records": counts,
            "changes": changes_path,
            "added": report.added,
            "modified": report.modified,
            "deleted": report.deleted,
        }
    )
    history = history[-KEEP_CHANGES:]
    for entry in history[:-1]:
        carried = entry["changes"]
        if carried is not None and rel.previous is not None and carried in rel.previous.files:
            rel.keep(carried)
            files[carried] = (rel.files[carried], (rel.folder / carried).stat().st_size)
    releases_json = json.dumps({"releases": history[::-1]}, ensure_ascii=False, indent=1)
    rel.write(urls.RELEASES, releases_json + "\n")
    package = datapackage(files, options, counts)
    rel.write(urls.DATAPACKAGE, package)
    sums = {path: digest for path, (digest, _size) in files.items()}
    sums[urls.RELEASES] = rel.files[urls.RELEASES]
    sums[urls.DATAPACKAGE] = rel.files[urls.DATAPACKAGE]
    rel.write(
        urls.CHECKSUMS, "".join(f"{sums[p]}  {p.removeprefix(urls.DATA)}\n" for p in sorted(sums))
    )
    rel.state[NAME] = {
        "releases": history,
        "chunk_ids": options.chunk_ids,
        "members": members,
    }
    rel.catalogue += _catalogue(files)


# The licence the open data is offered under: reuse with attribution (署名).
DATA_LICENSE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Creative Commons Attribution 4.0 International（署名 4.0 国际）",
}


def datapackage(
    files: dict[str, tuple[str, int]], options: BulkOptions, counts: dict[str, int]
) -> str:
    """The Frictionless Data Package describing every CSV and JSON Lines file, each with its
    Table Schema (`counts`: records per kind)."""
    resources = []
    for kind in models.RecordKind:
        name = urls.KIND_FOLDERS[kind]
        csv_path, jsonl_path = urls.data_path(kind, "csv.gz"), urls.data_path(kind, "jsonl.gz")
        digest, size = files[csv_path]
        resources.append(
            {
                "name": name,
                "path": csv_path.removeprefix(urls.DATA),
                "format": "csv",
                "compression": "gz",
                "mediatype": "text/csv",
                "encoding": "utf-8-sig",
                "bytes": size,
                "hash": f"sha256:{digest}",
                "schema": bulk_schema.table_schema(kind),
            }
        )
        plain = urls.data_path(kind, "csv")
        if plain in files:
            digest, size = files[plain]
            resources.append(
                {
                    **resources[-1],
                    "name": f"{name}-csv",
                    "path": plain.removeprefix(urls.DATA),
                    "bytes": size,
                    "hash": f"sha256:{digest}",
                }
            )
            del resources[-1]["compression"]
        digest, size = files[jsonl_path]
        resources.append(
            {
                "name": f"{name}-jsonl",
                # frictionless (5.21) cannot read a table from an empty JSON Lines file
                # ("generator raised StopIteration"): an empty one is described as a file, still
                # with its schema, so its bytes and hash are checked and a reader knows its shape
                **({} if counts[kind.value] else {"type": "file"}),
                "path": jsonl_path.removeprefix(urls.DATA),
                "format": "jsonl",
                "compression": "gz",
                "mediatype": "application/jsonl",
                "encoding": "utf-8",
                "bytes": size,
                "hash": f"sha256:{digest}",
                "schema": bulk_schema.jsonl_schema(kind),
            }
        )
    package = {
        "name": "gongshi-public-credit-information",
        "title": "信用信息双公示 公开数据",
        "description": "正在公示的行政许可、行政处罚和名单条目。已停止公示的信息不在其中。",
        "homepage": options.links(urls.OPEN_DATA),
        "version": options.on.isoformat(),
        "licenses": [DATA_LICENSE],
        "resources": resources,
    }
    return json.dumps(package, ensure_ascii=False, indent=1) + "\n"


def _catalogue(files: dict[str, tuple[str, int]]) -> list[dict[str, str]]:
    """Links the open-data page shows to the bulk files (`files`: those written)."""
    items = [
        (urls.DATAPACKAGE, "数据包说明 datapackage.json", "全部文件的字段说明、大小和校验值"),
        (urls.CHECKSUMS, "SHA256SUMS", "全部文件的 SHA-256 校验值"),
        (urls.RELEASES, "发布记录 releases.json", "各次发布的日期、记录数和变更文件"),
    ]
    for kind in models.RecordKind:
        name = kind.zh
        items.append(
            (
                urls.data_path(kind, "csv.gz"),
                f"{name} CSV（gzip 压缩）",
                "国家双公示模板表头，UTF-8（带 BOM）",
            )
        )
        if urls.data_path(kind, "csv") in files:
            size = files[urls.data_path(kind, "csv")][1]
            items.append(
                (
                    urls.data_path(kind, "csv"),
                    f"{name} CSV（未压缩）",
                    f"同上，未压缩（{size / 2**20:.1f} MB），Excel 可直接打开",
                )
            )
        items.append(
            (urls.data_path(kind, "jsonl.gz"), f"{name} JSON Lines", "每行一条记录，字段同 API")
        )
    return [{"path": p, "title": t, "description": d} for p, t, d in items]
