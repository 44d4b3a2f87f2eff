"""`gongshi report feedback`: the month's figures as XLSX and CSV, the same as the API's."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlmodel import Session

from disclosure import db, feedback, list_measures, measures, models, tokens, workdays
from gongshi import cli
from tests import conftest, factories


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return conftest.cli_runner(tmp_path, monkeypatch)


def test_feedback_report_writes_the_monthly_figures(run: CliRunner, tmp_path: Path) -> None:
    assert run.invoke(cli.main, ["init"]).exit_code == 0
    engine = db.create_engine(conftest.POSTGRES_URL or f"sqlite:///{tmp_path / 'var/gongshi.db'}")
    with Session(engine) as session:
        subject = factories.add_subject(session)
        factories.add_penalty(session, subject_id=subject.id, severity=models.Severity.SERIOUS)
        unit = factories.add_department(session, "赤坎区应急管理局")
        token, _ = tokens.create(session, unit_code=unit.credit_code, role=models.Role.IMPLEMENTER)
        assert subject.id is not None
        feedback.report(
            session,
            token=token,
            subject_id=subject.id,
            measure_code="CJ-06",
            applied_on=factories.DEFAULT_ON,
            outcome=models.FeedbackOutcome.APPLIED,
            note=None,
            today=factories.DEFAULT_ON,
            catalogue=measures.BUILT_IN,
        )
        session.commit()
        expected = feedback.monthly(
            session,
            "2026-06",
            today=dt.date(2026, 7, 1),
            catalogue=list_measures.catalogue(session),
            calendar=workdays.Calendar(),
        )
    engine.dispose()
    result = run.invoke(
        cli.main, ["report", "feedback", "--month", "2026-06", "--as-of", "2026-07-01"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["feedback-2026-06.xlsx", "feedback-2026-06.csv"]
    names = [name for name, _ in feedback.MONTH_COLUMNS]
    rows = [[str(getattr(row, name)) for name in names] for row in expected]
    with (tmp_path / "feedback-2026-06.csv").open(encoding="utf-8-sig", newline="") as file:
        lines = list(csv.reader(file))
    assert lines == [[zh for _, zh in feedback.MONTH_COLUMNS], *rows]
    sheet = openpyxl.load_workbook(tmp_path / "feedback-2026-06.xlsx").active
    assert sheet is not None
    cells = [[str(cell) for cell in line] for line in sheet.iter_rows(values_only=True)]
    assert cells == lines
    applied = [line for line in lines[1:] if line[4] != "0"]
    assert applied == [
        [
            "CJ-06",
            "列为重点监管对象，提高抽查比例和频次",
            "赤坎区应急管理局",
            "1",
            "1",
            "0",
            "0",
            "0",
        ]
    ]


def test_feedback_report_refuses_a_bad_month_in_one_line(run: CliRunner) -> None:
    run.invoke(cli.main, ["init"])
    result = run.invoke(cli.main, ["report", "feedback", "--month", "2026-13"])
    assert result.exit_code == 2
    assert (
        result.output.strip().splitlines()[-1] == "Error: --month: not a month YYYY-MM: '2026-13'"
    )
