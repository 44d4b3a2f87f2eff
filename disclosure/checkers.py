"""Rows checked on every core: worker processes run `upsert.check_rows` on chunks of a file's
rows while the caller, the one writer, takes the results back in file order.

Only the rows' text goes out and only plain tuples come back (a checked row's fields as values in
a fixed key order, not dataclasses of dicts), so a chunk crosses between processes cheaply. At most
a few chunks per worker are in flight: memory stays flat however long the file is.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import Any

from disclosure import models, upsert, validation

CHUNK = 2_000  # rows per task: large enough that shipping costs little beside checking
_IN_FLIGHT = 2  # chunks queued per worker, so none waits for the reader

# What a worker was given once, at its start, for every chunk it checks.
_setup: tuple[models.RecordKind, Sequence[str | None], validation.Lookups] | None = None


def check_rows(
    kind: models.RecordKind,
    keys: Sequence[str | None],
    rows: Iterable[tuple[int, list[str]]],
    lookups: validation.Lookups,
    *,
    workers: int,
) -> Iterator[upsert.Checked]:
    """`upsert.check_rows` of `rows`, spread over `workers` processes (in this one for 1),
    yielded in the order of `rows`."""
    if workers <= 1:
        yield from upsert.check_rows(kind, keys, rows, lookups)
        return
    # forkserver: a fresh process to fork from, not this one (its threads, its open database)
    context = multiprocessing.get_context("forkserver")
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start, initargs=(kind, keys, lookups)
    )
    pending: deque[tuple[list[tuple[int, list[str]]], Future[bytes]]] = deque()
    source = iter(rows)
    try:
        while True:
            while len(pending) < workers * _IN_FLIGHT:
                chunk = list(islice(source, CHUNK))
                if not chunk:
                    break
                pending.append((chunk, pool.submit(_check, chunk)))
            if not pending:
                break
            chunk, checked = pending.popleft()
            yield from _unpack(chunk, checked.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start(
    kind: models.RecordKind, keys: Sequence[str | None], lookups: validation.Lookups
) -> None:
    global _setup
    _setup = (kind, keys, lookups)


def _check(chunk: list[tuple[int, list[str]]]) -> bytes:
    assert _setup is not None, "a worker checks only after _start"
    kind, keys, lookups = _setup
    packed = [
        _pack(valid) for _number, _cells, valid in upsert.check_rows(kind, keys, chunk, lookups)
    ]
    return pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL)


# A checked row as plain values (the subject's and the record's keys travel once per chunk, as
# shared tuples in pickle's memo); the rows' cells stay with the caller, who read them.
_Packed = tuple[Any, ...] | validation.Reason


def _pack(valid: validation.Valid | validation.Reason) -> _Packed:
    if isinstance(valid, validation.Reason):
        return valid
    source = valid.source_unit
    return (
        valid.row,
        _keys(valid.subject),
        tuple(valid.subject.values()),
        valid.authority.credit_code,
        valid.authority.name,
        None if source is None else (source.credit_code, source.name),
        _keys(valid.record),
        tuple(valid.record.values()),
    )


_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _keys(fields: dict[str, Any]) -> tuple[str, ...]:
    """The one tuple object for a set of keys, so that pickle sends it once per chunk."""
    keys = tuple(fields)
    return _KEYS.setdefault(keys, keys)


def _unpack(chunk: list[tuple[int, list[str]]], data: bytes) -> Iterator[upsert.Checked]:
    """The rows of `chunk` with what a worker made of them (its bytes, from `_check`)."""
    packed_rows = pickle.loads(data)  # our own workers wrote these bytes
    for (number, cells), packed in zip(chunk, packed_rows, strict=True):
        if isinstance(packed, validation.Reason):
            yield number, cells, packed
            continue
        row, subject_keys, subject, authority_code, authority_name, source, record_keys, record = (
            packed
        )
        yield (
            number,
            cells,
            validation.Valid(
                row,
                dict(zip(subject_keys, subject, strict=True)),
                validation.Party(authority_code, authority_name),
                None if source is None else validation.Party(*source),
                dict(zip(record_keys, record, strict=True)),
            ),
        )
