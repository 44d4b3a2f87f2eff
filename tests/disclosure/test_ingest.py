import csv
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from disclosure import (
    ingest,
    models,
    privacy,
    readers,
    template,
    upsert,
    workdays,
)
from disclosure.queries import figures
from tests import factories
from tests.template_rows import KEYS, doc, penalty_cells, run, write_csv

ON = dt.date(2026, 6, 1)
PENALTY = models.RecordKind.PENALTY


def counts(report: upsert.IngestReport) -> tuple[int, int, int, int, int]:
    return (report.read, report.accepted, report.corrected, report.unchanged, report.rejected)


def stored(session: Session) -> dict[str, str]:
    return dict(
        session.execute(
            sa.select(col(models.Penalty.decision_doc_no), col(models.Penalty.content))
        ).all()
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_each_encoding_is_detected(session: Session, tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "p.csv", [penalty_cells(decision_doc_no=doc(1))], encoding=encoding)
    report = run(session, path)
    assert counts(report) == (1, 1, 0, 0, 0)
    assert stored(session) == {doc(1): "罚款2000元"}
    assert report.format == f"csv ({encoding})"


@pytest.mark.parametrize("header", ["zh", "code", "key"])
def test_header_variants(session: Session, tmp_path: Path, header: str) -> None:
    path = write_csv(tmp_path / "p.csv", [penalty_cells()], header=header)
    assert counts(run(session, path)) == (1, 1, 0, 0, 0)


def test_xlsx_first_sheet_or_named(session: Session, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "说明"  # type: ignore[union-attr]
    sheet = book.create_sheet("处罚")
    sheet.append([c.zh for c in template.PENALTY])
    row = penalty_cells(decision_date="", fine_amount_wan="")
    values: list[object] = [row.get(key, "") for key in KEYS]
    values[KEYS.index("decision_date")] = dt.datetime(2026, 5, 20)
    values[KEYS.index("fine_amount_wan")] = 0.2
    sheet.append(values)
    book.save(tmp_path / "p.xlsx")
    with pytest.raises(readers.ReadError, match="the file is empty"):
        run(session, tmp_path / "p.xlsx")  # the first sheet is an empty cover
    session.rollback()
    report = run(session, tmp_path / "p.xlsx", sheet="处罚")
    assert counts(report) == (1, 1, 0, 0, 0)
    penalty = session.exec(select(models.Penalty)).one()
    assert (penalty.decision_on, penalty.fine_amount_wan) == (dt.date(2026, 5, 20), Decimal("0.2"))


def test_unknown_and_missing_columns_stop_before_writing(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("行政相对人名称,罚款金额（元）\n甲,1\n", encoding="utf-8")
    with pytest.raises(template.TemplateError) as raised:
        run(session, path)
    assert str(raised.value) == (
        "第2列「罚款金额（元）」不是行政处罚模板的字段 / column 2 '罚款金额（元）' is not a "
        "column of the penalty template"
    )
    path.write_text("行政相对人名称\n甲\n", encoding="utf-8")
    with pytest.raises(template.TemplateError, match="the required column subject_category"):
        run(session, path)
    assert stored(session) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\x00\x01\x02binary", "not a text (CSV) file"),
        (b"PK\x03\x04truncated", "not a readable XLSX file"),
    ],
)
def test_unreadable_files(session: Session, tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    with pytest.raises(readers.ReadError, match=re.escape(message)):
        run(session, path)


def test_a_file_damaged_further_down_raises_while_streaming(
    session: Session, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "p.csv", [penalty_cells(decision_doc_no=doc(i)) for i in range(9)])
    path.write_bytes(path.read_bytes() + b'"unterminated')
    with pytest.raises(readers.ReadError, match="is the file truncated"):
        ingest.ingest(session, path, kind=PENALTY, ctx=factories.ctx(ON), batch_size=3)
    session.rollback()
    assert stored(session) == {}
    assert not ingest.rejects_path(path).exists()


def test_every_row_bad(session: Session, tmp_path: Path) -> None:
    rows = [penalty_cells(decision_doc_no=doc(i), fine_amount_wan="x") for i in range(4)]
    path = write_csv(tmp_path / "p.csv", rows)
    report = run(session, path)
    assert counts(report) == (4, 0, 0, 0, 4)
    assert report.rejects_path == ingest.rejects_path(path)
    with ingest.rejects_path(path).open(encoding="utf-8-sig", newline="") as file:
        rejected = list(csv.reader(file))
    assert rejected[0] == [c.zh for c in template.PENALTY] + ["row", "reason"]
    assert [r[-2] for r in rejected[1:]] == ["2", "3", "4", "5"]
    assert rejected[1][-1] == (
        "第2行「罚款金额（万元）」：「X」不是以万元计的金额（如 0.2） / row 2, fine_amount_wan: "
        "'X' is not an amount in 万元 (such as 0.2)"
    )
    assert stored(session) == {}
    # the clerk fixes the rows and sends the rejects file back as it is
    fixed = ingest.rejects_path(path).read_text(encoding="utf-8-sig").replace(",x,", ",0.2,")
    again = tmp_path / "fixed.csv"
    again.write_text(fixed, encoding="utf-8")
    assert counts(run(session, again)) == (4, 4, 0, 0, 0)


def test_reingest_changes_nothing_and_a_changed_row_is_a_correction(
    session: Session, tmp_path: Path
) -> None:
    rows = [penalty_cells(decision_doc_no=doc(i)) for i in range(5)]
    path = write_csv(tmp_path / "p.csv", rows)
    assert counts(run(session, path)) == (5, 5, 0, 0, 0)
    again = run(session, path)
    assert counts(again) == (5, 0, 0, 5, 0)
    assert not again.changed
    rows[1]["penalty_content"] = "罚款3000元"
    rows[1]["fine_amount_wan"] = "0.3"
    write_csv(path, rows)
    assert counts(run(session, path)) == (5, 0, 1, 4, 0)
    assert stored(session)[doc(1)] == "罚款3000元"
    assert figures.event_counts(session) == {
        models.EventType.PUBLISHED: 5,
        models.EventType.CORRECTED: 1,
    }


def test_a_later_row_renames_the_subject_but_corrects_only_its_own_record(
    session: Session, tmp_path: Path
) -> None:
    old = "湛江市赤坎区鸿达食品有限公司"
    rows = [penalty_cells(decision_doc_no=doc(i)) for i in range(3)]
    path = write_csv(tmp_path / "p.csv", rows)
    assert counts(run(session, path)) == (3, 3, 0, 0, 0)
    renamed = "湛江市赤坎区鸿达食品股份有限公司"
    write_csv(path, [rows[0] | {"subject_name": renamed, "legal_rep_name": "王芳"}])
    assert counts(run(session, path)) == (1, 0, 1, 0, 0)
    subject = session.exec(select(models.Subject)).one()
    assert (subject.name, subject.legal_rep_name) == (renamed, "王芳")  # the latest
    penalties = session.exec(select(models.Penalty).order_by(col(models.Penalty.id))).all()
    assert [p.party_name for p in penalties] == [renamed, old, old]  # each as its decision named it
    shown = [privacy.project(p, ON) for p in penalties]
    assert [(s.party_name, s.subject.name) for s in shown] == [
        (renamed, renamed), (old, renamed), (old, renamed)
    ]  # fmt: skip
    corrections = session.exec(
        select(models.Event).where(col(models.Event.type) == models.EventType.CORRECTED)
    ).all()
    assert [(e.record_kind, e.record_id) for e in corrections] == [(PENALTY, penalties[0].id)]
    assert corrections[0].payload == {
        "before": {"party_name": old, "subject.name": old, "subject.legal_rep_name": "李伟"},
        "after": {"party_name": renamed, "subject.name": renamed, "subject.legal_rep_name": "王芳"},
    }
    assert counts(run(session, path)) == (1, 0, 0, 1, 0)


def test_rows_of_one_file_naming_one_subject_differently_keep_their_names(
    session: Session, tmp_path: Path
) -> None:
    names = ["鸿达食品有限公司", "鸿达食品股份有限公司"]
    rows = [penalty_cells(decision_doc_no=doc(i), subject_name=names[i]) for i in range(2)]
    assert counts(run(session, write_csv(tmp_path / "p.csv", rows))) == (2, 2, 0, 0, 0)
    penalties = session.exec(select(models.Penalty).order_by(col(models.Penalty.id))).all()
    assert [p.party_name for p in penalties] == names
    assert session.exec(select(models.Subject)).one().name == names[1]
    corrected = select(models.Event).where(col(models.Event.type) == models.EventType.CORRECTED)
    assert session.exec(corrected).all() == []


def test_refusals_of_the_workflows_are_rejections(session: Session, tmp_path: Path) -> None:
    rows = [
        penalty_cells(decision_doc_no=doc(1), decision_date="2026-07-01"),
        penalty_cells(decision_doc_no=doc(2), publicity_end_date="2026-06-01"),
        penalty_cells(decision_doc_no=doc(3)),
        penalty_cells(decision_doc_no=doc(3)),
    ]
    report = run(session, write_csv(tmp_path / "p.csv", rows))
    assert counts(report) == (4, 1, 0, 0, 3)
    assert report.rules == {"decision_on": 1, "publicity_end_on": 1, "duplicate": 1}


def test_unknown_departments_are_registered(session: Session, tmp_path: Path) -> None:
    report = run(session, write_csv(tmp_path / "p.csv", [penalty_cells()]))
    assert [party.name for party in report.registered] == ["赤坎区市场监督管理局"]
    assert counts(run(session, write_csv(tmp_path / "q.csv", [penalty_cells()]))) == (
        1,
        0,
        0,
        1,
        0,
    )


def test_late_publication_is_counted_and_rated(session: Session, tmp_path: Path) -> None:
    rows = [
        penalty_cells(decision_doc_no=doc(1), decision_date="2026-05-29"),  # 1 working day
        penalty_cells(decision_doc_no=doc(2), decision_date="2026-05-06"),  # 17 working days
    ]
    report = run(session, write_csv(tmp_path / "p.csv", rows))
    assert report.late == 1
    unit = session.exec(select(models.Department)).one()
    assert unit.id is not None
    assert figures.on_time_rates(session, calendar=workdays.Calendar()) == [
        figures.OnTimeRate(unit.id, "赤坎区市场监督管理局", published=2, on_time=1)
    ]


CELL = st.sampled_from(["ok", "bad_amount", "bad_code", "changed", "repeat"])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=st.lists(CELL, max_size=8), second=st.lists(CELL, max_size=8))
def test_accounting_identity_and_stored_rows(
    engine: sa.Engine, tmp_path: Path, first: list[str], second: list[str]
) -> None:
    with engine.begin() as connection:
        for table in ("event", "penalty", "subject", "department"):
            connection.exec_driver_sql(f"DELETE FROM {table}")
    expected: dict[str, str] = {}
    for number, plan in enumerate((first, second)):
        rows = []
        for i, kind in enumerate(plan):
            n = i if kind != "repeat" else max(i - 1, 0)
            content = "罚款3000元" if kind == "changed" else "罚款2000元"
            cells = penalty_cells(decision_doc_no=doc(n), penalty_content=content)
            if kind == "bad_amount":
                cells["fine_amount_wan"] = "1e5"
            if kind == "bad_code":
                cells["subject_uscc"] = "00000000000000000X"
            rows.append(cells)
        path = write_csv(tmp_path / f"file{number}.csv", rows)
        with Session(engine) as session:
            report = run(session, path)
            assert report.balanced
            landed = report.accepted + report.corrected
            rejects = ingest.rejects_path(path)
            written = len(rejects.read_text().splitlines()) - 1 if rejects.exists() else 0
            assert written == report.rejected
        seen: set[str] = set()
        changed = 0
        for cells in rows:
            key = cells["decision_doc_no"]
            if cells["fine_amount_wan"] == "1e5" or cells["subject_uscc"].startswith("0"):
                continue
            if key in seen:
                continue
            seen.add(key)
            if key in expected and expected[key] != cells["penalty_content"]:
                changed += 1
            expected[key] = cells["penalty_content"]
        with Session(engine) as session:
            assert stored(session) == expected
        assert report.corrected == changed
        assert landed == report.accepted + changed


def test_a_list_entrys_reason_column_is_not_taken_for_the_rejects_files() -> None:
    keys = [column.key for column in template.LIST_ENTRY]
    assert template.match_header(models.RecordKind.LIST_ENTRY, keys) == keys
    sent_back = template.match_header(models.RecordKind.LIST_ENTRY, [*keys, "row", "reason"])
    assert sent_back == [*keys, None, None]
