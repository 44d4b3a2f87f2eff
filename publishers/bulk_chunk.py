"""One id range of one record kind in the bulk files, written in a worker process or here.

A chunk covers a fixed range of ids (CHUNK_IDS of them), so the same data always makes the same
chunks whatever the number of workers. It loads its public records as plain rows with their
subjects, projects each through `privacy` (departments and lists projected once per chunk), and
serializes the projection's fields directly into three gzip members: its
CSV rows, its JSON Lines, and its change lines against the same range of the previous release's
JSON Lines file. `bulk` concatenates the members in order: a gzip file of several members is one
valid gzip stream, and the files are byte-identical however the work was shared out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
import json
from pathlib import Path
from typing import IO, Any, cast

import sqlalchemy as sa
from isal import isal_zlib
from sqlmodel import Session, select

from disclosure import db, models, privacy, tombstones
from disclosure.queries import plain_rows
from publishers import bulk_schema, release

CHUNK_IDS = 25_000  # ids per chunk: a few MB of output, work for a pool of any size
# ISA-L at its level 2 compresses 5 times as fast as zlib at its default level 6 (0.9 GB/s
# against 0.17 GB/s with zlib-ng, 0.09 GB/s with zlib), for files 30 % larger (88 MB against
# 68 MB for the 660,000 public records of a 1,000,000-record database): otherwise the largest
# single cost of the export.
LEVEL = 2
FLUSH_RECORDS = 500  # records per compress call
READ_BLOCK = 1 << 16


def compressor() -> Any:
    """A compressor writing one gzip member without a name or a time: same bytes, same member."""
    return isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, 31)


@dataclasses.dataclass(frozen=True)
class Chunk:
    """The records of `kind` with ids from `number` * `size` + 1 up to the next chunk's."""

    kind: models.RecordKind
    number: int
    size: int = CHUNK_IDS

    @property
    def id_from(self) -> int:
        return self.number * self.size + 1

    @property
    def id_to(self) -> int:
        return (self.number + 1) * self.size

    def name(self, suffix: str) -> str:
        return f"{self.kind.value}-{self.number}.{suffix}"


def chunk_number(record_id: int, size: int) -> int:
    return (record_id - 1) // size


@dataclasses.dataclass(frozen=True)
class Old:
    """Where the previous release's JSON Lines of a chunk are: `length` bytes of `path` from
    `offset` (its own members), or with `length` None the whole file, read up to the chunk."""

    path: Path
    offset: int = 0
    length: int | None = None


@dataclasses.dataclass(frozen=True)
class Target:
    """Where and as of when chunks are written."""

    on: dt.date
    parts: Path  # folder for the members, removed once they are concatenated
    changes: bool  # whether to write change lines (the previous release has bulk files)


@dataclasses.dataclass(frozen=True)
class Written:
    """What a chunk wrote: its member files (None: nothing to say), and what it counted."""

    csv: Path | None
    jsonl: Path | None
    changes: Path | None
    records: int = 0
    added: int = 0
    modified: int = 0
    deleted: int = 0


