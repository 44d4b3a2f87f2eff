"""The web application of an API node: GraphQL at /graphql, /healthz, and the published site."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import AsyncIterator, Sequence

import anyio
import anyio.to_thread
import sqlalchemy as sa
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api import context, follower, http, ide, node_memory, schema
from api.limits import Limits
from api.middleware import AccessLog, Admission
from api.site import Site
from disclosure import db, settings
from disclosure.queries import change_log
from search_index import backends, search

log = logging.getLogger("gongshi.api")


def create_app(
    app_settings: settings.Settings,
    engine: sa.Engine,
    *,
    as_of: dt.date | None = None,
    limits: Limits | None = None,
    follow_seconds: float | None = None,
    routes: Sequence[Route] = (),
    slot: node_memory.WorkerSlot | None = None,
) -> Starlette:
    """The API node's application; `as_of` fixes the day (tests), else it is today in Shanghai.

    With `follow_seconds`, the node keeps its own search index current: every so often it applies
    the new events of the change log to it (this node is its index folder's one writer) and
    refreshes its searchers, so a change is searchable here within that interval.

    With the `slot` of a worker process of a node (gongshi.workers), the node's memory holds the
    rate limits and the requests in flight of all its workers, `follow_seconds` is how often the
    worker looks for a new generation of the index (another process writes it), and /healthz
    names the worker.
    """
    limits = limits or Limits()
    context.watch_time_budget(engine)
    index_dir = app_settings.index_dir
    searcher = backends.open_backend(app_settings, engine, on=as_of)
    memory = slot.memory if slot is not None else None
    endpoint = http.GraphQLEndpoint(
        schema.build(limits), engine, app_settings, limits, as_of, searcher, memory
    )
    site = Site(app_settings.releases_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            if follow_seconds is not None and isinstance(searcher, search.Searcher):
                if memory is not None:
                    tasks.start_soon(follower.watch, searcher, memory, follow_seconds)
                else:
                    tasks.start_soon(
                        follower.follow, index_dir, engine, searcher, follow_seconds, as_of
                    )
            yield
            tasks.cancel_scope.cancel()
        if searcher is not None:
            searcher.close()

    # a worker of a node of several processes says which it is: a probe can tell them apart
    worker = {"worker": os.getpid()} if slot is not None else {}

    async def healthz(request: Request) -> Response:
        problem = await anyio.to_thread.run_sync(_database_problem, engine)
        if problem is not None:
            log.warning("healthz: %s", problem)
            return JSONResponse(
                {"status": "error", "database": "unreachable", **worker}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok", **worker})

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            Route(ide.PATH + "/{name}", ide.asset, methods=["GET", "HEAD"]),
            Route("/healthz", healthz, methods=["GET"]),
            *routes,  # what the serving node adds before the site (its feeds on request)
            Route("/{path:path}", site, methods=["GET", "HEAD"]),
        ],
        middleware=[
            Middleware(AccessLog),
            Middleware(Admission, limit=limits.max_in_flight, slot=slot),
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "POST"],
                allow_headers=["content-type", "authorization"],
                expose_headers=["etag"],
            ),
            Middleware(GZipMiddleware, minimum_size=1000),
        ],
    )


def _database_problem(engine: sa.Engine) -> str | None:
    """Why the database cannot answer what every request asks first (the change log's last
    event), or None when it can."""
    try:
        with Session(engine) as session:
            change_log.last_event_id(session)
    except sa.exc.DBAPIError as error:
        return str(db.unavailable(engine, error))
    return None
