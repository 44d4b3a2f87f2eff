import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from disclosure import categories, models, privacy, validation
from tests import factories
from tests.template_rows import AUTHORITY, COMPANY, PERSON, check, penalty_cells

PENALTY = models.RecordKind.PENALTY


def test_a_valid_row_gives_typed_fields() -> None:
    assert check() == validation.Valid(
        row=2,
        subject={
            "category": models.SubjectCategory.LEGAL_PERSON,
            "name": "湛江市赤坎区鸿达食品有限公司",
            "credit_code": COMPANY,
            "business_reg_no": None,
            "org_code": None,
            "tax_reg_no": None,
            "institution_cert_no": None,
            "social_org_reg_no": None,
            "legal_rep_name": "李伟",
            "legal_rep_id_type": None,
        },
        authority=validation.Party(AUTHORITY, "赤坎区市场监督管理局"),
        source_unit=validation.Party(AUTHORITY, "赤坎区市场监督管理局"),
        record={
            "decision_doc_no": "赤市监罚〔2026〕101号",
            "decision_on": dt.date(2026, 5, 20),
            "violation_type": "销售不符合食品安全标准的食品",
            "violation_facts": "抽检发现当事人销售的散装花生油酸价超标",
            "legal_basis": "《中华人民共和国食品安全法》第一百二十四条第一款",
            "categories": "罚款",
            "content": "罚款2000元",
            "fine_amount_wan": Decimal("0.2"),
            "confiscation_amount_wan": None,
            "suspended_revoked_license": None,
            "valid_until_on": dt.date(2026, 6, 20),
            "severity": models.Severity.GENERAL,
            "publicity_end_on": None,
            "remarks": None,
        },
    )


REJECTIONS: list[tuple[dict[str, str], str, str]] = [
    ({"subject_name": " "}, "subject_name", "required"),
    ({"subject_category": "公司"}, "subject_category", "enum"),
    ({"subject_uscc": ""}, "subject_uscc", "required"),
    ({"subject_uscc": COMPANY[:-1] + "0" if COMPANY[-1] != "0" else "1"}, "subject_uscc", "uscc"),
    ({"subject_uscc": "00000000000000000X"}, "subject_uscc", "uscc_placeholder"),
    ({"subject_uscc": "000000000000000000"}, "subject_uscc", "uscc_placeholder"),
    ({"legal_rep_name": ""}, "legal_rep_name", "required"),
    (
        {"subject_category": "自然人", "subject_uscc": "", "person_id_no": ""},
        "person_id_no",
        "required",
    ),
    (
        {"subject_category": "自然人", "subject_uscc": "", "person_id_no": "440802199001011234"},
        "person_id_no",
        "ric",
    ),
    ({"decision_doc_no": ""}, "decision_doc_no", "required"),
    ({"decision_date": "20/05/2026"}, "decision_date", "date"),
    ({"decision_date": "2026/02/30"}, "decision_date", "date"),
    ({"penalty_valid_until": ""}, "penalty_valid_until", "required"),
    ({"penalty_category": "罚金"}, "penalty_category", "category"),
    ({"fine_amount_wan": ""}, "fine_amount_wan", "required"),
    ({"fine_amount_wan": "2000元"}, "fine_amount_wan", "amount"),
    ({"fine_amount_wan": "-1"}, "fine_amount_wan", "amount"),
    ({"fine_amount_wan": "0.0000001"}, "fine_amount_wan", "amount_precision"),
    ({"penalty_category": "罚款;没收违法所得"}, "confiscation_amount_wan", "required"),
    ({"penalty_category": "吊销许可证件"}, "suspended_revoked_license", "required"),
    ({"severity": "很严重"}, "severity", "enum"),
    ({"publicity_end_date": "明年"}, "publicity_end_date", "date"),
    ({"violation_facts": ""}, "violation_facts", "required"),
    ({"authority_uscc": "123"}, "authority_uscc", "uscc"),
    ({"source_unit_uscc": ""}, "source_unit_uscc", "required"),
    ({"decision_doc_no": "号" * 201}, "decision_doc_no", "too_long"),
]


@pytest.mark.parametrize(("overrides", "column", "rule"), REJECTIONS)
def test_each_rule_rejects_with_one_reason(
    overrides: dict[str, str], column: str, rule: str
) -> None:
    reason = check(**overrides)
    assert isinstance(reason, validation.Reason)
    assert (reason.row, reason.column, reason.rule) == (2, column, rule)
    assert str(reason).startswith(f"第2行「{reason.header}」：")
    assert f" / row 2, {column}: " in str(reason)


def test_reasons_never_show_an_identity_number() -> None:
    bad = "440802199001011234"  # a birth date, a wrong check digit
    reason = check(subject_category="自然人", subject_uscc="", person_id_no=bad)
    assert str(reason) == (
        "第2行「证件号码」：440802********1234 不是有效的居民身份证号码（GB 11643） / row 2, "
        "person_id_no: 440802********1234 is not a valid resident identity number (GB 11643)"
    )