class _Member:
    """One gzip member written to `path` as data comes; no file at all if none comes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending: list[bytes] = []
        self.file: io.BufferedWriter | None = None
        self.deflate: Any = None

    def add(self, data: bytes) -> None:
        self.pending.append(data)

    def flush(self) -> None:
        if not self.pending:
            return
        if self.file is None:
            self.file = open(self.path, "wb")  # noqa: SIM115 (closed in close())
            self.deflate = compressor()
        self.file.write(self.deflate.compress(b"".join(self.pending)))
        self.pending.clear()

    def close(self) -> Path | None:
        self.flush()
        if self.file is None:
            return None
        self.file.write(self.deflate.flush())
        self.file.close()
        return self.path


class _Previous:
    """The previous release's JSON Lines in a chunk's range, read as the merge needs them: most
    lines are found unchanged where they were, by comparing the new line with the text in
    place, without cutting the text into lines or reading their ids."""

    def __init__(self, old: Old, chunk: Chunk) -> None:
        self.low, self.high = chunk.id_from, chunk.id_to
        self.file: IO[bytes] | None = open(old.path, "rb")  # noqa: SIM115 (closed in close())
        self.file.seek(old.offset)
        self.remaining = old.length
        self.inflate = isal_zlib.decompressobj(31)
        self.text = b""
        self.at = 0  # where the current line starts in `text`

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def _more(self) -> bool:
        """Add what the file holds next to `text`; False at its end."""
        while self.file is not None and (self.remaining is None or self.remaining > 0):
            size = READ_BLOCK if self.remaining is None else min(READ_BLOCK, self.remaining)
            data = self.file.read(size)
            if not data:
                break
            if self.remaining is not None:
                self.remaining -= len(data)
            found = [self.inflate.decompress(data)]
            while self.inflate.eof:  # the next member starts in what is left
                data, self.inflate = self.inflate.unused_data, isal_zlib.decompressobj(31)
                found.append(self.inflate.decompress(data))
            self.text = self.text[self.at :] + b"".join(found)
            self.at = 0
            return True
        self.close()
        return False

    def _end(self) -> int:
        """Where the current line ends (its newline); -1 when there is none."""
        end = self.text.find(b"\n", self.at)
        while end < 0 and self._more():
            end = self.text.find(b"\n", self.at)
        return end

    def current(self) -> int | None:
        """The id of the current line, past those below the range; None past the range's end."""
        while (end := self._end()) >= 0:
            # every line starts {"id":<n>, — the public shapes' first field
            record_id = int(self.text[self.at + 6 : self.text.index(b",", self.at, end)])
            if record_id > self.high:
                break
            if record_id >= self.low:
                return record_id
            self.at = end + 1
        self.close()
        return None

    def skip(self) -> None:
        """Move past the current line."""
        self.at = self._end() + 1

    def unchanged(self, line: bytes) -> bool:
        """Whether the current line is `line`: then move past it."""
        end = self.at + len(line)
        while len(self.text) <= end and self._more():
            end = self.at + len(line)
        if self.text.startswith(line, self.at) and self.text[end : end + 1] == b"\n":
            self.at = end + 1
            return True
        return False


def _lookups(
    session: Session,
) -> tuple[dict[int | None, privacy.Fields], dict[int | None, privacy.Fields]]:
    """Departments and named lists, projected once: every record names one or two of the few
    there are (subjects, nearly one per record in an id range, come with the records)."""
    units = {u.id: privacy.department_fields(u) for u in session.exec(select(models.Department))}
    lists = {n.id: privacy.list_fields(n) for n in session.exec(select(models.List))}
    return units, lists


def write_chunk(session: Session, chunk: Chunk, target: Target, old: Old | None) -> Written:
    """Write `chunk`'s members into `target.parts`."""
    # a chunk's rows, fields and lines go as soon as they are written
    with release.without_cycle_collection():
        return _write_chunk(session, chunk, target, old)


def _write_chunk(session: Session, chunk: Chunk, target: Target, old: Old | None) -> Written:
    previous = _Previous(old, chunk) if old is not None and old.path.is_file() else None
    try:
        return _merged(session, chunk, target, previous)
    finally:
        if previous is not None:
            previous.close()


