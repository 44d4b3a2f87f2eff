"""A node of several worker processes behind one listening socket (`gongshi serve --workers N`).

The supervisor binds the socket, then forks: N workers, each running uvicorn on the inherited
socket (the kernel hands each connection to one of them), and one index follower, the only
writer of the index folder. The supervisor itself serves nothing, holds no database connection
and runs no thread, so that each fork copies a quiet process. It replaces a worker or follower
that dies; on SIGHUP it starts a new set of workers and, once they all serve, lets the old ones
drain (they stop accepting, finish what they have and exit); on SIGTERM or SIGINT it stops them
all. A worker whose supervisor is gone (kill -9) drains and exits too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from api import node_memory

log = logging.getLogger("gongshi.workers")
TICK = 0.1  # seconds between two looks at the children
# after it stops accepting, a draining worker waits this long before shutting down its
# connections, so that a connection it accepted just before has its request read and served
DRAIN_SECONDS = 0.5
START_SECONDS = 120.0  # a worker not serving by then has failed to start
STOP_SECONDS = 30.0  # a worker still finishing requests by then is killed
FAILURES = 5  # workers dying within FAILURE_WINDOW seconds that stop the node
FAILURE_WINDOW = 30.0


class NodeFailed(RuntimeError):
    """The node cannot keep its workers running."""


def listen(host: str, port: int) -> socket.socket:
    """The node's listening socket, bound before any worker starts (they inherit it)."""
    family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Stop:
    """Whether a child should stop: its supervisor asked (SIGTERM, SIGINT) or is gone."""

    def __init__(self, parent: int) -> None:
        self.parent = parent
        self.asked = False

    def __call__(self) -> bool:
        return self.asked or os.getppid() != self.parent


@dataclasses.dataclass
class Children:
    """What the supervisor forks: a worker's application (from its slot in the node's memory),
    the uvicorn options, and the index follower (None: the node has no index to follow)."""

    application: Callable[[node_memory.WorkerSlot], ASGIApp]
    uvicorn_options: dict[str, object]
    follower: Callable[[Stop], None] | None


