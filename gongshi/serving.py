"""Commands that put gongshi in front of people: publish the site, serve it with the API, and
the demo that does everything on the embedded default."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import logging
import os
import sys
import time
from pathlib import Path

import click
from rich.table import Table

from api import limits as api_limits
from api import ratelimit
from disclosure import (
    db,
    lifecycle,
    queries,
    settings,
)
from gongshi.env import Env, as_of_date, as_of_option, console, user_errors
from gongshi.records import generate_sample
from publishers import bulk, feed_builder, release, site
from search_index import indexer


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
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
    run_server(env, host, port, limits, access_log, follow)


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
) -> None:
    """Serve this node until interrupted."""
    # the application and the server are imported here, when they run: importing them takes a
    # third of a second of every other command, and of each publish worker (which imports this
    # module again to start)
    import uvicorn

    from api import app as api_app

    if access_log:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger = logging.getLogger("gongshi.access")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    application = api_app.create_app(
        env.settings,
        env.engine,
        limits=limits,
        follow_seconds=follow,
    )
    # what is alive now (modules, the schema, the engine: ~110,000 objects) lives as long as the
    # node. Frozen, a full collection under load no longer walks it: those pauses of tens of
    # milliseconds, 225 ms at worst when measured under wrk, were the API's p99 then (9e5c321)
    gc.collect()
    gc.freeze()
    uvicorn.run(
        application,
        host=host,
        port=port,
        access_log=False,  # gongshi.access writes one JSON line per request instead
        log_level="warning",
        proxy_headers=False,  # the API decides whose X-Forwarded-For to believe (--trusted-proxy)
    )


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of releases and the `current` link (default: GONGSHI_SITE_DIR or var/site).",
)
@as_of_option
@click.option(
    "--base-url", default=None, help="The public site's address (default: GONGSHI_BASE_URL)."
)
@click.option(
    "--full", is_flag=True, help="Render every page even if an incremental build would do."
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=release.DEFAULT_KEEP,
    show_default=True,
    help="Releases to keep.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default="cores"
)
@click.pass_obj
def publish(
    env: Env,
    out: Path | None,
    as_of: dt.datetime | None,
    base_url: str | None,
    full: bool,
    keep: int,
    workers: int,
) -> None:
    """Publish the site as one atomic release and make it current."""
    on = as_of_date(as_of)
    with user_errors():
        env.require_schema()
        report = _publish(env, out or env.settings.releases_dir, on, base_url, full, keep, workers)
    console.print(report, soft_wrap=True)


def _publish(
    env: Env, out: Path, on: dt.date, base_url: str | None, full: bool, keep: int, workers: int
) -> str:
    url = base_url or env.settings.base_url
    if not url.startswith(("http://", "https://")):
        raise click.ClickException(f"--base-url is not an http(s) URL: {url!r}")
    options = site.SiteOptions(
        on=on,
        base_url=url if url.endswith("/") else url + "/",
        rules=env.rules(),
        database_url=env.engine.url.render_as_string(hide_password=False),
        workers=workers,
        full=full,
        # each worker runs the `gongshi` script again to start: it finds the command line
        # imported already
        worker_imports=("gongshi.cli",),
    )
    report = site.SiteReport()
    feed_options = feed_builder.FeedOptions(on=on, base_url=options.base_url)
    feed_report = feed_builder.FeedReport()
    bulk_options = bulk.BulkOptions(
        on=on,
        base_url=options.base_url,
        database_url=options.database_url,
        workers=workers,
    )
    bulk_report = bulk.BulkReport()
    start = time.perf_counter()
    built = release.publish(
        out,
        [
            # the site first: it sets its workers rendering the changed records and linking the
            # unchanged pages, then lets feeds and bulk data run meanwhile, and finishes after
            # them (its open-data page links what they wrote)
            (site.NAME, site.builder(env.engine, options, report)),
            (feed_builder.NAME, feed_builder.builder(env.engine, feed_options, feed_report)),
            (bulk.NAME, bulk.builder(env.engine, bulk_options, bulk_report)),
        ],
        now=settings.utcnow(),
        keep=keep,
        manifest={"as_of": on.isoformat(), "base_url": options.base_url},
    )
    seconds = time.perf_counter() - start
    mode = "incremental" if report.incremental else "full"
    return (
        f"published release {built.id} as of {on} ({mode}) into {out}: "
        f"{report.pages_rendered} pages rendered ({report.records_rendered} record pages), "
        f"{built.written} files written, {built.kept} unchanged; "
        f"{report.public} public records, {report.gone} gone; "
        f"search index: {report.search_pages} pages in {report.search_bundles} "
        f"bundle{'' if report.search_bundles == 1 else 's'} re-indexed "
        f"({report.search_bundles_kept} kept), {report.search_seconds:.1f} s "
        f"of Pagefind (peak {report.search_peak_mb:.0f} MB); "
        f"{feed_report.feeds} feeds; {bulk_report.records} records in bulk files "
        f"({bulk_report.added} added, {bulk_report.modified} modified, "
        f"{bulk_report.deleted} deleted); {seconds:.1f} s"
    )


@click.command()
@click.option("--records", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve at the end.")
@as_of_option
@click.pass_obj
def demo(env: Env, records: int, port: int, serve: bool, as_of: dt.datetime | None) -> None:
    """The real thing on the embedded default: sample data, lifecycle, search index, the site
    published, then the site and the API served together."""
    on = as_of_date(as_of)
    with user_errors():
        db.upgrade(env.engine)
        with db.transaction(env.engine) as session:
            empty = not any(count.stored for count in queries.record_counts(session, on))
        if empty:
            generate_sample(env, records, 1, on)
        with db.transaction(env.engine) as session:
            report = lifecycle.run(session, as_of=on)
        folder = env.settings.index_dir
        if indexer.current(folder) is None:
            indexed = indexer.rebuild(folder, env.engine, on=on, processes=2)
        else:
            indexed = indexer.update(folder, env.engine, on=on)
        base_url = f"http://127.0.0.1:{port}/"
        published = _publish(
            env, env.settings.releases_dir, on, base_url, False, release.DEFAULT_KEEP, 2
        )
        with db.transaction(env.engine) as session:
            counts = queries.record_counts(session, on)
            logged = queries.event_counts(session)
    console.print(f"gongshi demo: {env.engine.url!r}, as of {on}")
    console.print(f"lifecycle: {report.expired} expired, {report.exited} exited")
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
        click.echo(f"the site:    {base_url}")
        click.echo(f"the API:     {base_url}graphql  (GraphiQL in a browser)")
        click.echo("stop with Ctrl-C")
        run_server(env, "127.0.0.1", port, _limits(env, 32, True), True, 5.0)
