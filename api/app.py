"""The web application of an API node: GraphQL at /graphql, /healthz, and the published site."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import orjson
import sqlalchemy as sa
import strawberry
from graphql import GraphQLError, OperationDefinitionNode, parse
from graphql import OperationType as OperationKind
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from api import cache, context, execution, ide, ratelimit, schema
from api.limits import Limits
from disclosure import db, listing, settings
from disclosure.queries import change_log
from search_index import indexer, search

access_log = logging.getLogger("gongshi.access")
log = logging.getLogger("gongshi.api")
JSON_TYPE = "application/json"
UNREACHABLE = "the database is unreachable: try again in a few seconds"


class BadRequest(Exception):
    """A request that is not a GraphQL request this API answers; carries its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def body(self) -> dict[str, Any]:
        """The response: one error with its message and a stable code."""
        code = _HTTP_CODES.get(self.status, "BAD_REQUEST")
        return {"errors": [{"message": str(self), "extensions": {"code": code}}]}


_HTTP_CODES = {
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def create_app(
    app_settings: settings.Settings,
    engine: sa.Engine,
    *,
    as_of: dt.date | None = None,
    limits: Limits | None = None,
    follow_seconds: float | None = None,
) -> Starlette:
    """The API node's application; `as_of` fixes the day (tests), else it is today in Shanghai.

    With `follow_seconds`, the node keeps its own search index current: every so often it applies
    the new events of the change log to it (this node is its index folder's one writer) and
    refreshes its searchers, so a change is searchable here within that interval.
    """
    limits = limits or Limits()
    context.watch_time_budget(engine)
    index_dir = app_settings.index_dir
    searcher = search.Searcher(index_dir) if indexer.current(index_dir) is not None else None
    endpoint = GraphQLEndpoint(schema.build(limits), engine, app_settings, limits, as_of, searcher)
    site = Site(app_settings.releases_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            if follow_seconds is not None and searcher is not None:
                tasks.start_soon(_follow, index_dir, engine, searcher, follow_seconds, as_of)
            yield
            tasks.cancel_scope.cancel()
        if searcher is not None:
            searcher.close()

    async def healthz(request: Request) -> Response:
        problem = await anyio.to_thread.run_sync(_database_problem, engine)
        if problem is not None:
            log.warning("healthz: %s", problem)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            Route(ide.PATH + "/{name}", ide.asset, methods=["GET", "HEAD"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{path:path}", site, methods=["GET", "HEAD"]),
        ],
        middleware=[
            Middleware(AccessLog),
            Middleware(Admission, limit=limits.max_in_flight),
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


async def _follow(
    index_dir: Path,
    engine: sa.Engine,
    searcher: search.Searcher,
    seconds: float,
    as_of: dt.date | None,
) -> None:
    """Apply the change log to this node's index every `seconds`, for as long as it serves."""
    while True:
        await anyio.sleep(seconds)
        on = as_of or settings.today()
        try:
            await anyio.to_thread.run_sync(_update, index_dir, engine, searcher, on)
        except (sa.exc.OperationalError, indexer.IndexUnavailable) as error:
            # the database or the index is away for now: the next tick tries again
            logging.getLogger("gongshi.follow").warning("index not updated: %s", error)


def _update(index_dir: Path, engine: sa.Engine, searcher: search.Searcher, on: dt.date) -> None:
    """Apply the change log to the index and let the searcher see it (in a thread: both block)."""
    indexer.update(index_dir, engine, on=on)
    searcher.refresh()


class GraphQLEndpoint:
    """GraphQL over HTTP: one operation per request (no batching), queries by GET and POST,
    answered from the response cache while the data and the day are unchanged; mutations by
    POST only, with the token of `Authorization: Bearer …`, never cached."""

    def __init__(
        self,
        graphql: strawberry.Schema,
        engine: sa.Engine,
        app_settings: settings.Settings,
        limits: Limits,
        as_of: dt.date | None,
        searcher: search.Searcher | None = None,
    ) -> None:
        self.schema = graphql
        self.searcher = searcher
        self.engine = engine
        self.settings = app_settings
        self.limits = limits
        self.as_of = as_of
        self.cache = cache.ResponseCache(limits.cache_entries, limits.cache_bytes)
        self.horizons = context.Horizons()
        self.threads = anyio.CapacityLimiter(max(1, limits.query_threads))
        self.buckets = ratelimit.Buckets(
            limits.rate_bucket, limits.rate_leak, max_clients=limits.rate_clients
        )
        self.trusted = ratelimit.networks(limits.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.respond(request)
        except BadRequest as error:
            response = JSONResponse(error.body(), error.status)
        except sa.exc.DBAPIError as error:
            if not db.lost(error):
                raise
            # the database went away (restart, failover, network): say so, not a 500
            log.warning("graphql: %s", db.unavailable(self.engine, error))
            response = JSONResponse(
                {"errors": [{"message": UNREACHABLE}]},
                status_code=503,
                headers={"retry-after": "5"},
            )
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        if request.method == "GET" and "query" not in request.query_params:
            if self.limits.graphiql and "text/html" in request.headers.get("accept", ""):
                return ide.page()
            raise BadRequest(400, "no query: send ?query=… or POST a JSON body")
        query, variables, operation_name = await self.read(request)
        request.state.operation = operation_name
        kind = _operation(query, operation_name, self.limits.max_tokens)
        mutation = request.method == "POST" and kind is OperationKind.MUTATION
        address = ratelimit.client_address(request.scope, self.trusted)
        request.state.client = address
        bearer = _bearer(request.headers.get("authorization", ""))
        if bearer is None:
            # a client that has spent its budget is refused here, without taking a query thread
            wait = self.buckets.wait(ratelimit.address_client(address))
            if wait > 0:
                return _rate_limited(wait)
        job = functools.partial(
            self.answer, request, query, variables, operation_name, mutation, address, bearer
        )
        if self.limits.query_threads == 0 and not mutation:
            # one query at a time, in the order they came; the loop reads the requests that
            # arrive meanwhile between two queries, so they count as in flight
            async with self.threads:
                return await job()
        # a mutation may wait for the database's write lock: never on the event loop
        return await anyio.to_thread.run_sync(_run, job, limiter=self.threads)

    async def answer(
        self,
        request: Request,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        mutation: bool,
        address: str,
        bearer: str | None,
    ) -> Response:
        """The response to a GraphQL request, worked out on the event loop, or in a query
        thread on a loop of its own (its session is opened, used and closed there)."""
        on = self.as_of or settings.today()
        with context.opened(
            self.engine,
            self.settings,
            self.limits,
            on,
            self.searcher,
            bearer if mutation else None,
            self.horizons,
        ) as ctx:
            meter = ratelimit.Meter(
                self.buckets, ratelimit.client_of(ctx.session, bearer, address, on)
            )
            ctx.meter = meter
            try:
                if bearer is not None and (wait := self.buckets.wait(meter.client)) > 0:
                    return _rate_limited(wait)
                if mutation:
                    body, _ = await self.execute(
                        ctx, query, variables, operation_name, schema.QUERIES_AND_MUTATIONS
                    )
                    request.state.cost = ctx.cost
                    if meter.refused:
                        return _rate_limited(meter.refused)
                    return Response(
                        body, media_type=JSON_TYPE, headers={"cache-control": "no-store"}
                    )
                version = ctx.version = change_log.last_event_id(ctx.session)
                key = cache.key(query, variables, operation_name, on, version)
                entry = self.cache.get(key)
                if entry is None:
                    started = time.perf_counter()
                    body, cacheable = await self.execute(ctx, query, variables, operation_name)
                    # what the query cost the node: its time, paid even when it was refused
                    meter.work(time.perf_counter() - started, self.limits.rate_work)
                    request.state.cost = ctx.cost
                    if meter.refused:
                        return _rate_limited(meter.refused)
                    if not (cacheable and not ctx.volatile):
                        return Response(body, media_type=JSON_TYPE)
                    entry = self.cache.put(key, body, ctx.cost)
                else:
                    request.state.cached = True
                    request.state.cost = entry.cost
                    if not meter.charge(entry.cost):
                        return _rate_limited(meter.refused)
            finally:
                meter.settle()
        headers = {"etag": entry.etag}
        if request.method == "GET" and request.headers.get("if-none-match") == entry.etag:
            return Response(status_code=304, headers=headers)
        return Response(entry.body, media_type=JSON_TYPE, headers=headers)

    async def read(self, request: Request) -> tuple[str, dict[str, Any] | None, str | None]:
        """The query, variables and operation name of a GET or POST request."""
        if request.method == "GET":
            params: Any = dict(request.query_params)
            if "variables" in params:
                params["variables"] = _json(params["variables"])
        else:
            if not request.headers.get("content-type", "").startswith(JSON_TYPE):
                raise BadRequest(415, f"send the query as {JSON_TYPE}")
            params = _json(await self.body(request))
        if isinstance(params, list):
            raise BadRequest(400, "batching is not supported: send one operation per request")
        if not isinstance(params, dict):
            raise BadRequest(400, "the body must be a JSON object with a query")
        query, variables = params.get("query"), params.get("variables")
        operation_name = params.get("operationName")
        if not isinstance(query, str) or not query.strip():
            raise BadRequest(400, "no query")
        if variables is not None and not isinstance(variables, dict):
            raise BadRequest(400, "variables must be a JSON object")
        if operation_name is not None and not isinstance(operation_name, str):
            raise BadRequest(400, "operationName must be a string")
        return query, variables, operation_name

    async def body(self, request: Request) -> bytes:
        """The request body, refused past the size limit before it is read whole."""
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BadRequest(413, f"the request body is over {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(413, f"the request body is over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def execute(
        self,
        ctx: context.Context,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        allowed: frozenset[OperationType] = schema.QUERIES_ONLY,
    ) -> tuple[bytes, bool]:
        """The response body, and whether it may be cached (no errors)."""
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=ctx,
                operation_name=operation_name,
                allowed_operation_types=allowed,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.MUTATION:
                raise BadRequest(405, "mutations are sent by POST") from error
            raise BadRequest(400, "subscriptions are not served: send a query") from error
        except MissingQueryError as error:
            raise BadRequest(400, "no query") from error
        except CannotGetOperationTypeError as error:
            if operation_name is None:
                message = "the document must hold one operation, or name one in operationName"
            else:
                message = f"the document holds no operation named {operation_name!r}"
            raise BadRequest(400, message) from error
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        body = orjson.dumps(payload)  # what json.dumps writes compact as UTF-8, 10× as fast
        return body, not result.errors


def _run(job: Callable[[], Coroutine[Any, Any, Response]]) -> Response:
    """The response `job` makes, in a query thread."""
    return execution.run(job())


def _rate_limited(wait: float) -> Response:
    """429: the client has spent its budget; Retry-After says when to come back."""
    return JSONResponse(
        {"data": None, "errors": [ratelimit.error(wait)]},
        status_code=429,
        headers={"retry-after": ratelimit.retry_after(wait), "cache-control": "no-store"},
    )


def _bearer(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, secret = header.partition(" ")
    return secret.strip() or None if scheme.lower() == "bearer" else None


def _json(text: str | bytes) -> Any:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise BadRequest(400, "the request is not valid JSON") from error
    except RecursionError as error:
        raise BadRequest(400, "the request's JSON nests too deeply") from error
    try:
        # JSON lets an escape name half a surrogate pair, which is no character at all
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError as error:
        raise BadRequest(400, "the request holds text that is not valid Unicode") from error
    return value


class Site:
    """The published release under `releases_dir/current`, with 410 Gone for withdrawn pages."""

    def __init__(self, releases_dir: Path) -> None:
        self.current = releases_dir / "current"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        response = self.respond(request.path_params["path"], request.headers)
        await response(scope, receive, send)

    def respond(self, path: str, headers: Mapping[str, str] | None = None) -> Response:
        try:
            release = self.current.resolve(strict=True)
        except OSError:
            return PlainTextResponse("no release of the site has been published yet", 404)
        relative = path.lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        target = _inside(release, relative)
        if relative in _gone(release):
            if target is not None and target.is_file():
                return HTMLResponse(target.read_bytes(), status_code=410)
            return PlainTextResponse("停止公示 / no longer public", status_code=410)
        if target is not None and target.is_dir():
            target, relative = target / "index.html", f"{relative.rstrip('/')}/index.html"
        listed = _listing(release)
        if listed is not None and relative not in listed:
            target = None  # in the folder but not published (a file copied in): not the site's
        if target is None or not target.is_file():
            return PlainTextResponse("not found", 404)
        response = FileResponse(target, media_type=_media_type(relative), stat_result=target.stat())
        if headers is not None and _not_modified(headers, response.headers):
            kept = {k: response.headers[k] for k in ("etag", "last-modified")}
            return Response(status_code=304, headers=kept)
        return response


# Types the standard table lacks or gets wrong for the release's feeds and bulk files.
_MEDIA_TYPES = {
    ".xml": "application/rss+xml",  # feeds/*.xml are RSS; sitemaps keep application/xml
    ".atom": "application/atom+xml",
    ".gz": "application/gzip",
}


def _media_type(relative: str) -> str | None:
    """The content type of a release file, where the suffix alone does not tell it."""
    suffix = Path(relative).suffix
    if suffix == ".xml" and not relative.startswith("feeds/"):
        return None
    return _MEDIA_TYPES.get(suffix)


def _not_modified(request: Mapping[str, str], response: Mapping[str, str]) -> bool:
    """Whether a conditional GET's validators match the file (RFC 9110 §13.1.1–13.1.3)."""
    tags = request.get("if-none-match")
    if tags is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return "*" in wanted or response["etag"] in wanted
    since = request.get("if-modified-since")
    if since is None:
        return False
    try:
        asked = email.utils.parsedate_to_datetime(since)
        modified = email.utils.parsedate_to_datetime(response["last-modified"])
    except (TypeError, ValueError):
        return False
    return modified <= asked


def _inside(release: Path, relative: str) -> Path | None:
    """`relative` inside the release folder, or None when it would lead out of it."""
    if "\x00" in relative:  # no file's name holds NUL, and the file system refuses to look
        return None
    if any(part.startswith(".") for part in Path(relative).parts):
        return None  # a publish writes no dotfile: one in a release (.git, .env) is not the site's
    candidate = (release / relative).resolve()
    return candidate if candidate.is_relative_to(release) else None


@functools.lru_cache(maxsize=8)
def _listing(release: Path) -> listing.Listing | None:
    """The files a release publishes (releases never change once published)."""
    return listing.open_listing(release)


@functools.lru_cache(maxsize=8)
def _gone(release: Path) -> frozenset[str]:
    """The withdrawn pages of a release (releases never change once published)."""
    try:
        lines = (release / "gone.txt").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return frozenset()
    return frozenset(line.strip().lstrip("/") for line in lines if line.strip())


class Admission:
    """At most `limit` requests in flight; the rest get an immediate 503 with Retry-After, so an
    overloaded node answers fast instead of queueing into timeouts. (Uvicorn's own limit counts
    open connections, which refuses every request once many keep-alive clients are connected.)"""

    def __init__(self, app: ASGIApp, limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit is None:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            busy = PlainTextResponse(
                "busy: try again in a second", status_code=503, headers={"retry-after": "1"}
            )
            await busy(scope, receive, send)
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


@functools.lru_cache(maxsize=4096)  # agencies send the same few queries again and again
def _operation(query: str, operation_name: str | None, max_tokens: int) -> OperationKind | None:
    """The kind of the operation a request runs: None when the query does not parse or names
    no such operation (execution then reports why). Raises BadRequest for several operations
    without an operationName: GraphQL says to refuse them, not to run the first."""
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return None
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    if operation_name is None and len(operations) > 1:
        raise BadRequest(400, "the document holds several operations: name one in operationName")
    chosen = [
        operation
        for operation in operations
        if operation_name is None or getattr(operation.name, "value", None) == operation_name
    ]
    return chosen[0].operation if len(chosen) == 1 else None
