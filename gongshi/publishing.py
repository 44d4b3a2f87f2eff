"""`gongshi publish`: the site, feeds and bulk data as one atomic release."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Generator, Sequence
from pathlib import Path

import click
from rich.progress import Progress, TaskID

from disclosure import measures_file, settings, urls
from gongshi.env import Env, UserMistake, as_of_date, as_of_option, console, progress, user_errors
from publishers import bulk, feed_builder, release, site


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of releases and the `current` link (default: GONGSHI_SITE_DIR or var/site).",
)
@as_of_option
@click.option(
    "--base-url",
    default=None,
    help="The public site's address, in every link and feed id (default: GONGSHI_BASE_URL; "
    "one of them is needed).",
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
    if base_url is None and not env.settings.base_url_given:
        # every feed id, canonical link and sitemap entry is made from it, and a feed id must
        # never change: the local default is for the demo only
        raise UserMistake(
            "publish needs the public site's address: give --base-url URL or set GONGSHI_BASE_URL"
        )
    with user_errors():
        env.require_schema()
        report = publish_release(
            env, out or env.settings.releases_dir, on, base_url, full, keep, workers
        )
    console.print(report, soft_wrap=True)


def publish_release(
    env: Env, out: Path, on: dt.date, base_url: str | None, full: bool, keep: int, workers: int
) -> str:
    """Publish one release into `out` for `base_url` (else the settings'); returns the report."""
    url = base_url or env.settings.base_url
    if not url.startswith(("http://", "https://")):
        raise UserMistake(f"--base-url is not an http(s) URL: {url!r}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserMistake(
            f"cannot make the site folder {out} (--out or GONGSHI_SITE_DIR): {error.strerror}"
        ) from error
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserMistake(f"cannot write into the site folder {out} (--out or GONGSHI_SITE_DIR)")
    options = site.SiteOptions(
        on=on,
        links=urls.Urls(url),
        rules=env.rules(),
        measure_list=measures_file.load(env.settings.measures_path),
        database_url=env.engine.url.render_as_string(hide_password=False),
        workers=workers,
        full=full,
        # each worker runs the `gongshi` script again to start: it finds the command line
        # imported already
        worker_imports=("gongshi.cli",),
    )
    report = site.SiteReport()
    feed_options = feed_builder.FeedOptions(on=on, links=options.links)
    feed_report = feed_builder.FeedReport()
    bulk_options = bulk.BulkOptions(
        on=on,
        links=options.links,
        database_url=options.database_url,
        workers=workers,
    )
    bulk_report = bulk.BulkReport()
    start = time.perf_counter()
    builders = [
        # the site first: it sets its workers rendering the changed records and linking the
        # unchanged pages, then lets feeds and bulk data run meanwhile, and finishes after
        # them (its open-data page links what they wrote)
        (site.NAME, site.builder(env.engine, options, report)),
        (feed_builder.NAME, feed_builder.builder(env.engine, feed_options, feed_report)),
        (bulk.NAME, bulk.builder(env.engine, bulk_options, bulk_report)),
    ]
    with progress(seconds=True) as bar:
        task = bar.add_task(f"publishing as of {on} into {out}", total=None)
        built = release.publish(
            out,
            _shown(bar, task, builders),
            now=settings.utcnow(),
            keep=keep,
            manifest={"as_of": on.isoformat(), "base_url": options.links.base},
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


def _shown(
    bar: Progress, task: TaskID, builders: Sequence[tuple[str, release.Builder]]
) -> list[tuple[str, release.Builder]]:
    """The builders, each naming itself in the progress display while it works."""
    return [(name, _showing(bar, task, name, build)) for name, build in builders]


def _showing(bar: Progress, task: TaskID, name: str, build: release.Builder) -> release.Builder:
    def shown(built: release.Release) -> Generator[None, None, None] | None:
        bar.update(task, description=f"publishing: {name}")
        started = build(built)
        return None if started is None else _resumed(bar, task, name, started)

    return shown


def _resumed(
    bar: Progress, task: TaskID, name: str, started: Generator[None, None, None]
) -> Generator[None, None, None]:
    # closing it when the release closes this one: a builder stops its workers on close
    with contextlib.closing(started):
        for step in started:
            yield step
            bar.update(task, description=f"publishing: finishing {name}")
