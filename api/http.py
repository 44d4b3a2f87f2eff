"""GraphQL over HTTP: the /graphql endpoint of an API node."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import anyio.to_thread
import orjson
import sqlalchemy as sa
import strawberry
from graphql import GraphQLError, OperationDefinitionNode, parse
from graphql import OperationType as OperationKind
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from api import cache, context, execution, ide, node_memory, ratelimit, schema
from api.errors import BadRequest
from api.limits import Limits
from disclosure import db, settings
from disclosure.queries import change_log
from search_index import search

log = logging.getLogger("gongshi.api")
JSON_TYPE = "application/json"
UNREACHABLE = "the database is unreachable: try again in a few seconds"


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
        searcher: search.Backend | None = None,
        memory: node_memory.NodeMemory | None = None,
    ) -> None:
        self.schema = graphql
        self.searcher = searcher
        self.engine = engine
        self.settings = app_settings
        self.limits = limits
        self.as_of = as_of
        self.cache = cache.ResponseCache(limits.cache_entries, limits.cache_bytes)
        self.horizons = context.Horizons()
        self.catalogues = context.Catalogues()
        self.threads = anyio.CapacityLimiter(max(1, limits.query_threads))
        self.buckets = ratelimit.Buckets(
            limits.rate_bucket, limits.rate_leak, max_clients=limits.rate_clients, memory=memory
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
            self.catalogues,
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
        body = orjson.dumps(payload)  # what json.dumps writes compact as UTF-8, faster
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