def test_a_natural_person_keeps_only_the_masked_number_and_digest() -> None:
    valid = check(subject_category="自然人", subject_uscc="", person_id_no=PERSON)
    assert isinstance(valid, validation.Valid)
    assert valid.subject == {
        "category": models.SubjectCategory.NATURAL_PERSON,
        "name": "湛江市赤坎区鸿达食品有限公司",
        "business_reg_no": None,
        "org_code": None,
        "tax_reg_no": None,
        "institution_cert_no": None,
        "social_org_reg_no": None,
        "id_type": "身份证",
        **privacy.person_identity(PERSON, factories.ID_KEY),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026/05/20", dt.date(2026, 5, 20)),
        ("2026-5-20", dt.date(2026, 5, 20)),
        ("2026年5月20日", dt.date(2026, 5, 20)),
        ("２０２６／０５／２０", dt.date(2026, 5, 20)),
        (" 2026-05-20 00:00:00 ", dt.date(2026, 5, 20)),
        ("2099/12/31", None),
    ],
)
def test_date_formats(text: str, expected: dt.date | None) -> None:
    valid = check(penalty_valid_until=text)
    assert isinstance(valid, validation.Valid)
    assert valid.record["valid_until_on"] == expected


def test_full_width_and_stray_whitespace_are_normalised() -> None:
    valid = check(
        subject_uscc=" " + COMPANY.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}),
        fine_amount_wan="０．２５",
        subject_name="  湛江市　鸿达  公司 ",
        violation_facts="当事人身份证号 440802199001011238 已核实",
    )
    assert isinstance(valid, validation.Valid)
    assert (valid.subject["credit_code"], valid.subject["name"]) == (COMPANY, "湛江市 鸿达 公司")
    assert valid.record["fine_amount_wan"] == Decimal("0.25")
    assert valid.record["violation_facts"] == "当事人身份证号 440802********1238 已核实"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("轻微", models.Severity.MINOR), ("serious", models.Severity.SERIOUS), ("", "general")],
)
def test_severity_column(text: str, expected: models.Severity) -> None:
    valid = check(severity=text)
    assert isinstance(valid, validation.Valid)
    assert valid.record["severity"] == expected


@pytest.mark.parametrize(
    ("text", "content", "expected"),
    [
        ("罚款；没收违法所得、没收非法财物", "", ["罚款", "没收违法所得", "没收非法财物"]),
        ("警告、通报批评", "", ["警告", "通报批评"]),
        ("暂扣或者吊销许可证、暂扣或者吊销执照", "吊销食品经营许可证", ["吊销许可证件"]),
        ("暂扣或者吊销许可证", "暂扣许可证三个月", ["暂扣许可证件"]),
        (
            "暂扣或吊销执照；罚款",
            "罚款一万元，暂扣营业执照并吊销许可证",
            ["罚款", "暂扣许可证件", "吊销许可证件"],
        ),
        ("法律、行政法规规定的其他行政处罚", "", ["其他行政处罚"]),
        ("吊销营业执照；罚款", "", ["罚款", "吊销许可证件"]),
    ],
)
def test_penalty_categories_follow_article_9(text: str, content: str, expected: list[str]) -> None:
    assert categories.penalty_categories(text, content) == expected


def test_suspended_or_revoked_needs_the_content_to_say_which() -> None:
    reason = check(penalty_category="暂扣或者吊销许可证", penalty_content="依法暂扣或者吊销许可证")
    assert isinstance(reason, validation.Reason)
    assert (reason.column, reason.rule) == ("penalty_category", "category")
    assert "写明是暂扣还是吊销" in reason.zh


def test_list_entries_name_a_known_list() -> None:
    lookups = validation.Lookups(
        id_key=factories.ID_KEY, lists={"black": validation.ListRef(3, "black")}
    )
    cells = penalty_cells(list_code="black", reason="严重失信", decision_date="2026-05-20")
    valid = validation.check_row(models.RecordKind.LIST_ENTRY, 5, cells, lookups)
    assert isinstance(valid, validation.Valid)
    assert valid.record == {
        "decision_doc_no": "赤市监罚〔2026〕101号",
        "decision_on": dt.date(2026, 5, 20),
        "list_id": 3,
        "reason": "严重失信",
        "valid_until_on": None,
        "remarks": None,
    }
    unknown = validation.check_row(
        models.RecordKind.LIST_ENTRY, 5, cells | {"list_code": "red"}, lookups
    )
    assert isinstance(unknown, validation.Reason)
    assert unknown.rule == "unknown_list"


def test_source_unit_may_come_from_the_run() -> None:
    cells: dict[str, Any] = penalty_cells(source_unit="", source_unit_uscc="")
    valid = validation.check_row(
        PENALTY, 2, cells, validation.Lookups(source_unit_given=True, id_key=factories.ID_KEY)
    )
    assert isinstance(valid, validation.Valid)
    assert valid.source_unit is None
