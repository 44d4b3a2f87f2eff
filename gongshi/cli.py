"""The `gongshi` command line: the one place that wires settings, database and packages."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlalchemy as sa
import uvicorn
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlmodel import SQLModel

from api import app as api_app
from api import limits as api_limits
from disclosure import (
    audit,
    db,
    ingest,
    lifecycle,
    models,
    queries,
    readers,
    sample,
    sample_files,
    settings,
    template,
    tokens,
    workdays,
    workflows,
)
from publishers import release, search, site
from search_index import indexer

F = TypeVar("F", bound=Callable[..., Any])
KINDS = {
    "license": models.RecordKind.LICENSE,
    "penalty": models.RecordKind.PENALTY,
    "list-entry": models.RecordKind.LIST_ENTRY,
}
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
    indexer.IndexUnavailable,
    ingest.IngestError,
    tokens.TokenError,
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
@click.option(
    "--to-files",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write national-template files into this folder instead of the database.",
)
@click.option("--format", "format_", type=click.Choice(["csv", "xlsx"]), default="csv")
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(["license", "penalty", "list-entry"]),
    multiple=True,
    help="Only records of this kind (repeatable; default: all three).",
)
@as_of_option
@click.pass_obj
def sample_command(
    env: Env,
    records: int,
    seed: int,
    to_files: Path | None,
    format_: str,
    kinds: tuple[str, ...],
    as_of: dt.datetime | None,
) -> None:
    """Generate realistic synthetic data into an empty database, or as template files."""
    on = as_of_date(as_of)
    chosen = [KINDS[kind] for kind in kinds] or None
    with user_errors():
        if to_files is not None:
            written = _sample_files(env, records, seed, on, chosen, to_files, format_)
            for name, count in written.items():
                console.print(f"wrote {to_files / name}: {count} rows")
            return
        env.require_schema()
        report = _generate_sample(env, records, seed, on, chosen)
    console.print(f"sample data as of {on} (seed {seed}):")
    table = Table("created", "count")
    table.add_row("subjects", str(report.subjects))
    for kind, count in sorted(report.created.items()):
        table.add_row(kind.value, str(count))
    for story, count in sorted(report.stories.items()):
        table.add_row(story, str(count))
    console.print(table)


def _sample_files(
    env: Env,
    records: int,
    seed: int,
    on: dt.date,
    kinds: list[models.RecordKind] | None,
    directory: Path,
    format_: str,
) -> dict[str, int]:
    """Generate into a scratch SQLite database, then write its records as template files."""
    with tempfile.TemporaryDirectory(prefix="gongshi-sample-") as scratch:
        engine = db.create_engine(f"sqlite:///{Path(scratch) / 'sample.db'}")
        try:
            SQLModel.metadata.create_all(engine)
            _generate_sample(env, records, seed, on, kinds, engine=engine)
            with db.transaction(engine) as session:
                return sample_files.write(session, directory, format=format_)
        finally:
            engine.dispose()


def _generate_sample(
    env: Env,
    records: int,
    seed: int,
    on: dt.date,
    kinds: list[models.RecordKind] | None = None,
    *,
    engine: sa.Engine | None = None,
) -> sample.SampleReport:
    calendar = env.calendar()
    with (
        Progress(console=console, transient=True, disable=not sys.stderr.isatty()) as progress,
        db.transaction(engine or env.engine) as session,
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
            kinds=kinds,
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


@main.command(name="index")
@click.option("--rebuild", is_flag=True, help="Build a fresh index and switch to it atomically.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Shards built in parallel by --rebuild.",
)
@as_of_option
@click.pass_obj
def index_command(env: Env, rebuild: bool, processes: int, as_of: dt.datetime | None) -> None:
    """Bring the search index up to date from the change log (or rebuild it)."""
    on = as_of_date(as_of)
    folder = env.settings.index_dir
    with user_errors():
        env.require_schema()
        if rebuild or indexer.current(folder) is None:
            report = indexer.rebuild(folder, env.engine, on=on, processes=processes)
            console.print(
                f"index rebuilt as of {on}: {report.indexed} records in {report.seconds:.1f} s "
                f"(to event {report.watermark.event_id})"
            )
        else:
            report = indexer.update(folder, env.engine, on=on)
            console.print(
                f"index updated as of {on}: {report.events} events, {report.indexed} indexed, "
                f"{report.removed} removed in {report.seconds:.1f} s"
            )


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
        folder = env.settings.index_dir
        if indexer.current(folder) is None:
            indexed = indexer.rebuild(folder, env.engine, on=on, processes=2)
        else:
            indexed = indexer.update(folder, env.engine, on=on)
        with db.transaction(env.engine) as session:
            counts = queries.record_counts(session, on)
            logged = queries.event_counts(session)
    console.print(f"gongshi demo: {env.engine.url!r}, as of {on}")
    console.print(f"lifecycle: {report.expired} expired, {report.exited} exited")
    console.print(
        f"search index: {indexed.indexed} indexed, {indexed.removed} removed "
        f"(to event {indexed.watermark.event_id})"
    )
    table = Table("kind", "stored", "public today", "under objection")
    for row in counts:
        table.add_row(row.kind.value, str(row.stored), str(row.public), str(row.under_objection))
    console.print(table)
    console.print("change log:")
    log = Table("event", "count")
    for type_, count in sorted(logged.items()):
        log.add_row(type_.value, str(count))
    console.print(log)


class UnreadableFile(click.ClickException):
    """The input file cannot be read as a template table: exit status 2, nothing written."""

    exit_code = 2


EXIT_REJECTED = 3


@main.command(name="ingest")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--kind", type=click.Choice(sorted(KINDS)), required=True, help="What the rows are.")
@click.option(
    "--source-unit", metavar="CODE", help="Credit code of the supplying department (数据来源单位)."
)
@click.option("--encoding", help="CSV encoding (default: detected; utf-8, utf-8-sig, gb18030).")
@click.option("--sheet", help="XLSX sheet to read (default: the first).")
@as_of_option
@click.pass_obj
def ingest_command(
    env: Env,
    file: Path,
    kind: str,
    source_unit: str | None,
    encoding: str | None,
    sheet: str | None,
    as_of: dt.datetime | None,
) -> None:
    """Ingest a national-template CSV or XLSX file of licenses, penalties or list entries.

    Exit status: 0 every row accepted (or already stored), 3 some rows rejected (see
    FILE.rejects.csv), 2 the file could not be read (nothing written).
    """
    on = as_of_date(as_of)
    calendar = env.calendar()
    ctx = workflows.Context(actor="ingest", on=on, rules=env.rules(), calendar=calendar)
    with user_errors():
        env.require_schema()
        try:
            with (
                Progress(console=console, transient=True, disable=not sys.stderr.isatty()) as bar,
                db.transaction(env.engine) as session,
            ):
                task = bar.add_task(f"ingesting {file.name}", total=None)
                report = ingest.ingest(
                    session,
                    file,
                    kind=KINDS[kind],
                    ctx=ctx,
                    source_unit=source_unit,
                    encoding=encoding,
                    sheet=sheet,
                    progress=lambda n: bar.advance(task, n),
                )
        except (readers.ReadError, template.TemplateError) as error:
            raise UnreadableFile(f"{error} — 未写入任何数据 / nothing was written") from error
    _print_ingest(report, on, calendar)
    if report.rejected:
        sys.exit(EXIT_REJECTED)


def _print_ingest(report: ingest.IngestReport, on: dt.date, calendar: workdays.Calendar) -> None:
    console.print(
        f"ingest {report.path.name} ({report.kind.value}, {report.format}) as of {on}, "
        "in one transaction:",
        soft_wrap=True,
    )
    late = f" ({report.late} late: over 7 working days after the decision)"
    lines = [
        ("rows read", report.read, ""),
        ("accepted", report.accepted, late if report.late else ""),
        ("corrected", report.corrected, ""),
        ("unchanged", report.unchanged, ""),
        ("rejected", report.rejected, f" → {report.rejects_path}" if report.rejects_path else ""),
    ]
    for name, count, note in lines:
        console.print(f"  {name:<10}{count:>9}{note}", soft_wrap=True)
    for rule, count in sorted(report.rules.items()):
        console.print(f"    {rule}: {count}")
    for party in report.registered:
        console.print(f"registered department: {party.name} ({party.credit_code})")
    if not report.changed:
        console.print("nothing changed: every accepted row was already stored as given")
    years = workdays.fallback_years([on], calendar)
    if years and report.accepted:
        console.print(
            f"note: no holiday schedule for {', '.join(map(str, sorted(years)))}: working days "
            "counted Monday–Friday; add it to GONGSHI_HOLIDAYS_FILE"
        )


@main.group()
def token() -> None:
    """API tokens of the departments and the operator."""


@token.command(name="create")
@click.option("--unit", "unit_code", required=True, help="The department's credit code.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in models.Role]),
    default=models.Role.DEPARTMENT.value,
    show_default=True,
)
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.pass_obj
def token_create(env: Env, unit_code: str, role: str, expires: dt.datetime | None) -> None:
    """Create a token and print its secret, once: only a digest of it is kept."""
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            created, secret = tokens.create(
                session,
                unit_code=unit_code,
                role=models.Role(role),
                expires_on=expires.date() if expires else None,
            )
    console.print(f"token #{created.id} for {created.unit.name} ({role}); its secret, shown once:")
    click.echo(secret)


@token.command(name="list")
@click.pass_obj
def token_list(env: Env) -> None:
    """List tokens (never their secrets)."""
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            found = tokens.all_tokens(session)
            for row in found:
                revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "live"
                click.echo(
                    f"#{row.id}\t{row.unit.credit_code}\t{row.unit.name}\t{row.role.value}\t"
                    f"created {row.created_at:%Y-%m-%d %H:%M}\t"
                    f"expires {row.expires_on or 'never'}\t{revoked}"
                )


@token.command(name="revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def token_revoke(env: Env, token_id: int) -> None:
    """Revoke a token from now on."""
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            tokens.revoke(session, token_id)
    console.print(f"token #{token_id} revoked")


@main.command(name="audit")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.pass_obj
def audit_command(env: Env, since: dt.datetime) -> None:
    """Print the audit trail of API writes since a day (UTC)."""
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            entries = audit.since(session, since.date())
    for entry in entries:
        records = ",".join(entry.records) or "-"
        click.echo(
            f"{entry.at:%Y-%m-%dT%H:%M:%SZ}\ttoken={entry.token_id or '-'}\t"
            f"unit={entry.unit_id or '-'}\t{entry.operation}\t{records}\t{entry.outcome}"
        )


@main.command(name="overdue")
@as_of_option
@click.pass_obj
def overdue_command(env: Env, as_of: dt.datetime | None) -> None:
    """List objections and repair applications past their due day, and late withdrawals."""
    on = as_of_date(as_of)
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            late = queries.overdue(session, on)
            slow = queries.late_withdrawals(session, workflows.WITHDRAWAL_DAYS)
    for objection in late.objections:
        click.echo(
            f"objection #{objection.id}\t{objection.record_kind.value}:{objection.record_id}\t"
            f"opened {objection.opened_on}\tdue {objection.due_on}"
        )
    for repair in late.repairs:
        click.echo(
            f"repair #{repair.id}\t{repair.record_kind.value}:{repair.record_id}\t"
            f"applied {repair.applied_on}\tdue {repair.due_on}"
        )
    for withdrawal in slow:
        click.echo(
            f"late withdrawal #{withdrawal.id}\t{withdrawal.record_kind.value}:"
            f"{withdrawal.record_id}\tdecision changed {withdrawal.decision_changed_on}\t"
            f"withdrawn {withdrawal.withdrawn_on}"
        )
    click.echo(
        f"as of {on}: {len(late.objections)} objections and {len(late.repairs)} repairs overdue, "
        f"{len(slow)} withdrawals later than {workflows.WITHDRAWAL_DAYS} days"
    )


@main.command()
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
    no_introspection: bool,
    access_log: bool,
    follow: float,
) -> None:
    """Serve GraphQL at /graphql, /healthz, and the published site at /."""
    with user_errors():
        env.require_schema()
    if access_log:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger = logging.getLogger("gongshi.access")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    closed = no_introspection
    application = api_app.create_app(
        env.settings,
        env.engine,
        limits=api_limits.Limits(introspection=not closed, graphiql=not closed),
        follow_seconds=follow,
    )
    uvicorn.run(
        application,
        host=host,
        port=port,
        limit_concurrency=limit_concurrency,
        access_log=False,  # gongshi.access writes one JSON line per request instead
        log_level="warning",
    )


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
