"""Bulk open data: every public record as gzipped CSV and JSON Lines, a Frictionless
datapackage.json, SHA256SUMS, releases.json and the changes since the previous release.

Rows are streamed from the database to the files in (kind, id) order, never held all at once; the
changes come from a merge of the previous release's JSON Lines file with the rows being written.
Files are gzipped with a zero timestamp, so an unchanged dump is byte-identical.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import models, privacy, queries, urls
from publishers import bulk_schema, records, release

NAME = "bulk"
KEEP_CHANGES = 30  # releases whose change files stay downloadable
COMPRESSION = 6


@dataclasses.dataclass(frozen=True)
class BulkOptions:
    """How to build the bulk files."""

    on: dt.date
    base_url: str


@dataclasses.dataclass
class BulkReport:
    """What one build did."""

    records: int = 0
    added: int = 0
    modified: int = 0
    deleted: int = 0


class _Hashing(io.RawIOBase):
    """A binary file that counts and hashes what is written to it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha256.update(view)
        self.bytes += view.nbytes
        self.target.write(view)
        return view.nbytes


@contextlib.contextmanager
def _gzipped(folder: Path, path: str) -> Iterator[tuple[gzip.GzipFile, _Hashing]]:
    """A gzip stream into `folder/path`, deterministic (no name, zero time), hashed as written."""
    target = folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as raw:
        hashing = _Hashing(raw)
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=hashing, mtime=0, compresslevel=COMPRESSION
        ) as stream:
            yield stream, hashing


def _old_lines(previous: Path | None, path: str) -> Iterator[tuple[int, str]]:
    """(id, line) of the previous release's JSON Lines file, in id order."""
    if previous is None or not (previous / path).is_file():
        return
    with gzip.open(previous / path, "rt", encoding="utf-8") as lines:
        for line in lines:
            # every line starts {"id":<n>, — the public shapes' first field
            yield int(line[6 : line.index(",")]), line.rstrip("\n")


@dataclasses.dataclass
class _Changes:
    """Writes the ADD/MOD/DEL lines of one release."""

    stream: gzip.GzipFile | None
    session: Session
    on: dt.date
    report: BulkReport

    def add(self, op: str, kind: models.RecordKind, line: str) -> None:
        if op == "ADD":
            self.report.added += 1
        else:
            self.report.modified += 1
        if self.stream is not None:
            kind_json = json.dumps(kind.value)
            self.stream.write(f'{{"op":"{op}","kind":{kind_json},"record":{line}}}\n'.encode())

    def delete(self, kind: models.RecordKind, record_id: int) -> None:
        """A DEL line: which record, why and since when; never its details."""
        self.report.deleted += 1
        if self.stream is None:
            return
        found = queries.records_by_id(self.session, models.RECORD_MODELS[kind], [record_id])
        tomb = privacy.tombstone(found[0], self.on) if found else None
        line = {
            "op": "DEL",
            "kind": kind.value,
            "id": record_id,
            "reason": tomb.reason if tomb is not None else "not_public",
            "ended_on": (tomb.ended_on if tomb is not None else self.on).isoformat(),
        }
        self.stream.write((json.dumps(line, ensure_ascii=False) + "\n").encode())


