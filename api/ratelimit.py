"""Per-client rate limiting by query cost: a leaky bucket for each client.

A client is its API token when it sends a live one, else its address (behind a trusted proxy, the
address the proxy saw). Each request pours its query cost into the client's bucket, which leaks
at a steady rate; a request that would overflow it is refused with the seconds to wait. The cost
is counted twice: before the query runs, by what it may return (admission), and after, by the
time it took (Limits.rate_work units a second); the request pays the larger, so a cheap-looking
query that spends the node's time (introspection, a slow search) pays for that time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlmodel import Session
from starlette.types import Scope

from api import bucket_store, errors, node_memory
from disclosure import tokens

CODE = errors.RATE_LIMITED


class Store(Protocol):
    """Where the buckets are kept: this process's memory, or the node's (api.bucket_store)."""

    def held(self) -> AbstractContextManager[object]:
        """The lock every read-and-write of a bucket holds."""
        ...

    def get(self, client: str, now: float) -> tuple[float, float] | None:
        """The client's level and when it was last touched; None when it has none (or one
        that has leaked empty)."""
        ...

    def put(self, client: str, level: float, now: float) -> None:
        """Keep the client's level as of `now`."""
        ...

    def __len__(self) -> int: ...


class Buckets:
    """The leaky buckets of every client: `size` cost units each, leaking `leak` units a second.

    Memory stays bounded: a bucket idle long enough to have leaked empty is the same as no bucket
    and is dropped, and past `max_clients` the least recently seen client is forgotten. With the
    `memory` of a node of several worker processes, the buckets are the node's: a client's budget
    is one, whichever worker serves it."""

    def __init__(
        self,
        size: int,
        leak: float,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        memory: node_memory.NodeMemory | None = None,
    ) -> None:
        if size < 1 or leak <= 0:
            raise ValueError(f"a bucket needs a size ≥ 1 and a leak > 0, not {size} and {leak}")
        self.size = size
        self.leak = leak
        self.max_clients = max_clients
        self.clock = clock
        idle = size / leak  # seconds after which any bucket is empty
        self.store: Store = (
            LocalStore(idle, max_clients)
            if memory is None
            else bucket_store.SharedStore(memory, idle)
        )

    def __len__(self) -> int:
        return len(self.store)

    def charge(self, client: str, cost: float) -> float:
        """Pour `cost` into the client's bucket: 0.0 when it fits, else (nothing poured) the
        seconds until it would. A cost over the bucket's size needs a full empty bucket."""
        return self._pour(client, min(cost, self.size), pour=True)

    def spend(self, client: str, cost: float) -> None:
        """Pour `cost` into the client's bucket whatever room it has (work already done), up to
        full: its next query waits until the bucket has leaked room for it."""
        with self.store.held():
            now = self.clock()
            self.store.put(client, min(self.size, self._level(client, now) + cost), now)

    def wait(self, client: str, cost: float = 1) -> float:
        """The seconds until `cost` would fit in the client's bucket (0.0: now), pouring nothing."""
        return self._pour(client, min(cost, self.size), pour=False)

    def _pour(self, client: str, cost: float, *, pour: bool) -> float:
        with self.store.held():
            now = self.clock()
            level = self._level(client, now)
            over = level + cost - self.size
            if over > 1e-9:
                return over / self.leak
            if pour:
                self.store.put(client, level + cost, now)
            return 0.0

    def _level(self, client: str, now: float) -> float:
        found = self.store.get(client, now)
        if found is None:
            return 0.0
        level, touched = found
        return max(0.0, level - (now - touched) * self.leak)


@dataclasses.dataclass
class _Bucket:
    level: float  # cost units in the bucket when it was last touched
    touched: float  # monotonic seconds


class LocalStore:
    """The buckets of one process, least recently touched first."""

    def __init__(self, idle: float, max_clients: int) -> None:
        self.idle = idle
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()  # charged from the event loop and from query threads

    def __len__(self) -> int:
        return len(self._buckets)

    def held(self) -> AbstractContextManager[object]:
        return self._lock

    def get(self, client: str, now: float) -> tuple[float, float] | None:
        self._expire(now)
        bucket = self._buckets.get(client)
        return None if bucket is None else (bucket.level, bucket.touched)

    def put(self, client: str, level: float, now: float) -> None:
        self._buckets[client] = _Bucket(level, now)
        self._buckets.move_to_end(client)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)

    def _expire(self, now: float) -> None:
        """Drop the buckets that have leaked empty (they sit at the front: least recent)."""
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if now - oldest.touched < self.idle:
                return
            self._buckets.popitem(last=False)


@dataclasses.dataclass
class Meter:
    """What one request spends from its client's bucket."""

    buckets: Buckets
    client: str
    spent: float = 0.0
    refused: float = 0.0  # when refused: the seconds to wait

    def charge(self, cost: float) -> bool:
        """Spend `cost` (at least 1: no request is free); False, with `refused` set, when the
        client's bucket cannot take it now."""
        cost = max(1.0, cost)
        wait = self.buckets.charge(self.client, cost)
        if wait > 0:
            self.refused = wait
            return False
        self.spent += cost
        return True

    def work(self, seconds: float, rate: float) -> None:
        """Spend what the request's `seconds` of work cost at `rate` units a second, past what
        its estimate already paid: a request pays the larger of the two, admitted or not."""
        unpaid = self.spent == 0 and self.refused == 0  # never got as far as its estimate
        extra = max(seconds * rate, 1.0 if unpaid else 0.0) - self.spent
        if extra > 0:
            self.buckets.spend(self.client, extra)
            self.spent += extra

    def settle(self) -> None:
        """Spend the minimum for a request that never got as far as being charged (one that
        did not parse or validate, say)."""
        if self.spent == 0 and self.refused == 0:
            self.buckets.charge(self.client, 1)


def client_of(session: Session, bearer: str | None, address: str, on: dt.date) -> str:
    """The client a request is counted against: its live API token, else its address (a made-up
    token does not buy a fresh budget)."""
    if bearer is not None:
        try:
            return f"token {tokens.authenticate(session, bearer, on).id}"
        except tokens.Unauthenticated:
            pass
    return address_client(address)


def address_client(address: str) -> str:
    """The client of a request without a token."""
    return f"address {address}"


def error(seconds: float) -> dict[str, Any]:
    """The GraphQL error of a refused request."""
    return {
        "message": message(seconds),
        "extensions": {"code": CODE, "retryAfter": int(retry_after(seconds))},
    }


def retry_after(seconds: float) -> str:
    """The Retry-After header for a wait: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def message(seconds: float) -> str:
    """What a refused client is told."""
    return (
        f"rate limit: this client has spent its query budget; retry in {retry_after(seconds)} s "
        "(cheaper queries — smaller pages, fewer nested lists — spend less)"
    )


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(proxies: Sequence[str]) -> tuple[Network, ...]:
    """The trusted proxies as networks (an address or a CIDR each; ValueError names a bad one)."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The address of the client: the peer, or behind trusted proxies the rightmost address of
    X-Forwarded-For that is not a trusted proxy (what the client wrote further left is not
    believed)."""
    peer = scope.get("client")
    address = str(peer[0]) if peer else "unknown"
    if not trusted or not _trusted(address, trusted):
        return address
    forwarded = [
        str(value.decode("latin-1"))
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    hops = [hop.strip() for line in forwarded for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else address


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
