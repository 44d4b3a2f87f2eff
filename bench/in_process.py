"""The API's schema executed in this process on one SQLite database, as a node runs a request
(its context, its data version, its caches), without HTTP: what a bench of a resolver times."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from api import context, schema
from api.limits import Limits
from disclosure import settings
from disclosure.queries import change_log
from search_index import search

Execute = Callable[[str, dict[str, Any]], float]


def executor(
    engine: sa.Engine, database: Path, on: dt.date, searcher: search.Backend | None = None
) -> Execute:
    """A function that runs one operation with its variables and returns the seconds it took;
    an operation answered with errors raises."""
    url = engine.url.render_as_string(hide_password=False)
    app_settings = settings.Settings(database_url=url, data_dir=database.parent)
    graphql = schema.build(Limits())
    limits = Limits(time_budget_seconds=60.0)
    horizons, catalogues = context.Horizons(), context.Catalogues()  # the node's

    def execute(query: str, variables: dict[str, Any]) -> float:
        async def go() -> float:
            start = time.perf_counter()
            with context.opened(
                engine, app_settings, limits, on, searcher, horizons=horizons, catalogues=catalogues
            ) as ctx:
                ctx.version = change_log.last_event_id(ctx.session)
                result = await graphql.execute(query, variable_values=variables, context_value=ctx)
            elapsed = time.perf_counter() - start
            if result.errors:
                raise RuntimeError(str(result.errors[0]))
            return elapsed

        return asyncio.run(go())

    return execute