def _dump_kind(
    session: Session,
    rel: release.Release,
    kind: models.RecordKind,
    options: BulkOptions,
    changes: _Changes,
) -> tuple[dict[str, tuple[str, int]], int]:
    """Write `kind`'s CSV and JSON Lines files; returns path → (sha256, bytes), and the count."""
    model = models.RECORD_MODELS[kind]
    columns = bulk_schema.columns(kind)
    csv_path, jsonl_path = urls.data_path(kind, "csv.gz"), urls.data_path(kind, "jsonl.gz")
    previous = rel.previous.folder if rel.previous is not None else None
    old = _old_lines(previous, jsonl_path)
    pending = next(old, None)
    count = 0
    with (
        _gzipped(rel.folder, csv_path) as (csv_stream, csv_hash),
        _gzipped(rel.folder, jsonl_path) as (jsonl_stream, jsonl_hash),
    ):
        text = io.TextIOWrapper(csv_stream, encoding="utf-8-sig", newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([column.header for column in columns])
        for record in queries.public_records(session, model, options.on):
            document = privacy.project(record, options.on).model_dump(mode="json")
            writer.writerow([bulk_schema.cell(column, document) for column in columns])
            line = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
            jsonl_stream.write(line.encode() + b"\n")
            count += 1
            record_id = document["id"]
            while pending is not None and pending[0] < record_id:
                changes.delete(kind, pending[0])
                pending = next(old, None)
            if pending is not None and pending[0] == record_id:
                if pending[1] != line:
                    changes.add("MOD", kind, line)
                pending = next(old, None)
            else:
                changes.add("ADD", kind, line)
        while pending is not None:
            changes.delete(kind, pending[0])
            pending = next(old, None)
        text.flush()
        text.detach()
    return {
        csv_path: (csv_hash.sha256.hexdigest(), csv_hash.bytes),
        jsonl_path: (jsonl_hash.sha256.hexdigest(), jsonl_hash.bytes),
    }, count


def builder(engine: sa.Engine, options: BulkOptions, report: BulkReport) -> release.Builder:
    """The bulk data's release builder."""

    def build(rel: release.Release) -> None:
        with Session(engine) as session, Session(engine) as lookups:
            _build(session, lookups, rel, options, report)

    return build


def _build(
    session: Session,
    lookups: Session,
    rel: release.Release,
    options: BulkOptions,
    report: BulkReport,
) -> None:
    previous_state = rel.previous.state(NAME) if rel.previous is not None else None
    history: list[dict[str, Any]] = list((previous_state or {}).get("releases", []))
    changes_path = urls.changes_path(rel.id) if previous_state is not None else None
    files: dict[str, tuple[str, int]] = {}
    counts: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        stream = None
        if changes_path is not None:
            stream, changes_hash = stack.enter_context(_gzipped(rel.folder, changes_path))
        changes = _Changes(stream, lookups, options.on, report)
        for kind in models.RecordKind:
            written, counts[kind.value] = _dump_kind(session, rel, kind, options, changes)
            files.update(written)
            report.records += counts[kind.value]
    if changes_path is not None:
        files[changes_path] = (changes_hash.sha256.hexdigest(), changes_hash.bytes)
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
    package = datapackage(files, options)
    rel.write(urls.DATAPACKAGE, package)
    sums = {path: digest for path, (digest, _size) in files.items()}
    sums[urls.RELEASES] = rel.files[urls.RELEASES]
    sums[urls.DATAPACKAGE] = rel.files[urls.DATAPACKAGE]
    rel.write(
        urls.CHECKSUMS, "".join(f"{sums[p]}  {p.removeprefix(urls.DATA)}\n" for p in sorted(sums))
    )
    rel.state[NAME] = {"releases": history}
    rel.catalogue += _catalogue()


def datapackage(files: dict[str, tuple[str, int]], options: BulkOptions) -> str:
    """The Frictionless Data Package describing every CSV and JSON Lines file."""
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
        digest, size = files[jsonl_path]
        resources.append(
            {
                "name": f"{name}-jsonl",
                "path": jsonl_path.removeprefix(urls.DATA),
                "format": "jsonl",
                "compression": "gz",
                "mediatype": "application/jsonl",
                "encoding": "utf-8",
                "bytes": size,
                "hash": f"sha256:{digest}",
            }
        )
    package = {
        "name": "gongshi-public-credit-information",
        "title": "信用信息双公示 公开数据",
        "description": "正在公示的行政许可、行政处罚和名单条目。已停止公示的信息不在其中。",
        "homepage": urls.absolute(options.base_url, urls.OPEN_DATA),
        "version": options.on.isoformat(),
        "resources": resources,
    }
    return json.dumps(package, ensure_ascii=False, indent=1) + "\n"


def _catalogue() -> list[dict[str, str]]:
    """Links the open-data page shows to the bulk files."""
    items = [
        (urls.DATAPACKAGE, "数据包说明 datapackage.json", "全部文件的字段说明、大小和校验值"),
        (urls.CHECKSUMS, "SHA256SUMS", "全部文件的 SHA-256 校验值"),
        (urls.RELEASES, "发布记录 releases.json", "各次发布的日期、记录数和变更文件"),
    ]
    for kind, name in records.KIND_NAMES.items():
        items.append(
            (urls.data_path(kind, "csv.gz"), f"{name} CSV", "国家双公示模板表头，UTF-8（带 BOM）")
        )
        items.append(
            (urls.data_path(kind, "jsonl.gz"), f"{name} JSON Lines", "每行一条记录，字段同 API")
        )
    return [{"path": p, "title": t, "description": d} for p, t, d in items]
