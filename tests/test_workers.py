"""`gongshi serve --workers 2` as operators run it: one socket, two worker processes and an index
follower; /healthz names each worker, a client's rate limit holds across them, SIGHUP replaces
them without dropping a request, a dead worker is replaced, and nothing outlives the node."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from disclosure import settings
from tests import factories
from tests.processes import World, alive, descendants, free_port, orphans

FOLLOW = 0.5
SLACK = 15.0  # a loaded machine: the follower's update and the workers' reopening take time
COSTLY = {"query": "{ penalties(first: 60) { totalCount } }"}  # 60 units by its estimate
SEARCH = "query($q: String!) { search(query: $q) { totalCount } }"


class Node:
    """A running `gongshi serve --workers 2` and its address."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def children(self) -> set[int]:
        return descendants(self.process.pid)

    def worker_pids(self, tries: int = 200) -> set[int]:
        """The workers /healthz names, asked on fresh connections until two answer."""
        seen: set[int] = set()
        for _ in range(tries):
            seen.add(int(httpx.get(f"{self.url}/healthz", timeout=10).json()["worker"]))
            if len(seen) == 2:
                break
        return seen

    def pinned(self) -> tuple[httpx.Client, httpx.Client]:
        """Two clients of one kept-alive connection each, on different workers."""
        clients: list[tuple[int, httpx.Client]] = []
        for _ in range(200):
            client = httpx.Client(
                base_url=self.url, timeout=10, limits=httpx.Limits(max_connections=1)
            )
            pid = worker(client)
            if all(pid != other for other, _ in clients):
                clients.append((pid, client))
                if len(clients) == 2:
                    return clients[0][1], clients[1][1]
            else:
                client.close()
        pytest.fail("the kernel never handed a connection to the second worker")


def worker(client: httpx.Client) -> int:
    return int(client.get("/healthz").json()["worker"])


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = World(tmp_path)
    with world.engine() as engine, Session(engine) as session, session.begin():
        factories.add_penalty(session, on=settings.today())
    world.run("index", "--rebuild")
    return world


@contextlib.contextmanager
def serving(world: World, *options: str) -> Iterator[Node]:
    port = free_port()
    process = world.start(
        "serve", "--port", str(port), "--workers", "2", "--no-access-log", "--follow", str(FOLLOW),
        *options, measured=True,
    )  # fmt: skip
    node = Node(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"the node exited {process.returncode}: {process.communicate()[1]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{node.url}/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the node never answered /healthz"
            time.sleep(0.2)
        # the follower starts once both workers serve, which may be after the first answers
        while len(node.children()) < 3:
            assert time.monotonic() < deadline, f"the node has only {node.children()}"
            time.sleep(0.1)
        yield node
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=60)


def test_healthz_names_two_workers_of_the_node(world: World) -> None:
    with serving(world) as node:
        pids = node.worker_pids()
        children = node.children()
        health = httpx.get(f"{node.url}/healthz", timeout=10).json()
    assert len(pids) == 2
    assert pids < children and len(children) == 3  # the two workers and the index follower
    assert health == {"status": "ok", "database": "ok", "worker": health["worker"]}


def test_a_clients_rate_limit_holds_across_workers(world: World) -> None:
    limits = ("--rate-bucket", "100", "--rate-leak", "0.001", "--trusted-proxy", "127.0.0.1")
    spender = {"x-forwarded-for": "203.0.113.9"}
    other = {"x-forwarded-for": "198.51.100.7"}
    with serving(world, *limits) as node:
        first, second = node.pinned()
        with contextlib.closing(first), contextlib.closing(second):
            on = (worker(first), worker(second))
            answers = [
                first.post("/graphql", json=COSTLY, headers=spender).status_code,
                second.post("/graphql", json=COSTLY, headers=spender).status_code,  # 60 + 60 > 100
                first.post("/graphql", json=COSTLY, headers=spender).status_code,
                # another client: the refusals were the spender's budget, not the worker's
                second.post("/graphql", json=COSTLY, headers=other).status_code,
            ]
            still = (worker(first), worker(second))
    assert on == still and on[0] != on[1], "each client kept its connection to its worker"
    assert answers == [200, 429, 429, 200]


def test_a_change_is_searchable_on_every_worker(world: World) -> None:
    with serving(world) as node:
        first, second = node.pinned()
        with contextlib.closing(first), contextlib.closing(second):
            with world.engine() as engine, Session(engine) as session, session.begin():
                number = factories.add_penalty(session, on=settings.today()).decision_doc_no
            since = time.monotonic()
            for client in (first, second):
                pid = worker(client)
                found = 0
                while found == 0 and time.monotonic() - since < FOLLOW + SLACK:
                    answer = client.post(
                        "/graphql", json={"query": SEARCH, "variables": {"q": number}}
                    )
                    found = answer.json()["data"]["search"]["totalCount"]
                    time.sleep(0.1)
                assert (found, worker(client)) == (1, pid), f"{number} not searchable on {pid}"


def test_sighup_replaces_the_workers_without_dropping_a_request(world: World) -> None:
    unlimited = ("--rate-bucket", str(10**9), "--rate-leak", str(10**9))
    with serving(world, *unlimited) as node:
        before = node.worker_pids()
        answers: list[tuple[int, int | None]] = []
        failures: list[str] = []
        running = threading.Event()
        running.set()

        def stream() -> None:
            while running.is_set():
                try:
                    # a fresh connection each time: many clients, each sending one request
                    health = httpx.get(f"{node.url}/healthz", timeout=30)
                    query = httpx.post(f"{node.url}/graphql", json=COSTLY, timeout=30)
                except httpx.TransportError as error:
                    failures.append(repr(error))
                    continue
                answers.append((health.status_code, health.json().get("worker")))
                answers.append((query.status_code, None))

        threads = [threading.Thread(target=stream) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.0)
            os.kill(node.process.pid, signal.SIGHUP)
            deadline = time.monotonic() + 60
            while any(alive(pid) for pid in before) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # the stream goes on with the new workers alone
        finally:
            running.clear()
            for thread in threads:
                thread.join(60)
        after = node.worker_pids()
    assert failures == []
    assert {status for status, _ in answers} == {200}
    assert not any(alive(pid) for pid in before), "the old workers drained and ended"
    assert len(after) == 2 and not after & before
    served = {pid for _, pid in answers if pid is not None}
    assert before <= served and after <= served, "both generations served the stream"


def test_a_dead_worker_is_replaced(world: World) -> None:
    with serving(world) as node:
        before = node.worker_pids()
        killed = min(before)
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            now = node.worker_pids()
            if len(now) == 2 and killed not in now:
                break
            assert time.monotonic() < deadline, "the killed worker was never replaced"
            time.sleep(0.2)
        children = node.children()
    assert now - before and len(children) == 3


def test_sigterm_stops_every_process_of_the_node(world: World) -> None:
    with serving(world) as node:
        children = node.children()
        node.process.send_signal(signal.SIGTERM)
        node.process.wait(60)
        assert node.process.returncode == 0
        assert len(children) == 3 and orphans(children) == set()


def test_workers_end_when_their_supervisor_is_killed(world: World) -> None:
    with serving(world) as node:
        children = node.children()
        node.process.kill()
        node.process.wait(60)
        assert len(children) == 3 and orphans(children) == set()
