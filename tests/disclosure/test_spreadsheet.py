"""Spreadsheet formulas never travel through gongshi's CSV files, and never into a name or code."""

import csv
from pathlib import Path

import pytest
from sqlmodel import Session

from disclosure import spreadsheet, validation
from tests.template_rows import check, penalty_cells, run, write_csv

FORMULAS = [
    '=HYPERLINK("http://evil.example/","点击")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd",
    "@SUM(1)",
]


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        *((formula, "'" + formula) for formula in FORMULAS),
        ("+SUM(1,2)", "'+SUM(1,2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-", "'-"),
        # numbers and plain text stay as they are
        ("-2.5", "-2.5"),
        ("+3", "+3"),
        ("-1e3", "-1e3"),
        ("罚款2000元，=不是公式", "罚款2000元，=不是公式"),
        ("", ""),
        (None, None),
        (12, 12),
    ],
)
def test_a_formula_cell_is_neutralised_and_a_number_is_not(cell: object, shown: object) -> None:
    assert spreadsheet.neutralise(cell) == shown


@pytest.mark.parametrize("column", ["legal_rep_name", "subject_name", "decision_doc_no"])
@pytest.mark.parametrize("value", [*FORMULAS, "+SUM(1,2)", "\t=1+1", "  @SUM(1)"])
def test_a_name_or_code_that_begins_like_a_formula_is_refused(column: str, value: str) -> None:
    found = check(**{column: value})
    assert isinstance(found, validation.Reason), found
    assert (found.column, found.rule) == (column, "formula")
    assert str(found).startswith(f"第2行「{found.header}」：「")
    assert "which a spreadsheet runs as a formula" in str(found)


def test_free_text_may_hold_a_formula_it_is_neutralised_on_output() -> None:
    found = check(violation_facts=FORMULAS[0], remarks="\t=1+1")
    assert isinstance(found, validation.Valid), found
    # normalisation strips the TAB: the stored text begins with a live "=", neutralised on output
    assert (found.record["violation_facts"], found.record["remarks"]) == (FORMULAS[0], "=1+1")


def test_the_rejects_file_neutralises_formulas_and_keeps_the_rest_as_sent(
    session: Session, tmp_path: Path
) -> None:
    sent = write_csv(
        tmp_path / "penalties.csv",
        [penalty_cells(legal_rep_name="@SUM(1)", violation_facts=FORMULAS[1], remarks="-2.5")],
    )
    report = run(session, sent)
    assert (report.rejected, report.rules) == (1, {"formula": 1})
    assert report.rejects_path is not None
    with report.rejects_path.open(encoding="utf-8-sig", newline="") as file:
        (row,) = list(csv.DictReader(file))
    assert (row["法定代表人"], row["违法事实"], row["备注"]) == (
        "'@SUM(1)",
        "'" + FORMULAS[1],
        "-2.5",
    )
    assert row["行政相对人名称"] == "湛江市赤坎区鸿达食品有限公司"
    assert not row["reason"].startswith(tuple(spreadsheet.FORMULA_START))