def _merged(session: Session, chunk: Chunk, target: Target, previous: _Previous | None) -> Written:
    """Write `chunk`'s members, with the change lines against `previous` if there is one."""
    on, kind = target.on, chunk.kind
    model = models.RECORD_MODELS[kind]
    units, lists = _lookups(session)
    project = privacy.FIELDS[kind]
    json_line = bulk_schema.json_line
    csv_line = bulk_schema.csv_line_function(kind)
    csv_member = _Member(target.parts / chunk.name("csv.gz"))
    jsonl_member = _Member(target.parts / chunk.name("jsonl.gz"))
    changes = _Changes(session, chunk, target)
    rows: list[str] = []
    lines: list[bytes] = []
    count = 0
    entries = kind is models.RecordKind.LIST_ENTRY
    subject = privacy.subject_fields
    for row, subject_row in plain_rows.public_rows(session, model, on, chunk.id_from, chunk.id_to):
        parts = privacy.Parties(
            subject(subject_row),
            units[row.authority_id],
            units[row.source_unit_id],
            lists[row.list_id] if entries else None,
        )
        fields = project(row, on, parts)
        rows.append(csv_line(fields))
        line = json_line(fields)
        lines.append(line)
        count += 1
        if previous is None:
            changes.add(b"ADD", line)
        elif not previous.unchanged(line):
            record_id = row.id
            while (old_id := previous.current()) is not None and old_id < record_id:
                changes.delete(old_id)
                previous.skip()
            if old_id != record_id:
                changes.add(b"ADD", line)
            elif not previous.unchanged(line):  # past the deleted lines, it may be unchanged
                changes.add(b"MOD", line)
                previous.skip()
        if len(lines) >= FLUSH_RECORDS:
            _flush(rows, lines, csv_member, jsonl_member, changes)
    while previous is not None and (old_id := previous.current()) is not None:
        changes.delete(old_id)
        previous.skip()
    _flush(rows, lines, csv_member, jsonl_member, changes)
    return Written(
        csv_member.close(),
        jsonl_member.close(),
        changes.member.close(),
        count,
        changes.added,
        changes.modified,
        changes.deleted,
    )


def _flush(
    rows: list[str],
    lines: list[bytes],
    csv_member: _Member,
    jsonl_member: _Member,
    changes: _Changes,
) -> None:
    if lines:
        lines.append(b"")
        jsonl_member.add(b"\n".join(lines))
        lines.clear()
    csv_member.add("".join(rows).encode())
    rows.clear()
    for member in (csv_member, jsonl_member, changes.member):
        member.flush()


class _Changes:
    """The ADD/MOD/DEL lines of one chunk."""

    def __init__(self, session: Session, chunk: Chunk, target: Target) -> None:
        self.session, self.chunk, self.target = session, chunk, target
        self.member = _Member(target.parts / chunk.name("changes.gz"))
        self.kind = json.dumps(chunk.kind.value).encode()
        self.ended: dict[int, tombstones.Tombstone] | None = None
        self.added = self.modified = self.deleted = 0

    def add(self, op: bytes, line: bytes) -> None:
        if op == b"ADD":
            self.added += 1
        else:
            self.modified += 1
        if self.target.changes:
            self.member.add(b'{"op":"%s","kind":%s,"record":%s}\n' % (op, self.kind, line))

    def delete(self, record_id: int) -> None:
        """A DEL line: which record, why and since when; never its details."""
        self.deleted += 1
        if not self.target.changes:
            return
        tomb = self._tombstones().get(record_id)
        line = {
            "op": "DEL",
            "kind": self.chunk.kind.value,
            "id": record_id,
            "reason": tomb.reason if tomb is not None else "not_public",
            "ended_on": (tomb.ended_on if tomb is not None else self.target.on).isoformat(),
        }
        self.member.add((json.dumps(line, ensure_ascii=False) + "\n").encode())

    def _tombstones(self) -> dict[int, tombstones.Tombstone]:
        """The tombstones of the chunk's ended records, loaded at its first DEL line."""
        if self.ended is None:
            self.ended = {}
            model = models.RECORD_MODELS[self.chunk.kind]
            on, chunk = self.target.on, self.chunk
            for row in plain_rows.ended_rows(self.session, model, on, chunk.id_from, chunk.id_to):
                tomb = tombstones.tombstone(cast(models.Record, row), on)
                if tomb is not None:
                    self.ended[tomb.id] = tomb
        return self.ended


# A worker reads each page of its id range once, and its subjects' pages at random: a large
# SQLite page cache would only add to the memory of every worker.
WORKER_PAGE_CACHE_MIB = 4


@functools.cache
def _engine(url: str) -> sa.Engine:
    return db.create_engine(url, page_cache_mib=WORKER_PAGE_CACHE_MIB)


def run_chunk(url: str, chunk: Chunk, target: Target, old: Old | None) -> Written:
    """`write_chunk` in a worker process, on its own connection to the database at `url`."""
    with Session(_engine(url)) as session:
        return write_chunk(session, chunk, target, old)