class Supervisor:
    """The processes of one node, and what it does on a signal."""

    def __init__(
        self, sock: socket.socket, memory: node_memory.NodeMemory, count: int, children: Children
    ) -> None:
        if not 1 <= count <= node_memory.MAX_WORKERS:
            raise ValueError(f"a node runs 1 to {node_memory.MAX_WORKERS} workers, not {count}")
        self.sock = sock
        self.memory = memory
        self.count = count
        self.children = children
        self.slots: dict[int, int] = {}  # pid → slot of every worker alive
        self.current: set[int] = set()  # the workers of the latest generation
        self.follower: int | None = None
        self.failures: list[float] = []
        self.stopping = False
        self.restarting = False
        self.pid = os.getpid()

    def run(self) -> None:
        """Start the workers and the follower, and supervise them until SIGTERM or SIGINT."""
        previous = {
            sig: signal.signal(sig, self._signalled)
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.current = {self._fork_worker() for _ in range(self.count)}
            if not self._started(self.current):
                if self.stopping:
                    return  # told to stop while they started
                raise NodeFailed("the workers did not start: see the errors above")
            self._fork_follower()
            while not self.stopping:
                time.sleep(TICK)
                self._reap()
                if self.restarting and not self.stopping:
                    self.restarting = False
                    self._restart()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def pids(self) -> list[int]:
        """The workers alive, and the follower."""
        return [*self.slots, *([self.follower] if self.follower else [])]

    def _signalled(self, sig: int, _frame: FrameType | None) -> None:
        if sig == signal.SIGHUP:
            self.restarting = True
        else:
            self.stopping = True

    def _restart(self) -> None:
        """A new generation of workers; the old ones drain once it serves."""
        old = set(self.current)
        new = {self._fork_worker() for _ in range(self.count)}
        if not self._started(new):
            log.error("restart: the new workers did not start; the old ones keep serving")
            for pid in new & set(self.slots):
                os.kill(pid, signal.SIGTERM)
            return
        self.current = new
        for pid in old & set(self.slots):
            os.kill(pid, signal.SIGTERM)
        log.warning("restart: workers %s serve; %s drain", sorted(new), sorted(old))

    def _started(self, pids: set[int]) -> bool:
        """Wait until every one of `pids` serves (True), or one of them died or the node is
        stopping (False)."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and not self.stopping:
            self._reap(replace=False)
            if not pids <= set(self.slots):
                return False
            if all(self.memory.slot(self.slots[pid])[1] == node_memory.SERVING for pid in pids):
                return True
            time.sleep(TICK)
        return False

    def _reap(self, *, replace: bool = True) -> None:
        """Collect the children that ended; with `replace`, start others in their place."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.follower:
                self.follower = None
                if not self.stopping:
                    log.warning("index follower %d ended (%s): started again", pid, _how(status))
                    self._failed()
                    self._fork_follower()
                continue
            index = self.slots.pop(pid, None)
            if index is None:
                continue
            self.memory.release(index)
            if pid in self.current:
                self.current.discard(pid)
                if replace and not self.stopping:
                    self._failed()
                    new = self._fork_worker()
                    self.current.add(new)
                    log.warning("worker %d ended (%s): replaced by %d", pid, _how(status), new)

    def _failed(self) -> None:
        now = time.monotonic()
        self.failures = [at for at in self.failures if now - at < FAILURE_WINDOW] + [now]
        if len(self.failures) >= FAILURES:
            raise NodeFailed(
                f"{len(self.failures)} processes of the node died within {FAILURE_WINDOW:g} s: "
                "stopped (see the errors above)"
            )

    def _stop_all(self) -> None:
        """SIGTERM every child, then wait for them (killing those still running past
        STOP_SECONDS)."""
        self.stopping = True
        for pid in self.pids():
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while self.pids() and time.monotonic() < deadline:
            self._reap(replace=False)
            time.sleep(TICK)
        for pid in self.pids():
            _signal(pid, signal.SIGKILL)
        while self.pids():
            self._reap(replace=False)
            time.sleep(TICK)

    def _fork_worker(self) -> int:
        index = self.memory.claim(0)
        pid = _fork(lambda: self._serve(index))
        self.memory.set_pid(index, pid)
        self.slots[pid] = index
        return pid

    def _fork_follower(self) -> None:
        if self.children.follower is not None:
            follower = self.children.follower
            self.follower = _fork(lambda: _follow(follower, Stop(self.pid)))

    def _serve(self, index: int) -> None:
        """A worker: its application, served on the node's socket until it is told to stop."""
        application = self.children.application(node_memory.WorkerSlot(self.memory, index))
        config = uvicorn.Config(application, **self.children.uvicorn_options)  # type: ignore[arg-type]
        server = WorkerServer(config, self.memory, index, Stop(self.pid))
        server.run(sockets=[self.sock])


class WorkerServer(uvicorn.Server):
    """Uvicorn in a worker: it says when it serves, and on SIGTERM (or when its supervisor is
    gone) it stops accepting first and shuts down only DRAIN_SECONDS later."""

    def __init__(
        self, config: uvicorn.Config, memory: node_memory.NodeMemory, index: int, stop: Stop
    ) -> None:
        super().__init__(config)
        self.memory = memory
        self.index = index
        self.stop = stop
        self.announced = False
        self.draining_since: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # not uvicorn's: it would raise the signal again once served, ending with its status
        if self.draining_since is not None and sig == signal.SIGINT:
            self.force_exit = True
        self.stop.asked = True

    async def on_tick(self, counter: int) -> bool:
        if self.started and not self.announced:
            self.memory.serving(self.index)
            self.announced = True
        if self.draining_since is None and self.stop():
            self.draining_since = time.monotonic()
            for server in self.servers:
                server.close()  # this worker's copy of the socket: the others keep accepting
        if self.draining_since is not None:
            return time.monotonic() - self.draining_since >= DRAIN_SECONDS
        return await super().on_tick(counter)


def _follow(follower: Callable[[Stop], None], stop: Stop) -> None:
    def asked(_sig: int, _frame: FrameType | None) -> None:
        stop.asked = True

    signal.signal(signal.SIGTERM, asked)
    signal.signal(signal.SIGINT, asked)
    follower(stop)


def _fork(child: Callable[[], None]) -> int:
    """Fork a child that runs `child` and exits (0, or 1 with the traceback on stderr)."""
    sys.stdout.flush()
    sys.stderr.flush()  # or the child would write what the supervisor had buffered again
    pid = os.fork()
    if pid != 0:
        return pid
    code = 1
    try:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor's to act on
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        child()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # never the supervisor's cleanup: its engine, its memory, its atexit


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.kill(pid, sig)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
