"""The memory the worker processes of a node share: rate-limit buckets and requests in flight
that hold across processes (real forks of this one)."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.synchronize import Event

import pytest

from api import bucket_store, node_memory, ratelimit

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def memory() -> node_memory.NodeMemory:
    return node_memory.NodeMemory(bucket_store.table_bytes(1000))


def test_shared_buckets_leak_and_charge_as_the_local_ones(memory: node_memory.NodeMemory) -> None:
    now = [0.0]
    local = ratelimit.Buckets(10, 2, clock=lambda: now[0])
    shared = ratelimit.Buckets(10, 2, clock=lambda: now[0], memory=memory)
    answers: dict[str, list[float]] = {"local": [], "shared": []}
    for name, buckets in (("local", local), ("shared", shared)):
        now[0] = 0.0
        answers[name] += [buckets.charge("a", 8), buckets.charge("a", 4), buckets.wait("a", 2)]
        now[0] = 1.0  # 2 leaked
        answers[name] += [buckets.charge("a", 4), buckets.charge("b", 50), buckets.charge("b", 1)]
        buckets.spend("c", 30)  # work done: the bucket is full, whatever its room
        answers[name] += [buckets.wait("c"), buckets.wait("nobody")]
        now[0] = 100.0  # long enough for every bucket to leak empty
        answers[name] += [buckets.charge("a", 10)]
    assert answers["local"] == answers["shared"] == [0.0, 1.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0]


def test_a_full_table_forgets_the_least_recently_seen_client() -> None:
    memory = node_memory.NodeMemory(bucket_store.table_bytes(1))  # 1024 entries
    now = [0.0]
    buckets = ratelimit.Buckets(10, 1, clock=lambda: now[0], memory=memory)
    for client in range(5000):
        now[0] += 0.001
        assert buckets.charge(f"client {client}", 10) == 0.0
    assert len(buckets) == 1024
    assert buckets.wait("client 4999") == pytest.approx(1.0)  # the latest are kept
    assert buckets.wait("client 0") == 0.0  # forgotten: a fresh bucket


def _charge(memory: node_memory.NodeMemory, client: str, cost: float) -> None:
    buckets = ratelimit.Buckets(100, 0.001, memory=memory)
    if buckets.charge(client, cost) != 0.0:
        raise SystemExit(3)


def test_a_clients_budget_is_one_across_processes(memory: node_memory.NodeMemory) -> None:
    spender = FORK.Process(target=_charge, args=(memory, "address 203.0.113.9", 80))
    spender.start()
    spender.join(10)
    assert spender.exitcode == 0
    buckets = ratelimit.Buckets(100, 0.001, memory=memory)
    assert buckets.charge("address 203.0.113.9", 30) > 0  # the other process spent 80 of 100
    assert buckets.charge("address 198.51.100.7", 30) == 0.0  # another client's budget is whole


def _hold(memory: node_memory.NodeMemory, index: int, entered: Event, done: Event) -> None:
    assert memory.enter(index, 2)
    entered.set()
    done.wait(10)
    memory.leave(index)


def test_the_concurrency_limit_counts_every_worker(memory: node_memory.NodeMemory) -> None:
    first, second = memory.claim(0), memory.claim(0)
    entered, done = FORK.Event(), FORK.Event()
    worker = FORK.Process(target=_hold, args=(memory, first, entered, done))
    worker.start()
    try:
        assert entered.wait(10)
        assert memory.enter(second, 2)  # the node's second request in flight
        assert not memory.enter(second, 2)  # a third is refused: the other worker has one
        assert memory.in_flight() == 2
    finally:
        done.set()
        worker.join(10)
    assert worker.exitcode == 0
    assert memory.enter(second, 2)
    memory.release(second)  # a worker that died with requests in flight leaves none counted
    assert memory.in_flight() == 0


def test_worker_slots_run_out_with_a_clear_error(memory: node_memory.NodeMemory) -> None:
    for _ in range(node_memory.SLOTS):
        memory.claim(0)
    with pytest.raises(ValueError, match="more than 64 worker processes at once"):
        memory.claim(0)


def test_the_generation_tells_workers_the_index_changed(memory: node_memory.NodeMemory) -> None:
    def advance() -> None:
        memory.advance_generation()

    assert memory.generation() == 0
    follower = FORK.Process(target=advance)
    follower.start()
    follower.join(10)
    deadline = time.monotonic() + 5
    while memory.generation() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert memory.generation() == 1
