"""Running GraphQL operations against the real schema and a real database."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import strawberry

from api import context, schema
from api.app import create_app
from api.limits import Limits
from disclosure import settings
from search_index import search
from tests import factories

ON = factories.DEFAULT_ON

Run = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def graphql() -> strawberry.Schema:
    return schema.build(Limits())


def execute(
    graphql: strawberry.Schema,
    engine: sa.Engine,
    app_settings: settings.Settings,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    on: dt.date = ON,
    limits: Limits | None = None,
    searcher: search.Searcher | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """The response of `query` as an agency would get it: data, and errors when there are."""

    context.watch_time_budget(engine)

    async def go() -> dict[str, Any]:
        with context.opened(engine, app_settings, limits or Limits(), on, searcher, token) as ctx:
            result = await graphql.execute(
                query,
                variable_values=variables,
                context_value=ctx,
                allowed_operation_types=schema.QUERIES_AND_MUTATIONS,
            )
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [error.message for error in result.errors]
        return response

    return asyncio.run(go())


@pytest.fixture
def run(graphql: strawberry.Schema, engine: sa.Engine, app_settings: settings.Settings) -> Run:
    """`run(query, variables, on=…, token=…)` against the test database."""

    def runner(
        query: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return execute(graphql, engine, app_settings, query, variables, **kwargs)

    return runner


def send(
    app_settings: settings.Settings,
    engine: sa.Engine,
    limits: Limits,
    requests: list[tuple[str, dict[str, Any], dict[str, str]]],
    *,
    pause: float = 0.0,
) -> list[httpx.Response]:
    """POST each (client address, body, headers) in turn to one app, over HTTP through httpx;
    `pause` seconds before the last."""
    app = create_app(app_settings, engine, as_of=ON, limits=limits)

    async def go() -> list[httpx.Response]:
        answers = []
        for number, (address, body, headers) in enumerate(requests):
            if pause and number == len(requests) - 1:
                await asyncio.sleep(pause)
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                answers.append(await client.post("/graphql", json=body, headers=headers))
        return answers

    return asyncio.run(go())
