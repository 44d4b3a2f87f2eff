"""Template cells read as the template's types: text normalised (full-width forms, spaces, an
identity number masked), codes, credit codes, dates, amounts in 万元 and choices. A cell that
cannot be read raises CellError with its column, the rule and why, in 中文 and English.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from stdnum.cn import uscc

from disclosure import privacy, spreadsheet

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
# Whether a cell needs the tables above at all: most do not, and a search is cheaper than a
# translation of every cell.
_HAS_ALNUM = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000]")
_HAS_SPACE = re.compile(r"\s")
_ODD_SPACES = re.compile(r"[^\S ]|  ")  # what _SPACES.sub(" ", …) would change
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]?0{1,2}:00(?::00)?)?")
_DATE_ZH = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_AMOUNT = re.compile(r"\d+(?:\.\d+)?")

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


class CellError(Exception):
    """A cell that breaks `rule`, and why, in both languages."""

    def __init__(self, column: str, rule: str, zh: str, en: str) -> None:
        super().__init__(column, rule)
        self.column, self.rule, self.zh, self.en = column, rule, zh, en


def shown(value: str) -> str:
    """A cell as a message may quote it: short, and never an unmasked identity number."""
    value = privacy.scrub(value) or ""
    return value if len(value) <= 40 else value[:40] + "…"


@functools.lru_cache(maxsize=65536)
def credit_code_problem(code: str) -> tuple[str, str, str] | None:
    """Why `code` is not a usable unified social credit code: (rule, 中文, English), or None."""
    quoted = shown(code)  # an identity number typed in the wrong column stays masked
    if len(set(code[:17])) == 1:
        return (
            "uscc_placeholder",
            f"占位代码 {quoted} 不是有效的统一社会信用代码",
            (f"{quoted} is a placeholder, not a unified social credit code"),
        )
    if not uscc.is_valid(code):
        return (
            "uscc",
            f"{quoted} 不是有效的统一社会信用代码（GB 32100）",
            (f"{quoted} is not a valid unified social credit code (GB 32100)"),
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
            f"「{shown(value)}」不是以万元计的金额（如 0.2）",
            f"{shown(value)!r} is not an amount in 万元 (such as 0.2)",
        )
    amount = Decimal(value)  # the pattern admits only plain decimals
    if amount > MAX_AMOUNT:  # first: quantize fails past 28 digits
        raise AmountError(
            "amount_range",
            f"{shown(value)} 万元超过上限 {MAX_AMOUNT}",
            f"{shown(value)} 万元 is more than the largest amount, {MAX_AMOUNT}",
        )
    if amount != amount.quantize(Decimal(1).scaleb(-MAX_DECIMALS)):
        raise AmountError(
            "amount_precision",
            f"{shown(value)} 万元超过 6 位小数（精确到分）",
            f"{shown(value)} 万元 has more than 6 decimals (1 分 = 0.000001 万元)",
        )
    return amount


class Cells:
    """The cells of one row, read as the template's types."""

    def __init__(self, cells: Mapping[str, str]) -> None:
        self.cells = cells
        self.person = False  # about a natural person: a mobile number in the text is masked

    def text(self, key: str, *, required: bool = False, free: bool = False) -> str | None:
        raw = self.cells.get(key, "")
        if raw and _HAS_ALNUM.search(raw):
            raw = raw.translate(_ALNUM_TABLE)
        if not raw:
            value = ""
        elif free:  # free text: line breaks kept
            value = raw.strip()
        else:
            value = (_SPACES.sub(" ", raw) if _ODD_SPACES.search(raw) else raw).strip()
        # an identity number typed into any text (a name, a title) is masked, never published
        value = privacy.scrub(value, person=self.person) or ""
        if not value:
            if required:
                raise CellError(key, "required", "必填项为空", "is required but empty")
            return None
        if key in NO_FORMULA and spreadsheet.is_formula(value):
            raise CellError(
                key,
                "formula",
                f"「{shown(value)}」以 = + - @ 开头，电子表格会把它当作公式",
                f"{shown(value)!r} begins with = + - or @, which a spreadsheet runs as a formula",
            )
        limit = MAX_LENGTH.get(key)
        if limit is not None and len(value) > limit:
            raise CellError(
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
        value = self.cells.get(key, "")
        if value and not value.isascii():
            value = value.translate(_ASCII_TABLE)
        if _HAS_SPACE.search(value):
            value = _SPACES.sub("", value)
        value = value.upper()
        if not value:
            if required:
                raise CellError(key, "required", "必填项为空", "is required but empty")
            return None
        return value

    def credit_code(self, key: str, *, required: bool) -> str | None:
        code = self.code(key, required=required)
        if code is not None:
            problem = credit_code_problem(code)
            if problem is not None:
                raise CellError(key, *problem)
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
            raise CellError(
                key,
                "date",
                f"「{shown(value)}」不是日期（YYYY/MM/DD、YYYY-MM-DD 或 YYYY年M月D日）",
                f"{shown(value)!r} is not a date (YYYY/MM/DD, YYYY-MM-DD or YYYY年M月D日)",
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
            raise CellError(key, error.rule, error.zh, error.en) from None

    def choice(self, key: str, values: Mapping[str, Any], *, default: Any = None) -> Any:
        value = self.text(key, required=default is None)
        if value is None:
            return default
        found = values.get(value) or values.get(value.lower())
        if found is None:
            allowed = "、".join(v for v in values if not v.isascii())
            raise CellError(
                key,
                "enum",
                f"「{shown(value)}」不是允许的取值（{allowed}）",
                f"{shown(value)!r} is not one of {', '.join(v for v in values if v.isascii())}",
            )
        return found
