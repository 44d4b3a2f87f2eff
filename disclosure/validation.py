"""Validation of template rows: text cells in, typed fields or one reason out.

A pure function of the row and the lookups passed in (named lists, a default source unit): file
ingestion and the API's mutations check input through the same `check_row` ("one validator, two
doors"). What publishing itself decides (decision date not in the future, 公示截止期 inside the
severity's window, a list's default validity) stays in `workflows.settle_new`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from stdnum.cn import ric, uscc

from disclosure import idkey, models, privacy, spreadsheet, template
from disclosure.categories import CategoryError, penalty_categories

INDEFINITE = dt.date(2099, 12, 31)  # the template's 长期
MAX_DECIMALS = 6  # 万元 to the 分
# The largest amount: 10 digits before the point keep every sum of 分 within a BIGINT.
MAX_AMOUNT = Decimal("9999999999.999999")

# Full-width letters, digits and the ideographic space, in every cell; in codes, dates and amounts
# also full-width punctuation. Chinese punctuation in free text (，：（）) stays as written.
_ALNUM = {c: c - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)) for c in
          range(r[0], r[1] + 1)} | {0x3000: 0x20}  # fmt: skip
_ALNUM_TABLE = str.maketrans(_ALNUM)
_ASCII_TABLE = str.maketrans({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20})
_SPACES = re.compile(r"\s+")
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]?0{1,2}:00(?::00)?)?")
_DATE_ZH = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_AMOUNT = re.compile(r"\d+(?:\.\d+)?")

CATEGORY_VALUES = {
    "法人及非法人组织": models.SubjectCategory.LEGAL_PERSON,
    "法人和非法人组织": models.SubjectCategory.LEGAL_PERSON,
    "法人": models.SubjectCategory.LEGAL_PERSON,
    "非法人组织": models.SubjectCategory.LEGAL_PERSON,
    "个体工商户": models.SubjectCategory.INDIVIDUAL_BUSINESS,
    "自然人": models.SubjectCategory.NATURAL_PERSON,
} | {category.value: category for category in models.SubjectCategory}

SEVERITY_VALUES = {
    "轻微": models.Severity.MINOR,
    "一般": models.Severity.GENERAL,
    "严重": models.Severity.SERIOUS,
} | {severity.value: severity for severity in models.Severity}

RESIDENT_ID_TYPES = frozenset({"身份证", "居民身份证", "二代身份证", "中华人民共和国居民身份证"})

# Longest text each stored field takes (models.py), by template key.
MAX_LENGTH = {
    "subject_name": 200,
    "business_reg_no": 50,
    "org_code": 20,
    "tax_reg_no": 50,
    "public_institution_cert_no": 50,
    "social_org_reg_no": 50,
    "legal_rep_name": 100,
    "legal_rep_id_type": 50,
    "person_id_type": 50,
    "decision_doc_no": 200,
    "decision_doc_name": 200,
    "certificate_name": 200,
    "license_no": 100,
    "violation_type": 500,
    "suspended_revoked_license": 500,
    "authority_name": 200,
    "source_unit": 200,
}


# Names and codes, which never begin like a spreadsheet formula: such a cell is refused (free text
# is kept, and neutralised in every CSV file written).
NO_FORMULA = frozenset(
    {
        "subject_name",
        "business_reg_no",
        "org_code",
        "tax_reg_no",
        "public_institution_cert_no",
        "social_org_reg_no",
        "legal_rep_name",
        "decision_doc_no",
        "decision_doc_name",
        "certificate_name",
        "license_no",
        "authority_name",
        "source_unit",
    }
)


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


class _Bad(Exception):
    def __init__(self, column: str, rule: str, zh: str, en: str) -> None:
        super().__init__(column, rule)
        self.column, self.rule, self.zh, self.en = column, rule, zh, en


def _shown(value: str) -> str:
    """A cell as a message may quote it: short, and never an unmasked identity number."""
    value = privacy.scrub(value) or ""
    return value if len(value) <= 40 else value[:40] + "…"


@functools.lru_cache(maxsize=65536)
def credit_code_problem(code: str) -> tuple[str, str, str] | None:
    """Why `code` is not a usable unified social credit code: (rule, 中文, English), or None."""
    shown = _shown(code)  # an identity number typed in the wrong column stays masked
    if len(set(code[:17])) == 1:
        return (
            "uscc_placeholder",
            f"占位代码 {shown} 不是有效的统一社会信用代码",
            (f"{shown} is a placeholder, not a unified social credit code"),
        )
    if not uscc.is_valid(code):
        return (
            "uscc",
            f"{shown} 不是有效的统一社会信用代码（GB 32100）",
            (f"{shown} is not a valid unified social credit code (GB 32100)"),
        )
    return None


class AmountError(ValueError):
    """A text that is not an amount in 万元, with the rule it breaks and why, in both languages."""

    def __init__(self, rule: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.rule, self.zh, self.en = rule, zh, en


def parse_amount(text: str) -> Decimal:
    """The amount in 万元 that `text` gives ("0.2", "1,200", "3万元"), to the 分 and at most
    MAX_AMOUNT; raises AmountError."""
    value = text.strip().removesuffix("万元").replace(",", "")
    if not _AMOUNT.fullmatch(value):
        raise AmountError(
            "amount",
            f"「{_shown(value)}」不是以万元计的金额（如 0.2）",
            f"{_shown(value)!r} is not an amount in 万元 (such as 0.2)",
        )
    amount = Decimal(value)  # the pattern admits only plain decimals
    if amount > MAX_AMOUNT:  # first: quantize fails past 28 digits
        raise AmountError(
            "amount_range",
            f"{_shown(value)} 万元超过上限 {MAX_AMOUNT}",
            f"{_shown(value)} 万元 is more than the largest amount, {MAX_AMOUNT}",
        )
    if amount != amount.quantize(Decimal(1).scaleb(-MAX_DECIMALS)):
        raise AmountError(
            "amount_precision",
            f"{_shown(value)} 万元超过 6 位小数（精确到分）",
            f"{_shown(value)} 万元 has more than 6 decimals (1 分 = 0.000001 万元)",
        )
    return amount


class _Cells:
    """The cells of one row, read as the template's types."""

    def __init__(self, cells: Mapping[str, str]) -> None:
        self.cells = cells
        self.person = False  # about a natural person: a mobile number in the text is masked

    def text(self, key: str, *, required: bool = False, free: bool = False) -> str | None:
        raw = self.cells.get(key, "")
        if not raw:
            value = ""
        elif free:  # free text: line breaks kept
            value = raw.translate(_ALNUM_TABLE).strip()
        else:
            value = _SPACES.sub(" ", raw.translate(_ALNUM_TABLE)).strip()
        # an identity number typed into any text (a name, a title) is masked, never published
        value = privacy.scrub(value, person=self.person) or ""
        if not value:
            if required:
                raise _Bad(key, "required", "必填项为空", "is required but empty")
            return None
        if key in NO_FORMULA and spreadsheet.is_formula(value):
            raise _Bad(
                key,
                "formula",
                f"「{_shown(value)}」以 = + - @ 开头，电子表格会把它当作公式",
                f"{_shown(value)!r} begins with = + - or @, which a spreadsheet runs as a formula",
            )
        limit = MAX_LENGTH.get(key)
        if limit is not None and len(value) > limit:
            raise _Bad(
                key,
                "too_long",
                f"超过 {limit} 个字符（{len(value)}）",
                f"is longer than {limit} characters ({len(value)})",
            )
        return value

    def need(self, key: str, *, free: bool = False) -> str:
        value = self.text(key, required=True, free=free)
        assert value is not None
        return value

    def code(self, key: str, *, required: bool) -> str | None:
        raw = self.cells.get(key, "")
        value = _SPACES.sub("", raw.translate(_ASCII_TABLE)).upper() if raw else ""
        if not value:
            if required:
                raise _Bad(key, "required", "必填项为空", "is required but empty")
            return None
        return value

    def credit_code(self, key: str, *, required: bool) -> str | None:
        code = self.code(key, required=required)
        if code is not None:
            problem = credit_code_problem(code)
            if problem is not None:
                raise _Bad(key, *problem)
        return code

    def date(self, key: str, *, required: bool, indefinite: bool = False) -> dt.date | None:
        value = self.code(key, required=required)
        if value is None:
            return None
        found = _DATE.fullmatch(value) or _DATE_ZH.fullmatch(value)
        try:
            if found is None:
                raise ValueError(value)
            day = dt.date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            raise _Bad(
                key,
                "date",
                f"「{_shown(value)}」不是日期（YYYY/MM/DD、YYYY-MM-DD 或 YYYY年M月D日）",
                f"{_shown(value)!r} is not a date (YYYY/MM/DD, YYYY-MM-DD or YYYY年M月D日)",
            ) from None
        if day == INDEFINITE and indefinite:
            return None
        return day

    def amount(self, key: str, *, required: bool) -> Decimal | None:
        value = self.code(key, required=required)
        if value is None:
            return None
        try:
            return parse_amount(value)
        except AmountError as error:
            raise _Bad(key, error.rule, error.zh, error.en) from None

    def choice(self, key: str, values: Mapping[str, Any], *, default: Any = None) -> Any:
        value = self.text(key, required=default is None)
        if value is None:
            return default
        found = values.get(value) or values.get(value.lower())
        if found is None:
            allowed = "、".join(v for v in values if not v.isascii())
            raise _Bad(
                key,
                "enum",
                f"「{_shown(value)}」不是允许的取值（{allowed}）",
                f"{_shown(value)!r} is not one of {', '.join(v for v in values if v.isascii())}",
            )
        return found


