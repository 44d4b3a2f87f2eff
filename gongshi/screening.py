"""`gongshi match FILE`: screen a list of names against the public subjects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from sqlmodel import Session

from disclosure import match_file
from gongshi.env import Env, as_of_date, as_of_option, user_errors


@click.command(name="match")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=0.7,
    show_default=True,
    help="The score from which a subject matches.",
)
@click.option("--encoding", help="CSV encoding (default: detected; utf-8, utf-8-sig, gb18030).")
@as_of_option
@click.pass_obj
def match_command(
    env: Env, file: Path, threshold: float, encoding: str | None, as_of: dt.datetime | None
) -> None:
    """Screen FILE (CSV or XLSX with a name column, and optionally credit_code,
    legal_representative, region; Chinese headers too) and write each row's best public subject
    to FILE.match.csv beside it."""
    on = as_of_date(as_of)
    with user_errors():
        env.require_schema()
        try:
            with Session(env.engine) as session:
                report = match_file.screen_file(
                    session, file, on=on, threshold=threshold, encoding=encoding
                )
        except match_file.MatchFileError as error:
            raise click.ClickException(str(error)) from error
    click.echo(str(report.output))
    click.echo(
        f"rows {report.rows}: matched {report.matched}, not matched "
        f"{report.rows - report.matched - report.refused}, refused {report.refused}"
    )
