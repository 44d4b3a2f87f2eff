"""The clients' rate-limit buckets in a node's shared memory (api.node_memory), so that a
client's budget is one whichever worker process serves it.

A fixed table of entries (a digest of the client, its level, when it was touched), found by a
short probe from the digest's slot. A bucket that has leaked empty is the same as none, so its
entry is free again; when every entry of a probe is live, the least recently touched is
forgotten, as the single-process store forgets its least recent client past its limit.
"""

from __future__ import annotations

import hashlib
import struct
from contextlib import AbstractContextManager

from api import node_memory

_ENTRY = struct.Struct("=16sdd")  # digest of the client, level, touched (monotonic seconds)
_EMPTY = bytes(16)
PROBE = 8  # entries looked at for one client


def table_bytes(clients: int) -> int:
    """The bytes of a table for about `clients` live clients (a power of two entries, with
    room: a probe finds a free entry while the table is at most half full)."""
    entries = 1024
    while entries < 2 * clients:
        entries *= 2
    return entries * _ENTRY.size


class SharedStore:
    """The buckets in a node's shared memory (ratelimit.Store)."""

    def __init__(self, memory: node_memory.NodeMemory, idle: float) -> None:
        self.memory = memory
        self.idle = idle  # seconds after which any bucket has leaked empty
        self.entries = (memory.size - memory.bucket_offset) // _ENTRY.size
        if self.entries < PROBE or self.entries & (self.entries - 1):
            raise ValueError(f"a bucket table needs a power of two entries, not {self.entries}")

    def __len__(self) -> int:
        """Entries in use (some may have leaked empty since)."""
        with self.held():
            return sum(self._read(index)[0] != _EMPTY for index in range(self.entries))

    def held(self) -> AbstractContextManager[object]:
        return self.memory.buckets_lock.held()

    def get(self, client: str, now: float) -> tuple[float, float] | None:
        index, found = self._find(_digest(client), now)
        if not found:
            return None
        _, level, touched = self._read(index)
        return level, touched

    def put(self, client: str, level: float, now: float) -> None:
        digest = _digest(client)
        index, _ = self._find(digest, now)
        _ENTRY.pack_into(self.memory.map, self._offset(index), digest, level, now)

    def _find(self, digest: bytes, now: float) -> tuple[int, bool]:
        """The client's live entry (True), else the entry to put it in (False): a free one, or
        the least recently touched of the probe."""
        mask = self.entries - 1
        start = int.from_bytes(digest[:8], "little") & mask
        free: int | None = None
        oldest, oldest_touched = start, float("inf")
        for step in range(PROBE):
            index = (start + step) & mask
            key, _, touched = self._read(index)
            live = key != _EMPTY and now - touched < self.idle
            if key == digest:
                if live:
                    return index, True
                return index, False
            if not live and free is None:
                free = index
            elif live and touched < oldest_touched:
                oldest, oldest_touched = index, touched
        return (free if free is not None else oldest), False

    def _read(self, index: int) -> tuple[bytes, float, float]:
        key, level, touched = _ENTRY.unpack_from(self.memory.map, self._offset(index))
        return bytes(key), float(level), float(touched)

    def _offset(self, index: int) -> int:
        return self.memory.bucket_offset + index * _ENTRY.size


def _digest(client: str) -> bytes:
    return hashlib.blake2b(client.encode(), digest_size=16).digest()
