"""`gongshi report`: the bureau's reports (plan (二十三)) as spreadsheets, and a subject's credit
report (公共信用信息报告) as a PDF."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click
import openpyxl

from disclosure import db, feedback, list_measures, measures_file, report_codes, spreadsheet
from gongshi.env import Env, UserMistake, as_of_date, as_of_option, user_errors


@click.group(name="report")
def report() -> None:
    """The bureau's reports, and a subject's credit report."""


@report.command(name="feedback")
@click.option("--month", required=True, help="the month, YYYY-MM")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="the folder the XLSX and CSV files are written to",
)
@as_of_option
@click.pass_obj
def feedback_command(env: Env, month: str, out: Path, as_of: dt.datetime | None) -> None:
    """Write the month's trigger-feedback figures (触发反馈) per measure and implementing
    department as feedback-YYYY-MM.xlsx and .csv."""
    on = as_of_date(as_of)
    try:
        feedback.month_span(month)
    except ValueError as error:
        raise UserMistake(f"--month: {error}") from error
    with user_errors():
        env.require_schema()
        catalogue = measures_file.load(env.settings.measures_path)
        with db.transaction(env.engine) as session:
            rows = feedback.monthly(
                session,
                month,
                today=on,
                catalogue=list_measures.catalogue(session, catalogue),
                calendar=env.calendar(),
            )
        if not out.is_dir():
            raise UserMistake(f"--out: {out} is not a folder")
        written = write(rows, out / f"feedback-{month}")
    for path in written:
        click.echo(str(path))


@report.command(name="subject")
@click.argument("key")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="the PDF file to write [default: credit-report-KEY-DAY.pdf here]",
)
@as_of_option
@click.pass_obj
def subject_command(env: Env, key: str, out: Path | None, as_of: dt.datetime | None) -> None:
    """Write the credit report (公共信用信息报告) of the subject with public key KEY (its credit
    code, or P… for a person) as a PDF, with its verification code."""
    # imported when it runs: fpdf2 takes most of a second to import, of every other command too
    from gongshi import credit_report, report_pdf

    on = as_of_date(as_of)
    if out is not None and not out.parent.is_dir():
        raise UserMistake(f"--out: the folder {out.parent} does not exist")
    with user_errors():
        env.require_schema()
        catalogue = measures_file.load(env.settings.measures_path)
        secret = report_codes.report_key(env.settings)
        try:
            with db.transaction(env.engine) as session:
                made = credit_report.make(
                    session,
                    key,
                    on,
                    rules=env.rules(),
                    catalogue=list_measures.catalogue(session, catalogue),
                    secret=secret,
                    links=env.settings.urls,
                )
        except report_pdf.FontMissing as error:
            raise click.ClickException(str(error)) from error
        if made is None:
            raise click.ClickException(credit_report.not_found(key, on))
        path = out or Path(credit_report.filename(made.content.subject.key, on))
        _atomic(path, lambda written: written.write_bytes(made.pdf))
    click.echo(str(path))
    click.echo(f"verification code / 验证码: {made.code}")
    click.echo(f"check at / 核验: {env.settings.urls.verify(made.code)}")


def table(rows: Sequence[feedback.MonthRow]) -> list[list[object]]:
    """The report's header and rows, as both files hold them."""
    header: list[object] = [zh for _, zh in feedback.MONTH_COLUMNS]
    names = [name for name, _ in feedback.MONTH_COLUMNS]
    return [header, *([dataclasses.asdict(row)[name] for name in names] for row in rows)]


def write(rows: Sequence[feedback.MonthRow], stem: Path) -> list[Path]:
    """`stem`.xlsx and `stem`.csv (UTF-8 with BOM), each written whole or not at all."""
    cells = table(rows)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "触发反馈"
    for line in cells:
        sheet.append([spreadsheet.neutralise(cell) for cell in line])
    xlsx, csv_path = stem.with_suffix(".xlsx"), stem.with_suffix(".csv")
    _atomic(xlsx, lambda path: book.save(path))

    def write_csv(path: Path) -> None:
        with path.open("w", encoding="utf-8-sig", newline="") as file:
            writer = csv.writer(file)
            for line in cells:
                writer.writerow(spreadsheet.neutralise_row(list(line)))

    _atomic(csv_path, write_csv)
    return [xlsx, csv_path]


def _atomic(path: Path, fill: object) -> None:
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(descriptor)
    try:
        fill(Path(name))  # type: ignore[operator]
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