def _subject(cells: _Cells, id_key: idkey.IdKey | None) -> dict[str, Any]:
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
            raise _Bad(
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


def _license(cells: _Cells, lookups: Lookups) -> dict[str, Any]:
    valid_from = cells.date("valid_from", required=True)
    valid_to = cells.date("valid_to", required=True, indefinite=True)
    assert valid_from is not None
    if valid_to is not None and valid_to < valid_from:
        raise _Bad(
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


def _penalty(cells: _Cells, lookups: Lookups) -> dict[str, Any]:
    content = cells.need("penalty_content", free=True)
    try:
        categories = penalty_categories(cells.need("penalty_category"), content)
    except CategoryError as error:
        raise _Bad("penalty_category", "category", error.zh, error.en) from None
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


def _list_entry(cells: _Cells, lookups: Lookups) -> dict[str, Any]:
    named = cells.need("list_code")
    found = lookups.lists.get(named)
    if found is None:
        raise _Bad(
            "list_code",
            "unknown_list",
            f"没有名为「{_shown(named)}」的名单",
            f"there is no list with code or name {_shown(named)!r}",
        )
    return {
        "list_id": found.id,
        "reason": cells.need("reason", free=True),
        "valid_until_on": cells.date("valid_until", required=False, indefinite=True),
    }


_RECORD: dict[models.RecordKind, Callable[[_Cells, Lookups], dict[str, Any]]] = {
    models.RecordKind.LICENSE: _license,
    models.RecordKind.PENALTY: _penalty,
    models.RecordKind.LIST_ENTRY: _list_entry,
}


def check_row(
    kind: models.RecordKind, row: int, cells: Mapping[str, str], lookups: Lookups
) -> Valid | Reason:
    """Check one row of a `kind` template (cells by our column keys): the typed fields, or the
    first reason it cannot be accepted."""
    read = _Cells(cells)
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
    except _Bad as bad:
        return reason(kind, row, bad.column, bad.rule, bad.zh, bad.en)
    return Valid(row, subject, authority, source, record)


def reason(kind: models.RecordKind, row: int, column: str, rule: str, zh: str, en: str) -> Reason:
    """A rejection of `row` for `column` of a `kind` template."""
    header = next((c.zh for c in template.COLUMNS[kind] if c.key == column), column)
    return Reason(row, column, header, rule, zh, en)
