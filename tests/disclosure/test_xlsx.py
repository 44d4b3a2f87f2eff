"""XLSX files whose XML lies or attacks: an understated <dimension>, a DOCTYPE with entities."""

import re
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from disclosure import db, ingest, models, readers, template
from gongshi import cli
from tests import conftest, factories
from tests.template_rows import KEYS, doc, penalty_cells

SHEET = "xl/worksheets/sheet1.xml"


def penalty_book(path: Path, rows: int) -> Path:
    """A penalty workbook of `rows` valid data rows under the template's header."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([c.zh for c in template.PENALTY])
    for n in range(rows):
        cells = penalty_cells(decision_doc_no=doc(n + 1))
        sheet.append([cells.get(key, "") for key in KEYS])
    book.save(path)
    return path


def edit_part(path: Path, part: str, edit: Callable[[bytes], bytes]) -> None:
    """Rewrite one XML part inside the XLSX zip, as another spreadsheet program might write it."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info, edit(data) if info.filename == part else data)


def with_doctype(doctype: bytes, reference: bytes) -> Callable[[bytes], bytes]:
    """An edit putting `doctype` before the root element and `reference` in the first cell text."""

    def edit(data: bytes) -> bytes:
        body = re.sub(rb"^<\?xml[^>]*\?>", b"", data.lstrip())
        body = re.sub(rb"<t>[^<]*</t>", b"<t>" + reference + b"</t>", body, count=1)
        body = re.sub(rb"<v>[^<]*</v>", b"<v>" + reference + b"</v>", body, count=1)
        return b'<?xml version="1.0" encoding="UTF-8"?>' + doctype + body

    return edit


LAUGHS = (
    b"<!DOCTYPE lolz [<!ENTITY lol0 'lol'>"
    + b"".join(
        b"<!ENTITY lol%d '%s'>" % (n, b"".join(b"&lol%d;" % (n - 1) for _ in range(10)))
        for n in range(1, 10)
    )
    + b"]>"
)
EXTERNAL = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def sheet_rows(path: Path) -> int:
    """The rows the sheet's XML holds, counted in the XML itself."""
    with zipfile.ZipFile(path) as archive:
        return archive.read(SHEET).count(b"<row ")


def test_an_understated_dimension_does_not_lose_rows(session: Session, tmp_path: Path) -> None:
    path = penalty_book(tmp_path / "p.xlsx", 10)
    edit_part(
        path, SHEET, lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:AE2"', xml)
    )
    with zipfile.ZipFile(path) as archive:
        assert b'<dimension ref="A1:AE2"/>' in archive.read(SHEET)
    report = ingest.ingest(session, path, kind=models.RecordKind.PENALTY, ctx=factories.ctx())
    assert report.read == sheet_rows(path) - 1 == 10  # the header is not a record
    assert report.accepted == 10
    assert len(session.exec(select(models.Penalty)).all()) == 10


@pytest.mark.parametrize("part", [SHEET, "xl/workbook.xml", "docProps/core.xml"])
@pytest.mark.parametrize(
    ("doctype", "reference"), [(LAUGHS, b"&lol9;"), (EXTERNAL, b"&xxe;")], ids=["laughs", "xxe"]
)
def test_a_doctype_is_refused_in_one_line_before_anything_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str, doctype: bytes, reference: bytes
) -> None:
    run: CliRunner = conftest.cli_runner(tmp_path, monkeypatch)
    assert run.invoke(cli.main, ["init"]).exit_code == 0
    path = penalty_book(tmp_path / "p.xlsx", 3)
    edit_part(path, part, with_doctype(doctype, reference))
    result = run.invoke(
        cli.main, ["ingest", str(path), "--kind", "penalty", "--as-of", "2026-05-25"]
    )
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"Error: {path}: {part} 含有 DOCTYPE（实体声明），已拒绝 / {part} declares a DOCTYPE "
        "(entities), which a spreadsheet never has: refused, nothing expanded — 未写入任何数据 / "
        "nothing was written\n"
    )
    assert not ingest.rejects_path(path).exists()
    engine = db.create_engine(conftest.POSTGRES_URL or f"sqlite:///{tmp_path / 'var/gongshi.db'}")
    with Session(engine) as session:
        assert session.exec(select(models.Penalty)).all() == []
    engine.dispose()


def _peak_reading(path: Path) -> tuple[int, int]:
    """Rows read from `path` and the peak memory Python allocated while reading them."""
    tracemalloc.start()
    try:
        with readers.open_table(path) as table:
            count = sum(1 for _row in table.rows)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_to_the_last_row_still_streams(tmp_path: Path) -> None:
    small, large = penalty_book(tmp_path / "s.xlsx", 10), penalty_book(tmp_path / "l.xlsx", 4000)
    for path in (small, large):
        edit_part(
            path,
            SHEET,
            lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', xml),
        )
    (few, few_peak), (many, many_peak) = _peak_reading(small), _peak_reading(large)
    assert (few, many) == (10, 4000)
    assert many_peak < 2 * few_peak  # 400 times the rows, not 400 times the memory
