"""The columns of the bulk files: each public shape flattened, with the national template's
Chinese header where the template has the field, and its Frictionless Table Schema."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import enum
import functools
import io
import operator
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel

from disclosure import models, privacy, spreadsheet, template

SHAPES: dict[models.RecordKind, type[privacy.RecordPublic]] = {
    models.RecordKind.LICENSE: privacy.LicensePublic,
    models.RecordKind.PENALTY: privacy.PenaltyPublic,
    models.RecordKind.LIST_ENTRY: privacy.ListEntryPublic,
}

# Flattened field → the template column it is (the rest take the Chinese of their description).
_TEMPLATE_KEYS = {
    "subject_name": "subject_name",
    "subject_category": "subject_category",
    "subject_credit_code": "subject_uscc",
    "subject_business_reg_no": "business_reg_no",
    "subject_org_code": "org_code",
    "subject_tax_reg_no": "tax_reg_no",
    "subject_institution_cert_no": "public_institution_cert_no",
    "subject_social_org_reg_no": "social_org_reg_no",
    "subject_legal_rep_name": "legal_rep_name",
    "subject_masked_id_number": "person_id_no",
    "authority_name": "authority_name",
    "authority_credit_code": "authority_uscc",
    "source_unit_name": "source_unit",
    "source_unit_credit_code": "source_unit_uscc",
    "decision_doc_no": "decision_doc_no",
    "decision_on": "decision_date",
    "remarks": "remarks",
    "decision_doc_name": "decision_doc_name",
    "certificate_name": "certificate_name",
    "license_no": "license_no",
    "valid_from_on": "valid_from",
    "violation_type": "violation_type",
    "violation_facts": "violation_facts",
    "legal_basis": "legal_basis",
    "fine_amount_wan": "fine_amount_wan",
    "confiscation_amount_wan": "confiscation_amount_wan",
    "suspended_revoked_license": "suspended_revoked_license",
    "publicity_end_on": "publicity_end_date",
    "severity": "severity",
    "reason": "reason",
    "list_code": "list_code",
}
_PER_KIND = {
    models.RecordKind.LICENSE: {
        "category": "license_category",
        "content": "license_content",
        "valid_to_on": "valid_to",
    },
    models.RecordKind.PENALTY: {
        "categories": "penalty_category",
        "content": "penalty_content",
        "valid_until_on": "penalty_valid_until",
    },
    models.RecordKind.LIST_ENTRY: {"valid_until_on": "valid_until"},
}


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a bulk CSV file."""

    name: str  # our flattened field name (subject_name, authority_credit_code, …)
    path: tuple[str, ...]  # where it is in the public shape's JSON
    header: str  # the Chinese header
    type: str  # Frictionless field type
    description: str
    required: bool
    choices: tuple[str, ...] = ()
    is_list: bool = False  # a list of labels, joined by ";"


