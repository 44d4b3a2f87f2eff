"""The middlewares of an API node: admission (a fast 503 past a limit) and the access log."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import anyio
import orjson
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import node_memory

access_log = logging.getLogger("gongshi.access")


class Admission:
    """At most `limit` requests in flight; the rest get an immediate 503 with Retry-After, so an
    overloaded node answers fast instead of queueing into timeouts. (Uvicorn's own limit counts
    open connections, which refuses every request once many keep-alive clients are connected.)

    With the `slot` of a worker process, the limit is the node's: the requests in flight of
    all its workers count."""

    def __init__(
        self, app: ASGIApp, limit: int | None = None, slot: node_memory.WorkerSlot | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.slot = slot
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit is None:
            await self.app(scope, receive, send)
            return
        if self.slot is not None:
            await self._shared(self.slot, self.limit, scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _busy(scope, receive, send)
            return
        self.in_flight += 1
        try:
            # let the requests that arrived with this one be admitted or refused before it is
            # served: a query served on the event loop runs to its end without a pause, and the
            # requests waiting behind it would otherwise not count as in flight
            await anyio.sleep(0)
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _shared(
        self, slot: node_memory.WorkerSlot, limit: int, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if not slot.enter(limit):
            await _busy(scope, receive, send)
            return
        try:
            await anyio.sleep(0)  # as above
            await self.app(scope, receive, send)
        finally:
            slot.leave()


async def _busy(scope: Scope, receive: Receive, send: Send) -> None:
    busy = PlainTextResponse(
        "busy: try again in a second", status_code=503, headers={"retry-after": "1"}
    )
    await busy(scope, receive, send)


class AccessLog:
    """One JSON line per request: time, client, operation, cost, status, duration; no bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                line = {
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                    "client": state.get("client", client[0] if client else None),
                    "method": scope["method"],
                    "path": scope["path"],
                    "operation": state.get("operation"),
                    "cost": state.get("cost"),
                    "cached": state.get("cached", False),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
                access_log.info(orjson.dumps(line).decode())
