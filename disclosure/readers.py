"""Reading a department's spreadsheet as a header and a stream of rows of text cells.

CSV in UTF-8 (with or without BOM) or GB18030, detected from the first bytes or named; XLSX through
openpyxl's read-only mode, read to the sheet's last row whatever its `<dimension>` tag claims, and
refused if any of its parts declares a DOCTYPE (entities: a spreadsheet never needs one). Both
stream: memory stays flat however long the file is.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

SNIFF_BYTES = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"


class ReadError(ValueError):
    """The file cannot be read as a table: not found, binary, truncated, badly encoded, empty."""


@dataclasses.dataclass
class Table:
    """A file's header and its data rows, each with its spreadsheet row number (header = 1)."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    format: str  # "csv (utf-8)", "xlsx (sheet 处罚)", …


def detect_encoding(sample: bytes) -> str:
    """The encoding of a CSV file from its first bytes: a BOM, else UTF-8 if it decodes, else
    GB18030 (a superset of GBK and GB2312, what Chinese Excel saves as "CSV")."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


@contextmanager
def open_table(
    path: Path, *, encoding: str | None = None, sheet: str | None = None
) -> Iterator[Table]:
    """Open `path` as a table; ReadError if it cannot be read, now or while rows stream."""
    try:
        with path.open("rb") as file:
            sample = file.read(SNIFF_BYTES)
    except OSError as error:
        raise ReadError(f"{path}: 无法读取 / cannot read it: {error.strerror}") from error
    if sample.startswith(_ZIP_MAGIC) or path.suffix.lower() in {".xlsx", ".xlsm"}:
        with _xlsx(path, sheet) as table:
            yield table
        return
    if b"\x00" in sample and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ReadError(f"{path}: 不是文本文件（CSV） / not a text (CSV) file")
    chosen = encoding or detect_encoding(sample)
    try:
        codecs.lookup(chosen)
    except LookupError as error:
        raise ReadError(f"未知编码 / unknown encoding {chosen!r}") from error
    with path.open(encoding=chosen, newline="", errors="strict") as text:
        rows = _csv_rows(path, csv.reader(text, strict=True))
        _number, header = _first_row(path, rows)
        yield Table(header, rows, f"csv ({chosen})")


def _first_row(path: Path, rows: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str]]:
    for number, cells in rows:
        return number, cells
    raise ReadError(f"{path}: 文件为空，没有表头 / the file is empty: no header row")


def _csv_rows(path: Path, reader: Any) -> Iterator[tuple[int, list[str]]]:
    try:  # numbered as a spreadsheet shows them: one row per record, blank ones included
        for number, cells in enumerate(reader, start=1):
            if "".join(cells).strip():
                yield number, cells
    except UnicodeDecodeError as error:
        raise ReadError(
            f"{path}: 第{reader.line_num + 1}行附近编码错误 / cannot decode near line "
            f"{reader.line_num + 1} ({error.reason}); name the encoding with --encoding"
        ) from error
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            limit = csv.field_size_limit()
            raise ReadError(
                f"{path}: 第{reader.line_num}行附近的单元格超过 {limit} 个字符"
                f"（是否有未闭合的引号？） / a cell near line {reader.line_num} is longer than "
                f"{limit} characters (is a quote left open?)"
            ) from error
        raise ReadError(
            f"{path}: 第{reader.line_num}行格式错误（文件可能不完整） / malformed CSV at line "
            f"{reader.line_num} (is the file truncated?): {error}"
        ) from error


class _Prolog(Exception):
    """A part's prolog ended; its argument says whether at a DOCTYPE."""


def _doctype_part(path: Path) -> str | None:
    """The first XML part of the XLSX at `path` that declares a DOCTYPE, if any; reads each part
    only up to its first element, so a large sheet costs a few bytes."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith((".xml", ".rels", ".vml")) and _declares_doctype(
                archive, info
            ):
                return info.filename
    return None


def _declares_doctype(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    parser = expat.ParserCreate()

    def doctype(*_args: object) -> None:
        raise _Prolog(True)

    def element(*_args: object) -> None:
        raise _Prolog(False)

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = element
    with archive.open(info) as part:
        try:
            while chunk := part.read(4096):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except _Prolog as end:
            return bool(end.args[0])
        except expat.ExpatError:
            return False  # not XML before its first element: openpyxl reports it as damaged
    return False


@contextmanager
def _xlsx(path: Path, sheet: str | None) -> Iterator[Table]:
    unreadable = (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError)
    try:
        doctype = _doctype_part(path)
    except unreadable as error:
        raise _not_xlsx(path, error) from error
    if doctype is not None:
        raise ReadError(
            f"{path}: {doctype} 含有 DOCTYPE（实体声明），已拒绝 / {doctype} declares a DOCTYPE "
            "(entities), which a spreadsheet never has: refused, nothing expanded"
        )
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (*unreadable, ParseError) as error:
        raise _not_xlsx(path, error) from error
    try:
        if sheet is not None and sheet not in book.sheetnames:
            names = ", ".join(book.sheetnames)
            raise ReadError(f"{path}: 没有工作表 / no sheet {sheet!r} (sheets: {names})")
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        # the <dimension> tag is the writer's claim, and some writers understate it: read to the end
        worksheet.reset_dimensions()
        rows = _xlsx_rows(path, worksheet.iter_rows(values_only=True))
        _number, header = _first_row(path, rows)
        yield Table(header, rows, f"xlsx (sheet {worksheet.title})")
    finally:
        book.close()


def _not_xlsx(path: Path, error: Exception) -> ReadError:
    return ReadError(
        f"{path}: 不是完整的 XLSX 文件 / not a readable XLSX file (is it truncated?): {error}"
    )


def _xlsx_rows(path: Path, rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[int, list[str]]]:
    try:
        for number, values in enumerate(rows, start=1):
            cells = [cell_text(value) for value in values]
            if "".join(cells).strip():
                yield number, cells
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError, ParseError) as error:
        raise ReadError(f"{path}: XLSX 文件损坏 / damaged XLSX file: {error}") from error


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a clerk typed: dates as YYYY-MM-DD, numbers as written
    (0.2 stays 0.2: a float's shortest repr is the decimal the clerk typed)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
