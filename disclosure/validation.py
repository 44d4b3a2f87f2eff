"""Validation of template rows: text cells in, typed fields or one reason out.

A pure function of the row and the lookups passed in (named lists, a default source unit): file
ingestion and the API's mutations check input through the same `check_row` ("one validator, two
doors"). What publishing itself decides (decision date not in the future, 公示截止期 inside the
severity's window, a list's default validity) stays in `workflows.settle_new`; how each cell
is read (its type, length, normal form) is `cells`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from stdnum.cn import ric

from disclosure import idkey, models, privacy, template
from disclosure.categories import CategoryError, penalty_categories
from disclosure.cells import CellError, Cells, shown

CATEGORY_VALUES = {
    "法人及非法人组织": models.SubjectCategory.LEGAL_PERSON,
    "法人和非法人组织": models.SubjectCategory.LEGAL_PERSON,
    "法人": models.SubjectCategory.LEGAL_PERSON,
    "非法人组织": models.SubjectCategory.LEGAL_PERSON,
    "个体工商户": models.SubjectCategory.INDIVIDUAL_BUSINESS,
    "自然人": models.SubjectCategory.NATURAL_PERSON,
} | {category.value: category for category in models.SubjectCategory}

SEVERITY_VALUES = {severity.zh: severity for severity in models.Severity} | {
    severity.value: severity for severity in models.Severity
}

RESIDENT_ID_TYPES = frozenset({"身份证", "居民身份证", "二代身份证", "中华人民共和国居民身份证"})


@dataclasses.dataclass(frozen=True)
class Reason:
    """Why a row is rejected: its row number, the column, the rule broken, in 中文 and English."""

    row: int
    column: str  # our key of the column
    header: str  # the column's Chinese header
    rule: str
    zh: str
    en: str

    def __str__(self) -> str:
        return (
            f"第{self.row}行「{self.header}」：{self.zh} / row {self.row}, {self.column}: {self.en}"
        )


@dataclasses.dataclass(frozen=True)
class Party:
    """A department named in a row: an authority or a source unit."""

    credit_code: str
    name: str


@dataclasses.dataclass(frozen=True)
class ListRef:
    """A named list as rows refer to it (by code or by name)."""

    id: int
    code: str


@dataclasses.dataclass(frozen=True)
class Valid:
    """A row that passed: its subject's fields, its parties and the record's own fields."""

    row: int
    subject: dict[str, Any]  # Subject columns; a person's ID number only masked and digested
    authority: Party
    source_unit: Party | None  # None: the run's default source unit
    record: dict[str, Any]  # record columns but subject, parties and what publishing sets


@dataclasses.dataclass(frozen=True)
class Lookups:
    """What validation needs to know beyond the row."""

    lists: Mapping[str, ListRef] = dataclasses.field(default_factory=dict)  # by code and name
    source_unit_given: bool = False  # the source unit comes from the run, not the row
    id_key: idkey.IdKey | None = dataclasses.field(
        default=None, repr=False
    )  # keys identity digests


def _subject(cells: Cells, id_key: idkey.IdKey | None) -> dict[str, Any]:
    category: models.SubjectCategory = cells.choice("subject_category", CATEGORY_VALUES)
    cells.person = category is models.SubjectCategory.NATURAL_PERSON
    fields: dict[str, Any] = {
        "category": category,
        "name": cells.need("subject_name"),
        "business_reg_no": cells.text("business_reg_no"),
        "org_code": cells.text("org_code"),
        "tax_reg_no": cells.text("tax_reg_no"),
        "institution_cert_no": cells.text("public_institution_cert_no"),
        "social_org_reg_no": cells.text("social_org_reg_no"),
    }
    if category is models.SubjectCategory.NATURAL_PERSON:
        id_type = cells.text("person_id_type") or "身份证"
        number = cells.code("person_id_no", required=True)
        assert number is not None
        if len(set(number)) == 1 or (id_type in RESIDENT_ID_TYPES and not ric.is_valid(number)):
            raise CellError(
                "person_id_no",
                "ric",
                f"{privacy.mask_id_number(number)} 不是有效的居民身份证号码（GB 11643）",
                f"{privacy.mask_id_number(number)} is not a valid resident identity number "
                "(GB 11643)",
            )
        if id_key is None:
            raise privacy.MissingKeyError()
        return fields | {"id_type": id_type, **privacy.person_identity(number, id_key)}
    return fields | {
        "credit_code": cells.credit_code("subject_uscc", required=True),
        "legal_rep_name": cells.need("legal_rep_name"),
        "legal_rep_id_type": cells.text("legal_rep_id_type"),
    }


def _license(cells: Cells, lookups: Lookups) -> dict[str, Any]:
    valid_from = cells.date("valid_from", required=True)
    valid_to = cells.date("valid_to", required=True, indefinite=True)
    assert valid_from is not None
    if valid_to is not None and valid_to < valid_from:
        raise CellError(
            "valid_to",
            "date_order",
            f"有效期至 {valid_to} 早于有效期自 {valid_from}",
            f"valid to {valid_to} is before valid from {valid_from}",
        )
    return {
        "decision_doc_name": cells.need("decision_doc_name"),
        "category": cells.choice("license_category", {c.value: c for c in models.LicenseCategory}),
        "certificate_name": cells.text("certificate_name"),
        "license_no": cells.text("license_no", free=True),
        "content": cells.need("license_content", free=True),
        "valid_from_on": valid_from,
        "valid_to_on": valid_to,
    }


def _penalty(cells: Cells, lookups: Lookups) -> dict[str, Any]:
    content = cells.need("penalty_content", free=True)
    try:
        categories = penalty_categories(cells.need("penalty_category"), content)
    except CategoryError as error:
        raise CellError("penalty_category", "category", error.zh, error.en) from None
    labels = set(categories)
    fine = cells.amount("fine_amount_wan", required="罚款" in labels)
    confiscated = cells.amount(
        "confiscation_amount_wan", required=bool(labels & {"没收违法所得", "没收非法财物"})
    )
    suspended = cells.text(
        "suspended_revoked_license",
        required=bool(labels & {"暂扣许可证件", "吊销许可证件"}),
        free=True,
    )
    return {
        "violation_type": cells.need("violation_type", free=True),
        "violation_facts": cells.need("violation_facts", free=True),
        "legal_basis": cells.need("legal_basis", free=True),
        "categories": ";".join(categories),
        "content": content,
        "fine_amount_wan": fine,
        "confiscation_amount_wan": confiscated,
        "suspended_revoked_license": suspended,
        "valid_until_on": cells.date("penalty_valid_until", required=True, indefinite=True),
        "severity": cells.choice("severity", SEVERITY_VALUES, default=models.Severity.GENERAL),
        "publicity_end_on": cells.date("publicity_end_date", required=False),
    }


def _list_entry(cells: Cells, lookups: Lookups) -> dict[str, Any]:
    named = cells.need("list_code")
    found = lookups.lists.get(named)
    if found is None:
        raise CellError(
            "list_code",
            "unknown_list",
            f"没有名为「{shown(named)}」的名单",
            f"there is no list with code or name {shown(named)!r}",
        )
    return {
        "list_id": found.id,
        "reason": cells.need("reason", free=True),
        "valid_until_on": cells.date("valid_until", required=False, indefinite=True),
    }


_RECORD: dict[models.RecordKind, Callable[[Cells, Lookups], dict[str, Any]]] = {
    models.RecordKind.LICENSE: _license,
    models.RecordKind.PENALTY: _penalty,
    models.RecordKind.LIST_ENTRY: _list_entry,
}


def check_row(
    kind: models.RecordKind, row: int, cells: Mapping[str, str], lookups: Lookups
) -> Valid | Reason:
    """Check one row of a `kind` template (cells by our column keys): the typed fields, or the
    first reason it cannot be accepted."""
    read = Cells(cells)
    try:
        subject = _subject(read, lookups.id_key)
        record = {
            "decision_doc_no": read.need("decision_doc_no"),
            "decision_on": read.date("decision_date", required=True),
            **_RECORD[kind](read, lookups),
            "remarks": read.text("remarks", free=True),
        }
        authority = Party(
            read.credit_code("authority_uscc", required=True) or "",
            read.need("authority_name"),
        )
        source_code = read.credit_code("source_unit_uscc", required=not lookups.source_unit_given)
        source = None
        if source_code is not None:
            source = Party(source_code, read.need("source_unit"))
    except CellError as bad:
        return reason(kind, row, bad.column, bad.rule, bad.zh, bad.en)
    return Valid(row, subject, authority, source, record)


def reason(kind: models.RecordKind, row: int, column: str, rule: str, zh: str, en: str) -> Reason:
    """A rejection of `row` for `column` of a `kind` template."""
    header = next((c.zh for c in template.COLUMNS[kind] if c.key == column), column)
    return Reason(row, column, header, rule, zh, en)
