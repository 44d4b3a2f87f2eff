"""The response cache: between two publications the same question gets the same bytes.

Keys hold the data version (the newest event id) and the as-of day: records also leave the
public by date alone, at midnight, without any event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any


@dataclasses.dataclass(frozen=True)
class Entry:
    """A cached response body, its entity tag, and the cost of the query that made it."""

    body: bytes
    etag: str
    cost: int = 0


def key(
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    on: dt.date,
    version: int,
) -> str:
    """The cache key of a request, which is also its entity tag."""
    text = json.dumps(
        [query, variables, operation_name, on.isoformat(), version],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class ResponseCache:
    """A least-recently-used map of response bodies, bounded in entries and in bytes; shared
    by the threads that run queries."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cache_key: str) -> Entry | None:
        """The entry under `cache_key`, now the most recently used, or None."""
        with self._lock:
            entry = self.entries.get(cache_key)
            if entry is not None:
                self.entries.move_to_end(cache_key)
            return entry

    def put(self, cache_key: str, body: bytes, cost: int = 0) -> Entry:
        """Keep `body` under `cache_key` (unless it alone is over an eighth of the budget)."""
        entry = Entry(body, f'"{cache_key}"', cost)
        if len(body) * 8 > self.max_bytes or self.max_entries <= 0:
            return entry
        with self._lock:
            self._keep(cache_key, entry)
        return entry

    def _keep(self, cache_key: str, entry: Entry) -> None:
        previous = self.entries.pop(cache_key, None)
        if previous is not None:
            self.size -= len(previous.body)
        self.entries[cache_key] = entry
        self.size += len(entry.body)
        while len(self.entries) > self.max_entries or self.size > self.max_bytes:
            _, dropped = self.entries.popitem(last=False)
            self.size -= len(dropped.body)
