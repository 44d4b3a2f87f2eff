"""Commands that put gongshi in front of people: serve the site with the API, and the demo that
does everything on the embedded default."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import importlib
import ipaddress
import logging
import os
import socket
import sys
from typing import Any

import click
from rich.table import Table
from starlette.types import ASGIApp, Receive, Scope, Send

from api import bucket_store, follower, node_memory, ratelimit
from api import limits as api_limits
from disclosure import (
    db,
    lifecycle,
    search_rows,
    settings,
    urls,
)
from disclosure.queries import figures
from gongshi.env import (
    Env,
    UserMistake,
    as_of_date,
    as_of_option,
    console,
    progress,
    progress_console,
    user_errors,
)
from gongshi.publishing import publish_release
from gongshi.records import generate_sample
from publishers import release
from search_index import indexer

PORT = click.IntRange(1, 65535)
MAX_WORKERS = node_memory.MAX_WORKERS
# what a node's application imports (node_application)
APPLICATION_MODULES = ("api.app", "gongshi.served_feeds", "gongshi.served_reports", "portal.app")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=PORT, default=settings.DEFAULT_PORT, show_default=True, help="Port to listen on."
)
@click.option(
    "--limit-concurrency",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Requests in flight beyond this get an immediate 503.",
)
@click.option(
    "--query-threads",
    type=click.IntRange(min=0),
    default=api_limits.Limits.query_threads,
    show_default=True,
    help="Threads running GraphQL queries; 0 runs them on the event loop (mutations always "
    "run in a thread).",
)
@click.option(
    "--rate-bucket",
    type=click.IntRange(min=1),
    default=None,
    help="Query cost a client may spend at once "
    f"[default: GONGSHI_RATE_BUCKET or {api_limits.Limits.rate_bucket}].",
)
@click.option(
    "--rate-leak",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Query cost a second a client's budget refills by "
    f"[default: GONGSHI_RATE_LEAK or {api_limits.Limits.rate_leak:g}].",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    help="A proxy address or network whose X-Forwarded-For names the client (repeatable) "
    "[default: GONGSHI_TRUSTED_PROXIES].",
)
@click.option(
    "--no-introspection", is_flag=True, help="Turn off GraphQL introspection and GraphiQL."
)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@click.option(
    "--follow",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between updates of this node's search index from the change log.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=None,
    help="Worker processes behind the one socket, sharing the rate limits and the concurrency "
    "limit; SIGHUP restarts them without dropping a request [default: the number of cores].",
)
@click.pass_obj
def serve(
    env: Env,
    host: str,
    port: int,
    limit_concurrency: int,
    query_threads: int,
    rate_bucket: int | None,
    rate_leak: float | None,
    trusted_proxies: tuple[str, ...],
    no_introspection: bool,
    access_log: bool,
    follow: float,
    workers: int | None,
) -> None:
    """Serve GraphQL at /graphql, /healthz, and the published site at /."""
    env.page_cache_mib = db.SERVING_PAGE_CACHE_MIB
    with user_errors():
        env.require_schema()
    try:
        ratelimit.networks(trusted_proxies)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--trusted-proxy") from error
    limits = _limits(env, limit_concurrency, not no_introspection)
    limits = dataclasses.replace(
        limits,
        query_threads=query_threads,
        rate_bucket=rate_bucket or limits.rate_bucket,
        rate_leak=rate_leak or limits.rate_leak,
        trusted_proxies=trusted_proxies or limits.trusted_proxies,
    )
    require_free(host, port, "--port")
    if not env.settings.base_url_given:
        # without GONGSHI_BASE_URL the records' `url` name this node, not another port's
        env.settings = dataclasses.replace(env.settings, base_url=settings.local_base_url(port))
    where = f"[{host}]" if ":" in host else host
    console.print(
        f"gongshi serve: http://{where}:{port}/ — GraphQL at /graphql, /healthz, the portal at "
        f"/portal/, and the site published into {env.settings.releases_dir} at /",
        soft_wrap=True,
    )
    if not env.settings.base_url_given and not _loopback(host):
        progress_console.print(
            f"note: GONGSHI_BASE_URL is not set: records' url say {env.settings.base_url}, "
            "which only this machine reaches",
            soft_wrap=True,
        )
    count = workers or cores()
    if count > 1:
        console.print(
            f"{count} worker processes; SIGHUP restarts them without dropping a request",
            soft_wrap=True,
        )
    run_server(env, host, port, limits, access_log, follow, count)


def cores() -> int:
    """The cores this process may run on (at most MAX_WORKERS)."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, available or 1))