def _plain(annotation: Any) -> tuple[Any, bool]:
    """The annotation without None, and whether None is allowed."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def _type(annotation: Any) -> tuple[str, tuple[str, ...]]:
    if annotation is bool:
        return "boolean", ()
    if annotation is int:
        return "integer", ()
    if annotation is dt.date:
        return "date", ()
    if annotation is Decimal:
        return "number", ()
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "string", tuple(str(member.value) for member in annotation)
    return "string", ()


def _fields(
    shape: type[BaseModel], prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Any, bool, str]]:
    found = []
    for name, info in shape.model_fields.items():
        annotation, optional = _plain(info.annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += _fields(annotation, (*prefix, name))
        else:
            found.append(((*prefix, name), annotation, optional, info.description or ""))
    return found


def columns(kind: models.RecordKind) -> list[Column]:
    """The columns of `kind`'s CSV file, in the public shape's order."""
    keys = _TEMPLATE_KEYS | _PER_KIND[kind]
    found = []
    for path, annotation, optional, description in _fields(SHAPES[kind]):
        name = "_".join(path)
        kind_of, choices = _type(annotation)
        template_key = keys.get(name)
        header = (
            template.column(kind, template_key).zh
            if template_key is not None
            else description.split(" ", 1)[0]
        )
        is_list = typing.get_origin(annotation) is list
        found.append(
            Column(name, path, header, kind_of, description, not optional, choices, is_list=is_list)
        )
    return found


def json_line(fields: privacy.Fields) -> bytes:
    """A record's public fields as its JSON Lines text: the JSON its public shape serializes to
    (same field order, dates and enums by value, decimals as strings; a test holds them equal)."""
    return orjson.dumps(fields, default=_decimal)


def _decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


# The text of a date, kept: the same few thousand dates come back in every file.
_date_text = functools.cache(dt.date.isoformat)


def csv_line_function(kind: models.RecordKind) -> Callable[[privacy.Fields], str]:
    """The CSV line of a record of `kind` (with its line end) from its public fields, as one
    function made once per kind.

    The cells are the fields flattened, as text: None empty, booleans true and false, lists joined
    by ";", the rest by str(), which for dates, enum members, numbers and decimals is their JSON
    text (a test holds the two equal). The line is what `csv` writes: the cells joined by commas,
    quoted only when one holds a comma, a quote or a line break. Few do, so the cells are joined
    directly and only a line that shows one of those goes through the csv writer."""
    found = columns(kind)
    groups: list[tuple[str, list[str]]] = []  # top-level field, and its nested ones in order
    for column in found:
        nested = list(column.path[1:])
        if nested and groups and groups[-1][0] == column.path[0] and groups[-1][1]:
            groups[-1][1].extend(nested)
        else:
            groups.append((column.path[0], nested))
    assert all(len(nested) != 1 for _key, nested in groups)  # itemgetter of one gives no tuple
    assert len(groups) > 1
    top = operator.itemgetter(*(key for key, _nested in groups))
    # each nested field's values in place of it, the last first: the places before stay the same
    splices = [
        (n, operator.itemgetter(*nested)) for n, (_key, nested) in enumerate(groups) if nested
    ]
    splices.reverse()
    # the cells that are not text yet (strings and enum members, which are strings, are)
    flags = [n for n, column in enumerate(found) if column.type == "boolean"]
    lists = [n for n, column in enumerate(found) if column.is_list]
    dates = [n for n, column in enumerate(found) if column.type == "date"]
    numbers = [n for n, column in enumerate(found) if column.type in ("integer", "number")]
    texts = [
        n
        for n, column in enumerate(found)
        if column.type == "string" and not column.required and not column.is_list
    ]
    strings = [n for n, column in enumerate(found) if column.type == "string"]
    commas = len(found) - 1
    date_text = _date_text
    formula_start, neutralise = spreadsheet.FORMULA_START, spreadsheet.neutralise

    def line(fields: privacy.Fields) -> str:
        cells: list[Any] = list(top(fields))
        for n, nested in splices:
            cells[n : n + 1] = nested(cells[n])
        for n in texts:
            if cells[n] is None:
                cells[n] = ""
        for n in dates:
            value = cells[n]
            cells[n] = "" if value is None else date_text(value)
        for n in numbers:
            value = cells[n]
            cells[n] = "" if value is None else str(value)
        for n in flags:
            cells[n] = "true" if cells[n] else "false"
        for n in lists:
            cells[n] = ";".join(cells[n])
        for n in strings:  # a spreadsheet must not run a clerk's text as a formula
            value = cells[n]
            if value and value[0] in formula_start:
                cells[n] = neutralise(value)
        joined = ",".join(cells)
        if joined.count(",") == commas and not ('"' in joined or "\n" in joined or "\r" in joined):
            return joined + "\r\n"
        quoted = io.StringIO()
        csv.writer(quoted, lineterminator="\r\n").writerow(cells)
        return quoted.getvalue()

    return line


def table_schema(kind: models.RecordKind) -> dict[str, Any]:
    """The Frictionless Table Schema of `kind`'s CSV file."""
    fields = []
    for column in columns(kind):
        field: dict[str, Any] = {
            "name": column.header,
            "title": column.name,
            "type": column.type,
            "description": column.description,
        }
        constraints: dict[str, Any] = {}
        if column.required:
            constraints["required"] = True
        if column.choices:
            constraints["enum"] = list(column.choices)
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    return {"fields": fields, "primaryKey": [columns(kind)[0].header], "missingValues": [""]}


def _json_type(annotation: Any) -> tuple[str, tuple[str, ...]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object", ()
    if typing.get_origin(annotation) is list:
        return "array", ()
    return _type(annotation)


def jsonl_schema(kind: models.RecordKind) -> dict[str, Any]:
    """The Frictionless Table Schema of `kind`'s JSON Lines file: its top-level keys, a nested
    object (subject, authority, list) typed `object` and a list of labels `array`, each described
    field by field in the CSV's schema."""
    fields = []
    for name, info in SHAPES[kind].model_fields.items():
        annotation, optional = _plain(info.annotation)
        kind_of, choices = _json_type(annotation)
        field: dict[str, Any] = {"name": name, "type": kind_of}
        if info.description:
            field["description"] = info.description
        constraints: dict[str, Any] = {}
        if not optional:
            constraints["required"] = True
        if choices:
            constraints["enum"] = list(choices)
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    return {"fields": fields, "primaryKey": [fields[0]["name"]]}
