"""Commands over the records: schema, sample data, lifecycle, ingestion, search index."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import click
import sqlalchemy as sa
from rich.table import Table
from sqlmodel import SQLModel

from disclosure import (
    db,
    idkey,
    ingest,
    lifecycle,
    models,
    readers,
    sample,
    sample_files,
    search_rows,
    settings,
    template,
    upsert,
    workdays,
    workflows,
)
from gongshi.env import Env, as_of_date, as_of_option, console, progress, user_errors
from search_index import indexer

KINDS = {
    "license": models.RecordKind.LICENSE,
    "penalty": models.RecordKind.PENALTY,
    "list-entry": models.RecordKind.LIST_ENTRY,
}


@click.command()
@click.option(
    "--rotate-id-key",
    is_flag=True,
    help="Key every identity-number digest again under a new secret added to the key.",
)
@click.pass_obj
def init(env: Env, rotate_id_key: bool) -> None:
    """Create or migrate the database."""
    with user_errors():
        # the key first: migration 0006 keys the digests a database already holds
        key = settings.create_id_key(env.settings)
        revision = db.upgrade(env.engine, key)
        if rotate_id_key:
            done = idkey.rotate(
                env.engine, key, env.settings.id_key_file, in_env=env.settings.id_key_in_env
            )
    console.print(f"database ready at schema revision {revision}: {env.engine.url!r}")
    if not rotate_id_key:
        return
    console.print(f"identity-number key rotated: {done.digests} digests keyed again")
    if done.pending:
        console.print(
            f"the new key is in {done.key_file} (mode 0600): put its contents into "
            "GONGSHI_ID_KEY for every node, then remove the file; until then the nodes refuse "
            "to start, naming the key"
        )
    else:
        console.print(f"the new key is in {done.key_file}: back it up apart from the database")


@click.command(name="sample")
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
        report = generate_sample(env, records, seed, on, chosen)
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
            generate_sample(env, records, seed, on, kinds, engine=engine)
            with db.transaction(engine) as session:
                return sample_files.write(session, directory, format=format_)
        finally:
            engine.dispose()


def generate_sample(
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
        progress() as bar,
        db.transaction(engine or env.engine) as session,
    ):
        task = bar.add_task("generating", total=records)
        report = sample.generate(
            session,
            records=records,
            seed=seed,
            as_of=on,
            rules=env.rules(),
            calendar=calendar,
            progress=lambda n: bar.advance(task, n),
            kinds=kinds,
            id_key=env.settings.id_key,
        )
    years = workdays.fallback_years([on], calendar)
    if years:
        console.print(
            f"note: no holiday schedule for {', '.join(map(str, sorted(years)))}: working days "
            "counted Monday–Friday; add it to GONGSHI_HOLIDAYS_FILE"
        )
    return report


@click.command(name="lifecycle")
@as_of_option
@click.pass_obj
def lifecycle_command(env: Env, as_of: dt.datetime | None) -> None:
    """Append the events of every record whose publicity ran out."""
    on = as_of_date(as_of)
    with user_errors():
        env.require_schema()
        with progress(seconds=True) as bar, db.transaction(env.engine) as session:
            bar.add_task(f"lifecycle as of {on}: ending the publicity that ran out", total=None)
            report = lifecycle.run(session, as_of=on)
    console.print(f"lifecycle as of {on}: {report.expired} expired, {report.exited} exited")


@click.command(name="index")
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
        if env.settings.search == "database":
            _database_index(env, rebuild)
            return
        if rebuild or indexer.current(folder) is None:
            with progress(seconds=True) as bar:
                bar.add_task(f"building the search index as of {on} in {folder}", total=None)
                report = indexer.rebuild(folder, env.engine, on=on, processes=processes)
            console.print(
                f"index rebuilt as of {on}: {report.indexed} records in {report.seconds:.1f} s "
                f"(to event {report.watermark.event_id})"
            )
        else:
            with progress(seconds=True) as bar:
                bar.add_task(f"updating the search index as of {on}", total=None)
                report = indexer.update(folder, env.engine, on=on)
            console.print(
                f"index updated as of {on}: {report.events} events, {report.indexed} indexed, "
                f"{report.removed} removed in {report.seconds:.1f} s"
            )


def _database_index(env: Env, rebuild: bool) -> None:
    """With GONGSHI_SEARCH=database the search rows are written with every change once they have
    been filled: the first run fills them, later ones have nothing to build or follow; --rebuild
    writes them all again (after restoring a copy made without them, say)."""
    with env.engine.connect() as connection:
        kept = search_rows.kept(connection)
    if kept and not rebuild:
        console.print(
            "nothing to build: GONGSHI_SEARCH=database searches the database's search rows, "
            "written with every change (--rebuild writes them all again)"
        )
        return
    started = time.perf_counter()
    with progress(seconds=True) as bar:
        bar.add_task("writing the search rows of every record", total=None)
        with db.transaction(env.engine) as session:
            count = search_rows.fill(session)
    done = "rewritten" if kept else "written, and kept from now on by every writer"
    console.print(f"search rows {done}: {count} records in {time.perf_counter() - started:.1f} s")


class UnreadableFile(click.ClickException):
    """The input file cannot be read as a template table: exit status 2, nothing written."""

    exit_code = 2


EXIT_REJECTED = 3


@click.command(name="ingest")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--kind", type=click.Choice(sorted(KINDS)), required=True, help="What the rows are.")
@click.option(
    "--source-unit", metavar="CODE", help="Credit code of the supplying department (数据来源单位)."
)
@click.option("--encoding", help="CSV encoding (default: detected; utf-8, utf-8-sig, gb18030).")
@click.option("--sheet", help="XLSX sheet to read (default: the first).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes that check rows (1: this one); one writer applies them in file order.",
)
@as_of_option
@click.pass_obj
def ingest_command(
    env: Env,
    file: Path,
    kind: str,
    source_unit: str | None,
    encoding: str | None,
    sheet: str | None,
    workers: int,
    as_of: dt.datetime | None,
) -> None:
    """Ingest a national-template CSV or XLSX file of licenses, penalties or list entries.

    Exit status: 0 every row accepted (or already stored), 3 some rows rejected (see
    FILE.rejects.csv), 2 the file could not be read (nothing written).
    """
    on = as_of_date(as_of)
    calendar = env.calendar()
    ctx = workflows.Context(
        actor="ingest", on=on, rules=env.rules(), calendar=calendar, id_key=env.settings.id_key
    )
    with user_errors():
        env.require_schema()
        try:
            with (
                progress() as bar,
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
                    workers=workers,
                )
        except (readers.ReadError, template.TemplateError) as error:
            raise UnreadableFile(f"{error} — 未写入任何数据 / nothing was written") from error
    _print_ingest(report, on, calendar)
    if report.rejected:
        sys.exit(EXIT_REJECTED)


def _print_ingest(report: upsert.IngestReport, on: dt.date, calendar: workdays.Calendar) -> None:
    assert report.path is not None
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
