"""Hypothesis against ingestion: random bytes, random CSV shapes and random cells in every column
of each kind. Every run ends in a report whose rows add up, each rejection naming its row, column
and rule, with the database holding exactly the rows it accepted; or in a clear error
(ReadError, TemplateError) with the database as it was and no rejects file left behind."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlmodel import Session, SQLModel, col, select
from stdnum.cn import ric

from disclosure import db, ingest, models, readers, template, upsert, workflows
from gongshi import cli
from tests import conftest, factories
from tests.template_rows import PERSON, penalty_cells

ON = dt.date(2026, 6, 1)
KINDS = list(template.COLUMNS)
LIST_CODE = "heimingdan"
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def license_cells() -> dict[str, str]:
    """A valid license row of the template, by our column keys."""
    party = penalty_cells()
    return {key: party[key] for key in SUBJECT_KEYS + PARTY_KEYS if key in party} | {
        "decision_doc_name": "食品经营许可决定书",
        "decision_doc_no": "赤市监许〔2026〕8号",
        "license_category": "普通",
        "certificate_name": "食品经营许可证",
        "license_no": "JY14408020012345",
        "license_content": "预包装食品销售",
        "decision_date": "2026-05-20",
        "valid_from": "2026-05-20",
        "valid_to": "2031-05-19",
    }


def list_entry_cells() -> dict[str, str]:
    """A valid list-entry row, on the list the fixture adds."""
    party = penalty_cells()
    return {key: party[key] for key in SUBJECT_KEYS + PARTY_KEYS if key in party} | {
        "list_code": LIST_CODE,
        "decision_doc_no": "赤市监列〔2026〕3号",
        "reason": "拒不履行行政处罚决定",
        "decision_date": "2026/05/20",
        "valid_until": "2029/05/19",
    }


SUBJECT_KEYS = [column.key for column in template.COLUMNS[models.RecordKind.PENALTY][:13]]
PARTY_KEYS = ["authority_name", "authority_uscc", "source_unit", "source_unit_uscc", "remarks"]
VALID = {
    models.RecordKind.LICENSE: license_cells,
    models.RecordKind.PENALTY: penalty_cells,
    models.RecordKind.LIST_ENTRY: list_entry_cells,
}
PERSON_CELLS = {
    "subject_name": "李明",
    "subject_category": "自然人",
    "subject_uscc": "",
    "legal_rep_name": "",
    "person_id_type": "身份证",
    "person_id_no": PERSON,
}

# Cells that have broken readers and validators elsewhere: odd dates, amounts and codes, quotes,
# separators and line breaks inside a cell, a BOM, NUL, very long text.
NASTY = [
    "",
    " ",
    '"',
    '""',
    ",",
    "\n",
    "a\r\nb",
    "\ufeff",
    "\x00",
    "\x01\x1f",
    "2099/12/31",
    "9999/12/31",
    "0001-01-01",
    "2026/02/30",
    "2026年5月20日",
    "1" * 30,
    "0.0000001",
    "-1",
    "1e5",
    "NaN",
    "２０２６／０５／２０",
    "罚款;警告;没收违法所得",
    "00000000000000000X",
    "91440802MA4UUUUU0X",
    PERSON,
    "赤" * 201,
    "A" * 3000,
    "长期",
]
CELLS = st.one_of(st.sampled_from(NASTY), st.text(max_size=25))


@pytest.fixture
def ledger(engine: sa.Engine) -> sa.Engine:
    """The test database with the named list that list-entry rows refer to."""
    with Session(engine) as session, session.begin():
        factories.add_list(session, code=LIST_CODE, name="严重违法失信名单")
    return engine


def snapshot(session: Session) -> dict[str, list[str]]:
    """Every row of every table, as text: to tell that nothing changed."""
    return {
        table.name: sorted(repr(tuple(row)) for row in session.execute(table.select()))
        for table in SQLModel.metadata.sorted_tables
    }


def attempt(
    engine: sa.Engine, path: Path, kind: models.RecordKind, batch_size: int = 2
) -> upsert.IngestReport | None:
    """Ingest `path` as the CLI does, in one transaction, then roll it back; check that the run
    ended in a balanced report over exactly the rows it accepted, or in a clear error that
    changed nothing. Batches of `batch_size` rows (2: a few rows already cross a batch's
    edge). The report, or None after an error."""
    ingest.rejects_path(path).unlink(missing_ok=True)
    ctx = workflows.Context(actor="fuzz", on=ON, id_key=factories.ID_KEY)
    model = models.RECORD_MODELS[kind]
    with Session(engine, expire_on_commit=False) as session:
        before = snapshot(session)
        try:
            report = ingest.ingest(session, path, kind=kind, ctx=ctx, batch_size=batch_size)
        except (readers.ReadError, template.TemplateError) as error:
            session.rollback()
            assert snapshot(session) == before, "an error left writes behind"
            assert not ingest.rejects_path(path).exists()
            assert not list(path.parent.glob("*.part"))
            message = str(error)
            assert " / " in message and "\n" not in message.strip(), message  # 中文 / English
            assert not _unmasked(message)
            return None
        session.flush()
        assert report.balanced, report
        assert sum(report.rules.values()) == report.rejected and all(report.rules)
        stored = session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
        assert stored == report.accepted  # the database held none of this kind before
        published = session.execute(
            sa.select(sa.func.count())
            .select_from(models.Event)
            .where(col(models.Event.type) == models.EventType.PUBLISHED)
        ).scalar_one()
        assert published == report.accepted
        _check_rejects(path, report)
        for table in SQLModel.metadata.sorted_tables:
            for row in session.execute(table.select()):
                assert not any(_unmasked(str(value)) for value in row), (table.name, row)
        session.rollback()
        assert snapshot(session) == before
    return report


def _check_rejects(path: Path, report: upsert.IngestReport) -> None:
    rejects = ingest.rejects_path(path)
    assert rejects.exists() == bool(report.rejected)
    if not report.rejected:
        return
    with rejects.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == report.rejected
    for row in rows:
        number = int(row["row"])
        # 第N行「列」：中文 / row N, column: English — the row, the column and why
        assert re.fullmatch(
            rf"第{number}行「[^」]+」：.+ / row {number}, \w+: .+", row["reason"], re.S
        )
        assert not _unmasked(row["reason"])


_ID_NUMBER = re.compile(r"\d{17}[\dXx]")


def _unmasked(text: str) -> bool:
    """Whether `text` holds a whole, valid resident identity number."""
    return any(ric.is_valid(found) for found in _ID_NUMBER.findall(text))


@st.composite
def tables(draw: st.DrawFn, kind: models.RecordKind) -> tuple[list[str], list[list[str]]]:
    """A header in any of the template's spellings, some columns missing, unknown or repeated,
    in any order; and rows of valid cells with random ones in random columns, ragged or blank."""
    columns = list(template.COLUMNS[kind])
    keep = [c for c in columns if draw(st.integers(0, 19)) > 0]  # a column drops out now and then
    keep = draw(st.permutations(keep)) if draw(st.booleans()) else keep
    header = [
        draw(st.sampled_from([c.zh, c.code, c.key, *c.aliases, f" {c.zh}（ ", c.key.upper()]))
        for c in keep
    ]
    if draw(st.integers(0, 9)) == 0:
        header.append(draw(st.sampled_from(["罚款金额（元）", "", "row", "reason", "备注"])))
    if header and draw(st.integers(0, 14)) == 0:
        header.append(draw(st.sampled_from(header)))
    rows: list[list[str]] = []
    for _ in range(draw(st.integers(0, 5))):
        cells = VALID[kind]()
        if draw(st.booleans()):
            cells |= PERSON_CELLS
        for key in draw(st.lists(st.sampled_from([c.key for c in columns]), max_size=4)):
            cells[key] = draw(CELLS)
        row = [cells.get(c.key, "") for c in keep]
        shape = draw(st.integers(0, 9))
        if shape == 0:
            row = row[: draw(st.integers(0, len(row)))]  # ragged: fewer cells
        elif shape == 1:
            row += draw(st.lists(CELLS, min_size=1, max_size=3))  # more cells than the header
        elif shape == 2:
            row = [""] * len(row)  # a blank line
        rows.append(row)
    return header, rows


def csv_bytes(
    header: list[str], rows: list[list[str]], encoding: str, quote_all: bool = False
) -> bytes:
    text = io.StringIO()
    writer = csv.writer(
        text, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, lineterminator="\r\n"
    )
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode(encoding)


@given(
    kind=st.sampled_from(KINDS),
    shape=st.data(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
    quote_all=st.booleans(),
)
@settings(FUZZ, max_examples=120)
def test_random_csv_shapes_end_in_a_report_or_a_clear_error(
    ledger: sa.Engine,
    tmp_path: Path,
    kind: models.RecordKind,
    shape: st.DataObject,
    encoding: str,
    quote_all: bool,
) -> None:
    header, rows = shape.draw(tables(kind))
    path = tmp_path / "rows.csv"
    path.write_bytes(csv_bytes(header, rows, encoding, quote_all))
    report = attempt(ledger, path, kind)
    if report is not None:
        assert report.read == sum(1 for row in rows if any(cell.strip() for cell in row))


# What a spreadsheet cell may hold besides text: numbers, dates and times, booleans.
TYPED = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(9999, 12, 31)),
    st.dates(dt.date(1900, 3, 1), dt.date(9999, 12, 31)),
    st.times(),
    st.booleans(),
)


@given(kind=st.sampled_from(KINDS), shape=st.data(), typed=st.lists(TYPED, max_size=6))
@settings(FUZZ, max_examples=40)
def test_random_xlsx_tables_end_in_a_report_or_a_clear_error(
    ledger: sa.Engine,
    tmp_path: Path,
    kind: models.RecordKind,
    shape: st.DataObject,
    typed: list[object],
) -> None:
    header, rows = shape.draw(tables(kind))
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for number, values in enumerate([header, *rows]):
        cells: list[object] = [ILLEGAL_CHARACTERS_RE.sub("", value) for value in values]
        for value in typed if number and cells else []:  # typed values in random data cells
            cells[shape.draw(st.integers(0, len(cells) - 1))] = value
        sheet.append(cells)
    path = tmp_path / "rows.xlsx"
    book.save(path)
    attempt(ledger, path, kind)


@given(
    kind=st.sampled_from(KINDS),
    shape=st.data(),
    damage=st.sampled_from(["truncate", "mixed", "bom", "garbage"]),
    where=st.floats(0, 1),
    junk=st.binary(min_size=1, max_size=64),
)
@settings(FUZZ, max_examples=60)
def test_damaged_and_mixed_encodings_end_in_a_report_or_a_clear_error(
    ledger: sa.Engine,
    tmp_path: Path,
    kind: models.RecordKind,
    shape: st.DataObject,
    damage: str,
    where: float,
    junk: bytes,
) -> None:
    header, rows = shape.draw(tables(kind))
    data = csv_bytes(header, rows, "utf-8")
    cut = int(len(data) * where)
    if damage == "truncate":
        data = data[:cut]
    elif damage == "mixed":  # the last rows pasted in from a GB18030 file
        tail = csv_bytes(["x"], rows[-1:], "gb18030").split(b"\r\n", 1)[-1]
        data += tail
    elif damage == "bom":
        data = codecs.BOM_UTF8 + codecs.BOM_UTF8 + data
    else:
        data = data[:cut] + junk + data[cut:]
    path = tmp_path / "rows.csv"
    path.write_bytes(data)
    attempt(ledger, path, kind)


@given(
    kind=st.sampled_from(KINDS),
    suffix=st.sampled_from([".csv", ".xlsx", ".txt"]),
    prefix=st.sampled_from([b"", b"PK\x03\x04", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"\xff\xfe"]),
    content=st.binary(max_size=600),
)
@settings(FUZZ, max_examples=80)
def test_random_bytes_end_in_a_report_or_a_clear_error(
    ledger: sa.Engine,
    tmp_path: Path,
    kind: models.RecordKind,
    suffix: str,
    prefix: bytes,
    content: bytes,
) -> None:
    path = tmp_path / f"rows{suffix}"
    path.write_bytes(prefix + content)
    attempt(ledger, path, kind)


def _one_row_per_cell(
    kind: models.RecordKind, values: list[tuple[str, str]]
) -> tuple[list[str], list[list[str]]]:
    """The template header, and a valid row per (column, value) with that one cell replaced;
    every other row about a natural person."""
    columns = template.COLUMNS[kind]
    rows = []
    for number, (key, value) in enumerate(values):
        cells = VALID[kind]() | (PERSON_CELLS if number % 2 else {})
        cells["decision_doc_no"] += f"-{number}"  # each row its own record
        cells[key] = value
        rows.append([cells.get(c.key, "") for c in columns])
    return [c.zh for c in columns], rows


@pytest.mark.parametrize("kind", KINDS)
def test_every_odd_value_in_every_column_is_accepted_or_rejected_by_name(
    ledger: sa.Engine, tmp_path: Path, kind: models.RecordKind
) -> None:
    keys = [c.key for c in template.COLUMNS[kind]]
    odd = [value for value in NASTY if "\x00" not in value]  # NUL: the file is not text
    header, rows = _one_row_per_cell(kind, [(key, value) for key in keys for value in odd])
    path = tmp_path / "rows.csv"
    path.write_bytes(csv_bytes(header, rows, "utf-8"))
    # 650–870 rows: batches of 100 still cross several edges, at a fiftieth of the statements
    report = attempt(ledger, path, kind, batch_size=100)
    assert report is not None
    assert (report.read, report.accepted + report.rejected) == (len(rows), len(rows))


@given(kind=st.sampled_from(KINDS), values=st.data())
@settings(FUZZ, max_examples=40)
def test_random_text_in_every_column_is_accepted_or_rejected_by_name(
    ledger: sa.Engine, tmp_path: Path, kind: models.RecordKind, values: st.DataObject
) -> None:
    keys = [c.key for c in template.COLUMNS[kind]]
    text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
    header, rows = _one_row_per_cell(kind, [(key, values.draw(text)) for key in keys])
    path = tmp_path / "rows.csv"
    path.write_bytes(csv_bytes(header, rows, "utf-8"))
    report = attempt(ledger, path, kind)
    assert report is not None
    assert (report.read, report.accepted + report.rejected) == (len(rows), len(rows))


@pytest.fixture
def gongshi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The command line in an empty working directory, on the database the tests run against."""
    runner = conftest.cli_runner(tmp_path, monkeypatch)
    assert runner.invoke(cli.main, ["init"]).exit_code == 0
    yield runner


