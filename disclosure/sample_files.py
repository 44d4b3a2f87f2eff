"""Sample data as national-template files: realistic input of any size for `gongshi ingest`."""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session
from stdnum.cn import ric

from disclosure import models, sample, spreadsheet, template
from disclosure.cells import INDEFINITE

FORMATS = ("csv", "xlsx")
FILE_NAMES = {
    models.RecordKind.LICENSE: "license",
    models.RecordKind.PENALTY: "penalty",
    models.RecordKind.LIST_ENTRY: "list-entry",
}


def _day(value: dt.date | None, *, indefinite: bool = False) -> str:
    if value is None:
        return INDEFINITE.strftime("%Y/%m/%d") if indefinite else ""
    return value.strftime("%Y/%m/%d")


def _amount(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def rows(session: Session, kind: models.RecordKind) -> Iterator[list[str]]:
    """Every stored record of `kind` as a template row, in the template's column order.

    A natural person's identity number is not stored, so each person gets a synthetic one, the
    same for the same subject.
    """
    model = models.RECORD_MODELS[kind]
    table: sa.Table = model.__table__  # type: ignore[union-attr]
    subject = models.Subject.__table__  # type: ignore[attr-defined]
    authority = aliased(models.Department.__table__)  # type: ignore[attr-defined]
    source = aliased(models.Department.__table__)  # type: ignore[attr-defined]
    lists = models.List.__table__  # type: ignore[attr-defined]
    joined = (
        table.join(subject, table.c.subject_id == subject.c.id)
        .join(authority, table.c.authority_id == authority.c.id)
        .join(source, table.c.source_unit_id == source.c.id)
    )
    columns: list[Any] = [
        table,
        subject.c.category.label("s_category"),
        subject.c.name.label("s_name"),
        subject.c.credit_code.label("s_code"),
        subject.c.legal_rep_name,
        subject.c.legal_rep_id_type,
        subject.c.id_type,
        authority.c.name.label("a_name"),
        authority.c.credit_code.label("a_code"),
        source.c.name.label("u_name"),
        source.c.credit_code.label("u_code"),
    ]
    if kind is models.RecordKind.LIST_ENTRY:
        joined = joined.join(lists, table.c.list_id == lists.c.id)
        columns.append(lists.c.code.label("list_code"))
    query = sa.select(*columns).select_from(joined).order_by(table.c.id)
    keys = [column.key for column in template.COLUMNS[kind]]
    for row in session.execute(query.execution_options(yield_per=5000)).mappings():
        cells = _cells(kind, row)
        yield [cells.get(key, "") for key in keys]


def _person_id(subject_id: int) -> str:
    """A synthetic identity number for a person, valid for stdnum, whose region checks know
    when each county code was assigned."""
    rng = random.Random(subject_id)
    number = sample.id_number(rng, "440802")
    while not ric.is_valid(number):
        number = sample.id_number(rng, "440802")
    return number


def _cells(kind: models.RecordKind, row: Any) -> dict[str, str]:
    person = row["s_category"] == models.SubjectCategory.NATURAL_PERSON
    cells = {
        "subject_name": row["s_name"],
        "subject_category": models.SubjectCategory(row["s_category"]).zh,
        "subject_uscc": row["s_code"] or "",
        "legal_rep_name": row["legal_rep_name"] or "",
        "legal_rep_id_type": row["legal_rep_id_type"] or "",
        "person_id_type": row["id_type"] or "",
        "person_id_no": _person_id(row["subject_id"]) if person else "",
        "decision_doc_no": row["decision_doc_no"],
        "decision_date": _day(row["decision_on"]),
        "authority_name": row["a_name"],
        "authority_uscc": row["a_code"],
        "source_unit": row["u_name"],
        "source_unit_uscc": row["u_code"],
        "remarks": row["remarks"] or "",
    }
    if kind is models.RecordKind.LICENSE:
        return cells | {
            "decision_doc_name": row["decision_doc_name"],
            "license_category": models.LicenseCategory(row["category"]).value,
            "certificate_name": row["certificate_name"] or "",
            "license_no": row["license_no"] or "",
            "license_content": row["content"],
            "valid_from": _day(row["valid_from_on"]),
            "valid_to": _day(row["valid_to_on"], indefinite=True),
            "status": "1",
        }
    if kind is models.RecordKind.PENALTY:
        return cells | {
            "violation_type": row["violation_type"],
            "violation_facts": row["violation_facts"],
            "legal_basis": row["legal_basis"],
            "penalty_category": row["categories"],
            "penalty_content": row["content"],
            "fine_amount_wan": _amount(row["fine_amount_wan"]),
            "confiscation_amount_wan": _amount(row["confiscation_amount_wan"]),
            "suspended_revoked_license": row["suspended_revoked_license"] or "",
            "penalty_valid_until": _day(row["valid_until_on"], indefinite=True),
            "publicity_end_date": _day(row["publicity_end_on"]),
            "severity": models.Severity(row["severity"]).zh,
        }
    return cells | {
        "list_code": row["list_code"],
        "reason": row["reason"],
        "valid_until": _day(row["valid_until_on"]),
    }


def write(session: Session, directory: Path, *, format: str = "csv") -> dict[str, int]:
    """Write one template file per record kind into `directory`; returns rows per file name."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, stem in FILE_NAMES.items():
        header = [column.zh for column in template.COLUMNS[kind]]
        path = directory / f"{stem}.{format}"
        if format == "xlsx":
            count = _write_xlsx(path, header, rows(session, kind))
        else:
            count = _write_csv(path, header, rows(session, kind))
        written[path.name] = count
    return written


def _write_csv(path: Path, header: list[str], data: Iterator[list[str]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for row in data:
            writer.writerow(spreadsheet.neutralise_row(row))
            count += 1
    return count


def _write_xlsx(path: Path, header: list[str], data: Iterator[list[str]]) -> int:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("数据")
    sheet.append(header)
    count = 0
    for row in data:
        sheet.append(row)
        count += 1
    book.save(path)
    return count
