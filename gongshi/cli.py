"""The `gongshi` command line: the one place that wires settings, database and packages."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from disclosure import db, lifecycle, queries, sample, settings, workdays
from publishers import release, search, site

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False)


class Env:
    """What every command needs: settings and an engine, built once per invocation."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.settings = settings.Settings.from_env(environ)
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = db.create_engine(self.settings.database_url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def rules(self) -> lifecycle.Rules:
        return lifecycle.load_rules(self.settings.rules_path)

    def calendar(self) -> workdays.Calendar:
        return workdays.Calendar.load(self.settings.holidays_path)

    def require_schema(self) -> None:
        if db.current_revision(self.engine) != db.head_revision(self.engine):
            raise click.ClickException("the database schema is missing or old: run `gongshi init`")


# Errors a user can act on: one line, exit status 1 (click's usage errors exit 2).
USER_ERRORS: tuple[type[Exception], ...] = (
    settings.SettingsError,
    lifecycle.RulesError,
    workdays.CalendarError,
    sample.SampleError,
    sa.exc.OperationalError,
    release.ReleaseError,
    search.SearchIndexError,
)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except USER_ERRORS as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise click.ClickException(message) from error


def as_of_option(function: F) -> F:
    return click.option(
        "--as-of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="The day to act as of (default: today in Asia/Shanghai).",
    )(function)


def as_of_date(value: dt.datetime | None) -> dt.date:
    return value.date() if value is not None else settings.today()


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """gongshi: publication of public credit information (双公示, red and black lists)."""
    with user_errors():
        ctx.obj = Env(dict(os.environ))
    ctx.call_on_close(ctx.obj.close)


@main.command()
@click.pass_obj
def init(env: Env) -> None:
    """Create or migrate the database."""
    with user_errors():
        revision = db.upgrade(env.engine)
    console.print(f"database ready at schema revision {revision}: {env.engine.url!r}")


@main.command(name="sample")
@click.option("--records", type=click.IntRange(min=1), required=True, help="How many records.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@as_of_option
@click.pass_obj
def sample_command(env: Env, records: int, seed: int, as_of: dt.datetime | None) -> None:
    """Generate realistic synthetic data into an empty database."""
    on = as_of_date(as_of)
    with user_errors():
        env.require_schema()
        report = _generate_sample(env, records, seed, on)
    console.print(f"sample data as of {on} (seed {seed}):")
    table = Table("created", "count")
    table.add_row("subjects", str(report.subjects))
    for kind, count in sorted(report.created.items()):
        table.add_row(kind.value, str(count))
    for story, count in sorted(report.stories.items()):
        table.add_row(story, str(count))
    console.print(table)


def _generate_sample(env: Env, records: int, seed: int, on: dt.date) -> sample.SampleReport:
    calendar = env.calendar()
    with (
        Progress(console=console, transient=True, disable=not sys.stderr.isatty()) as progress,
        db.transaction(env.engine) as session,
    ):
        task = progress.add_task("generating", total=records)
        report = sample.generate(
            session,
            records=records,
            seed=seed,
            as_of=on,
            rules=env.rules(),
            calendar=calendar,
            progress=lambda n: progress.advance(task, n),
        )
    years = workdays.fallback_years([on], calendar)
    if years:
        console.print(
            f"note: no holiday schedule for {', '.join(map(str, sorted(years)))}: working days "
            "counted Monday–Friday; add it to GONGSHI_HOLIDAYS_FILE"
        )
    return report


@main.command(name="lifecycle")
@as_of_option
@click.pass_obj
def lifecycle_command(env: Env, as_of: dt.datetime | None) -> None:
    """Append the events of every record whose publicity ran out."""
    on = as_of_date(as_of)
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            report = lifecycle.run(session, as_of=on)
    console.print(f"lifecycle as of {on}: {report.expired} expired, {report.exited} exited")


@main.command()
@click.option("--records", type=click.IntRange(min=1), default=2000, show_default=True)
@as_of_option
@click.pass_obj
def demo(env: Env, records: int, as_of: dt.datetime | None) -> None:
    """Run the real thing on the embedded default: init, sample data, lifecycle, summary."""
    on = as_of_date(as_of)
    with user_errors():
        db.upgrade(env.engine)
        with db.transaction(env.engine) as session:
            empty = not any(count.stored for count in queries.record_counts(session, on))
        if empty:
            _generate_sample(env, records, 1, on)
        with db.transaction(env.engine) as session:
            report = lifecycle.run(session, as_of=on)
        with db.transaction(env.engine) as session:
            counts = queries.record_counts(session, on)
            logged = queries.event_counts(session)
    console.print(f"gongshi demo: {env.engine.url!r}, as of {on}")
    console.print(f"lifecycle: {report.expired} expired, {report.exited} exited")
    table = Table("kind", "stored", "public today", "under objection")
    for row in counts:
        table.add_row(row.kind.value, str(row.stored), str(row.public), str(row.under_objection))
    console.print(table)
    console.print("change log:")
    log = Table("event", "count")
    for type_, count in sorted(logged.items()):
        log.add_row(type_.value, str(count))
    console.print(log)


@main.command()
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
    )
    report = site.SiteReport()
    start = time.perf_counter()
    built = release.publish(
        out,
        [(site.NAME, site.builder(env.engine, options, report))],
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
        f"{report.public} public records, {report.gone} gone; {seconds:.1f} s"
    )
