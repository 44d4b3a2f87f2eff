"""The memory the worker processes of one node share: the search index's generation, each
worker's requests in flight, and the clients' rate-limit buckets (api.bucket_store).

One small file in /dev/shm, mapped by every process: the supervisor makes it before it forks
its workers, which inherit the mapping, and unlinks it at once, so nothing is left behind
whatever kills the node. Writers take an fcntl lock on a byte of the file: the kernel releases
it when its holder dies, so a worker killed mid-update cannot stop the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import struct
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

MAX_WORKERS = 32  # --workers at most; a graceful restart runs two generations at once
SLOTS = 2 * MAX_WORKERS
HEADER = 64
_GENERATION = struct.Struct("=q")  # at offset 8
_SLOT = struct.Struct("=qqq")  # pid, state, requests in flight
FREE, STARTING, SERVING = 0, 1, 2
# bytes of the file locked as independent locks: the in-flight counts, the bucket table
_IN_FLIGHT_LOCK, BUCKETS_LOCK = 0, 1
SHM = Path("/dev/shm")


class Lock:
    """An exclusive lock on one byte of the shared file, for the processes (fcntl) and for the
    threads of each (fcntl locks belong to a process, not a thread)."""

    def __init__(self, fd: int, byte: int) -> None:
        self.fd = fd
        self.byte = byte
        self._threads = threading.Lock()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            fcntl.lockf(self.fd, fcntl.LOCK_EX, 1, self.byte)
            try:
                yield
            finally:
                fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, self.byte)


class NodeMemory:
    """The shared file of one node, mapped; `bucket_bytes` of it hold the bucket table."""

    def __init__(self, bucket_bytes: int) -> None:
        folder = SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else None
        fd, name = tempfile.mkstemp(prefix="gongshi-node-", dir=folder)
        os.unlink(name)  # the mapping and the descriptor keep it: nothing to clean up later
        self.bucket_offset = HEADER + SLOTS * _SLOT.size
        self.size = self.bucket_offset + bucket_bytes
        os.ftruncate(fd, self.size)  # zeros, allocated as pages are touched
        self.fd = fd
        self.map = mmap.mmap(fd, self.size, mmap.MAP_SHARED)
        self.buckets_lock = Lock(fd, BUCKETS_LOCK)
        self._in_flight_lock = Lock(fd, _IN_FLIGHT_LOCK)

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)

    def generation(self) -> int:
        """How many times the index follower has updated the index (workers reopen on a change)."""
        return int(_GENERATION.unpack_from(self.map, 8)[0])

    def advance_generation(self) -> None:
        """Tell the workers that the index changed (only the follower writes it)."""
        _GENERATION.pack_into(self.map, 8, self.generation() + 1)

    def slot(self, index: int) -> tuple[int, int, int]:
        """The pid, state and requests in flight of worker slot `index`."""
        pid, state, in_flight = _SLOT.unpack_from(self.map, self._slot_offset(index))
        return int(pid), int(state), int(in_flight)

    def claim(self, pid: int) -> int:
        """A free slot, now `pid`'s (starting); ValueError when every slot is taken."""
        with self._in_flight_lock.held():
            for index in range(SLOTS):
                if self.slot(index)[1] == FREE:
                    _SLOT.pack_into(self.map, self._slot_offset(index), pid, STARTING, 0)
                    return index
        raise ValueError(f"more than {SLOTS} worker processes at once")

    def set_pid(self, index: int, pid: int) -> None:
        """Name the process of a claimed slot (the supervisor claims it before forking)."""
        with self._in_flight_lock.held():
            _, state, in_flight = self.slot(index)
            _SLOT.pack_into(self.map, self._slot_offset(index), pid, state, in_flight)

    def serving(self, index: int) -> None:
        """Mark the worker of slot `index` as accepting requests."""
        with self._in_flight_lock.held():
            pid, _, in_flight = self.slot(index)
            _SLOT.pack_into(self.map, self._slot_offset(index), pid, SERVING, in_flight)

    def release(self, index: int) -> None:
        """Free the slot of a worker that has ended, with the requests it never finished."""
        with self._in_flight_lock.held():
            _SLOT.pack_into(self.map, self._slot_offset(index), 0, FREE, 0)

    def enter(self, index: int, limit: int) -> bool:
        """Count one more request in flight for slot `index`'s worker, unless the node (every
        worker) already has `limit` in flight."""
        with self._in_flight_lock.held():
            if self.in_flight() >= limit:
                return False
            pid, state, in_flight = self.slot(index)
            _SLOT.pack_into(self.map, self._slot_offset(index), pid, state, in_flight + 1)
            return True

    def leave(self, index: int) -> None:
        """Count one request of slot `index`'s worker as done."""
        with self._in_flight_lock.held():
            pid, state, in_flight = self.slot(index)
            _SLOT.pack_into(self.map, self._slot_offset(index), pid, state, max(0, in_flight - 1))

    def in_flight(self) -> int:
        """The node's requests in flight, over every worker."""
        return sum(self.slot(index)[2] for index in range(SLOTS))

    def _slot_offset(self, index: int) -> int:
        if not 0 <= index < SLOTS:
            raise IndexError(f"no worker slot {index}")
        return HEADER + index * _SLOT.size


class WorkerSlot:
    """One worker's view of the node's requests in flight (middleware.Admission counts with it)."""

    def __init__(self, memory: NodeMemory, index: int) -> None:
        self.memory = memory
        self.index = index

    def enter(self, limit: int) -> bool:
        return self.memory.enter(self.index, limit)

    def leave(self) -> None:
        self.memory.leave(self.index)