def require_free(host: str, port: int, option: str) -> None:
    """Refuse, naming `option`, an address gongshi could not listen on (taken, or not ours)."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise UserMistake(f"cannot listen on {host!r}: {error.strerror}") from error
    with socket.socket(family, kind) as probe:
        # as the server will: a port left in TIME_WAIT by a stopped node is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise UserMistake(
                f"cannot listen on {host}:{port}: {error.strerror}; choose another with {option}"
            ) from error


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _limits(env: Env, limit_concurrency: int, introspection: bool) -> api_limits.Limits:
    """The node's limits, with the rate limit of the settings where they set one."""
    defaults = api_limits.Limits()
    return api_limits.Limits(
        introspection=introspection,
        graphiql=introspection,
        max_in_flight=limit_concurrency,
        rate_bucket=env.settings.rate_bucket or defaults.rate_bucket,
        rate_leak=env.settings.rate_leak or defaults.rate_leak,
        trusted_proxies=env.settings.trusted_proxies,
    )


def run_server(
    env: Env,
    host: str,
    port: int,
    limits: api_limits.Limits,
    access_log: bool,
    follow: float,
    workers: int = 1,
) -> None:
    """Serve this node until interrupted: in this process, or with `workers` > 1 in that many
    worker processes (gongshi.workers)."""
    # the application and the server are imported here, when they run: importing them takes a
    # third of a second of every other command, and of each publish worker (which imports this
    # module again to start)
    import uvicorn

    if access_log:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger = logging.getLogger("gongshi.access")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    # what the server is told: gongshi.access writes one JSON line per request instead of its
    # access log, and the API decides whose X-Forwarded-For to believe (--trusted-proxy)
    options: dict[str, Any] = {"access_log": False, "log_level": "warning", "proxy_headers": False}
    if workers > 1:
        serve_workers(env, host, port, limits, follow, workers, options)
        return
    application = node_application(env, limits, follow)
    # what is alive now (modules, the schema, the engine) lives as long as the node. Frozen, a
    # full collection under load no longer walks it: those pauses were the API's p99
    # (BENCHMARKS.md, "Figures behind the code's choices")
    gc.collect()
    gc.freeze()
    uvicorn.run(application, host=host, port=port, **options)


def node_application(
    env: Env,
    limits: api_limits.Limits,
    follow: float,
    slot: node_memory.WorkerSlot | None = None,
) -> ASGIApp:
    """The application of a node, or of one worker process of it (its `slot`)."""
    from api import app as api_app
    from gongshi import served_feeds, served_reports
    from portal import app as portal_app

    return compose(
        api_app.create_app(
            env.settings,
            env.engine,
            limits=limits,
            follow_seconds=follow,
            routes=[
                *served_feeds.FeedRoutes(env.settings, env.engine).routes(),
                *served_reports.ReportRoutes(env.settings, env.engine).routes(),
            ],
            slot=slot,
        ),
        portal_app.create_app(env.settings, env.engine),
    )


def serve_workers(
    env: Env,
    host: str,
    port: int,
    limits: api_limits.Limits,
    follow: float,
    count: int,
    options: dict[str, Any],
) -> None:
    """Serve this node in `count` worker processes with one index follower, until SIGTERM or
    SIGINT (gongshi.workers)."""
    from gongshi import workers

    memory = node_memory.NodeMemory(bucket_store.table_bytes(limits.rate_clients))
    index_dir = env.settings.index_dir

    def worker(slot: node_memory.WorkerSlot) -> ASGIApp:
        env.engine.dispose(close=False)  # the supervisor's pool, if any, is not this process's
        application = node_application(env, limits, follow, slot)
        gc.collect()
        gc.freeze()  # as run_server does
        return application

    def index_follower(stop: workers.Stop) -> None:
        env.engine.dispose(close=False)
        follower.lead(index_dir, env.engine, memory, follow, None, stop)

    children = workers.Children(
        application=worker,
        uvicorn_options={**options, "timeout_graceful_shutdown": workers.STOP_SECONDS - 5},
        # a node that searches the database's rows has no index folder to follow
        follower=index_follower
        if env.settings.search == "whoosh" and indexer.current(index_dir) is not None
        else None,
    )
    sock = workers.listen(host, port)
    env.engine.dispose()  # no connection is shared with the workers
    for module in APPLICATION_MODULES:  # imported once here, shared by every fork
        importlib.import_module(module)
    gc.collect()
    gc.freeze()
    try:
        workers.Supervisor(sock, memory, count, children).run()
    except workers.NodeFailed as error:
        raise click.ClickException(str(error)) from error
    finally:
        sock.close()
        memory.close()