def _cli_engine(tmp_path: Path) -> sa.Engine:
    return db.create_engine(conftest.POSTGRES_URL or f"sqlite:///{tmp_path / 'var/gongshi.db'}")


UNREADABLE: dict[str, tuple[str, bytes]] = {
    "random bytes as csv": ("rows.csv", b"\x00\x9f\x92\x96 garbage \xff\xfe\x00"),
    "random bytes as xlsx": ("rows.xlsx", b"\x8a\x01 not a workbook"),
    "a truncated xlsx": ("rows.xlsx", b"PK\x03\x04\x14\x00\x00\x00\x08\x00"),
    "an unknown column": ("rows.csv", "行政相对人名称,罚款金额（元）\n甲,1\n".encode()),
    "a malformed quote": ("rows.csv", '行政相对人名称,"行政相对人类别\n甲'.encode()),
    "a quote left open": (
        "rows.csv",
        ('行政相对人名称,行政相对人类别\n"甲' + "乙" * 140_000).encode(),
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_the_command_line_says_so_in_one_line_and_exits_2(
    gongshi: CliRunner, tmp_path: Path, case: str
) -> None:
    name, content = UNREADABLE[case]
    path = tmp_path / name
    path.write_bytes(content)
    good = tmp_path / "good.csv"
    good.write_bytes(
        csv_bytes(
            [c.zh for c in template.PENALTY],
            [[penalty_cells().get(c.key, "") for c in template.PENALTY]],
            "utf-8",
        )
    )
    args = ["--kind", "penalty", "--as-of", ON.isoformat()]
    assert gongshi.invoke(cli.main, ["ingest", str(good), *args]).exit_code == 0
    engine = _cli_engine(tmp_path)
    with Session(engine) as session:
        before = snapshot(session)
    result = gongshi.invoke(cli.main, ["ingest", str(path), *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ")
    assert result.output.endswith(" — 未写入任何数据 / nothing was written\n")
    assert result.output.count("\n") == 1
    with Session(engine) as session:
        assert snapshot(session) == before
        assert len(session.exec(select(models.Penalty)).all()) == 1
    engine.dispose()