def compose(api: ASGIApp, portal: ASGIApp) -> ASGIApp:
    """One node's application: /portal/ to the portal, all else (and the lifespan) to the API,
    so that none of the API's middleware (its open CORS above all) touches the portal's pages."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and portal_paths(scope["path"]):
            await portal(scope, receive, send)
            return
        await api(scope, receive, send)

    return application


def portal_paths(path: str) -> bool:
    """Whether the portal answers `path` (/portal and below)."""
    return path == "/portal" or path.startswith("/portal/")


@click.command()
@click.option("--records", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option(
    "--port",
    type=PORT,
    default=settings.DEFAULT_PORT,
    show_default=True,
    help="Port to serve on (on 127.0.0.1); the site is published for it.",
)
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve at the end.")
@as_of_option
@click.pass_obj
def demo(env: Env, records: int, port: int, serve: bool, as_of: dt.datetime | None) -> None:
    """The real thing on the embedded default: sample data, lifecycle, search index, the site
    published, then the site and the API served together."""
    on = as_of_date(as_of)
    if serve:
        require_free("127.0.0.1", port, "--port (make demo PORT=…)")
    # one address in every output: the pages, feeds and bulk files, and the API's `url`
    base_url = settings.local_base_url(port)
    env.settings = dataclasses.replace(env.settings, base_url=base_url)
    with user_errors():
        db.upgrade(env.engine)
        with db.transaction(env.engine) as session:
            empty = not any(count.stored for count in figures.record_counts(session, on))
        if empty:
            generate_sample(env, records, 1, on)
        folder = env.settings.index_dir
        with progress(seconds=True) as bar:
            task = bar.add_task(f"lifecycle as of {on}", total=None)
            with db.transaction(env.engine) as session:
                report = lifecycle.run(session, as_of=on)
            indexed = None  # the database's search rows are written with the data, once filled
            if env.settings.search == "database":
                with db.transaction(env.engine) as session:
                    if not search_rows.kept(session.connection()):
                        bar.update(task, description="the search rows of every record")
                        search_rows.fill(session)
            else:
                bar.update(task, description=f"the search index as of {on}")
                if indexer.current(folder) is None:
                    indexed = indexer.rebuild(folder, env.engine, on=on, processes=2)
                else:
                    indexed = indexer.update(folder, env.engine, on=on)
        published = publish_release(
            env, env.settings.releases_dir, on, base_url, False, release.DEFAULT_KEEP, 2
        )
        with db.transaction(env.engine) as session:
            counts = figures.record_counts(session, on)
            logged = figures.event_counts(session)
    console.print(f"gongshi demo: {env.engine.url!r}, as of {on}")
    console.print(f"lifecycle: {report.expired} expired, {report.exited} exited")
    if indexed is None:
        console.print("search: the database's search rows (GONGSHI_SEARCH=database)")
    else:
        console.print(
            f"search index: {indexed.indexed} indexed, {indexed.removed} removed "
            f"(to event {indexed.watermark.event_id})"
        )
    click.echo(published)
    table = Table("kind", "stored", "public today", "under objection")
    for row in counts:
        table.add_row(row.kind.value, str(row.stored), str(row.public), str(row.under_objection))
    console.print(table)
    console.print("change log:")
    log = Table("event", "count")
    for type_, count in sorted(logged.items()):
        log.add_row(type_.value, str(count))
    console.print(log)
    if serve:
        require_free("127.0.0.1", port, "--port (make demo PORT=…)")  # it may be taken since
        site = urls.Urls(base_url)
        click.echo(f"the site:    {site.base}")
        click.echo(f"the API:     {site(urls.API)}  (GraphiQL in a browser)")
        click.echo(f"the portal:  {site.portal()}  (accounts: gongshi user create)")
        click.echo("stop with Ctrl-C")
        run_server(env, "127.0.0.1", port, _limits(env, 32, True), True, 5.0)
