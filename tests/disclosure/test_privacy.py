import datetime as dt

import pytest
from sqlmodel import Session, select

from disclosure import lifecycle, models, privacy, sample, tombstones, workdays
from tests import factories
from tests.conftest import unmasked_id_numbers

D = dt.date


def test_mask_keeps_first_six_and_last_four() -> None:
    assert privacy.mask_id_number("44080219800101123X") == "440802********123X"
    assert privacy.mask_id_number("440802800101123") == "440802*****1123"
    assert privacy.mask_id_number("123") == "***"


def test_scrub_masks_identity_numbers_in_free_text_only() -> None:
    text = (
        "当事人陈某（身份证号44080219800101123X，旧证440802800101123）经营账号6222021234567890123"
    )
    assert privacy.scrub(text) == (
        "当事人陈某（身份证号440802********123X，旧证440802*****1123）经营账号6222021234567890123"
    )
    # a credit code is not an identity number
    assert (
        privacy.scrub("统一社会信用代码91440802MA4UJ0XK8N") == "统一社会信用代码91440802MA4UJ0XK8N"
    )


def test_natural_person_projection_masks_and_omits(session: Session) -> None:
    number = "44080219800101123X"
    person = factories.add_subject(
        session,
        models.SubjectCategory.NATURAL_PERSON,
        **privacy.person_identity(number, factories.ID_KEY),
    )
    penalty = factories.add_penalty(
        session, subject_id=person.id, remarks=f"当事人身份证号 {number}"
    )
    shown = privacy.penalty(penalty, factories.DEFAULT_ON)
    assert shown.subject == privacy.SubjectPublic(
        key=f"P{person.id}",
        category=models.SubjectCategory.NATURAL_PERSON,
        name="陈志强",
        credit_code=None,
        masked_id_number="440802********123X",
        legal_rep_name=None,
        business_reg_no=None,
        org_code=None,
        tax_reg_no=None,
        institution_cert_no=None,
        social_org_reg_no=None,
    )
    assert shown.remarks == "当事人身份证号 440802********123X"
    assert unmasked_id_numbers(shown.model_dump_json()) == []


def test_legal_representative_name_shown_and_id_type_not(session: Session) -> None:
    company = factories.add_subject(session)
    license = factories.add_license(session, subject_id=company.id)
    dumped = privacy.license(license, factories.DEFAULT_ON).model_dump_json()
    assert "legal_rep_id" not in dumped
    assert "李伟" in dumped
    assert company.credit_code is not None
    assert company.credit_code in dumped


def test_projection_of_a_record_that_is_not_public_is_refused(session: Session) -> None:
    penalty = factories.add_penalty(session, on=D(2026, 1, 12), decision_on=D(2026, 1, 10))
    with pytest.raises(privacy.NotPublicError, match=r"penalty \d+ is not public on 2027-01-11"):
        privacy.penalty(penalty, D(2027, 1, 11))
    assert tombstones.tombstone(penalty, D(2027, 1, 11)) == tombstones.Tombstone(
        id=penalty.id,
        kind=models.RecordKind.PENALTY,
        ended_on=D(2027, 1, 11),
        reason="expired",
        label="公示期满",
        explanation=None,
    )
    assert tombstones.tombstone(penalty, D(2027, 1, 10)) is None


def test_no_projection_of_sample_data_holds_an_unmasked_id_number(session: Session) -> None:
    on = D(2026, 11, 28)
    sample.generate(
        session,
        records=600,
        seed=7,
        as_of=on,
        rules=lifecycle.Rules(),
        calendar=workdays.Calendar(),
    )
    persons = session.exec(
        select(models.Subject).where(
            models.Subject.category == models.SubjectCategory.NATURAL_PERSON
        )
    ).all()
    assert persons, "sample data should hold natural persons"
    shown = []
    for model in models.RECORD_MODELS.values():
        for record in session.exec(select(model).where(lifecycle.public_clause(model, on))):
            assert isinstance(record, models.License | models.Penalty | models.ListEntry)
            shown.append(privacy.project(record, on).model_dump_json())
    text = "\n".join(shown)
    assert len(shown) > 300
    assert unmasked_id_numbers(text) == []
    assert any("********" in line for line in shown)


def test_a_tombstone_shows_an_old_reason_scrubbed_and_bounded(session: Session) -> None:
    """A reason stored before it was checked on the way in is still masked and cut short."""
    penalty = factories.add_penalty(session, on=D(2026, 1, 12), decision_on=D(2026, 1, 10))
    penalty.ended_on, penalty.end_reason = D(2026, 3, 2), models.EndReason.WITHDRAWN
    penalty.end_explanation = "复议撤销 44080219900101123X " + "理" * 600
    tomb = tombstones.tombstone(penalty, D(2026, 3, 2))
    assert tomb is not None and tomb.explanation is not None
    assert tomb.explanation.startswith("复议撤销 440802********123X 理")
    assert (len(tomb.explanation), tomb.explanation[-1]) == (tombstones.EXPLANATION_MAX, "…")


@pytest.mark.parametrize(
    ("typed", "masked"),
    [
        ("ID440802198503171237", "ID440802********1237"),
        ("sfz440802199206115671", "sfz440802********5671"),
        ("No.440802198503171237x", "No.440802********1237x"),
        ("440802199911111115a", "440802********1115a"),
        ("440802 20011231 1351", "440802********1351"),
        ("440802-19991111-1115", "440802********1115"),
        ("备注 440802 198806074522", "备注 440802********4522"),
        ("４４０８０２１９９００５０３２２１２", "440802********2212"),
        ("440802 1990 0503 221x", "440802 1990 0503 221x"),  # no such number: X is wrong
        # written in one piece and alone, a birth date is enough: a mistyped number is masked
        ("证号440802198503171230。", "证号440802********1230。"),
        ("账号6222021234567890123", "账号6222021234567890123"),  # 19 digits: not an ID number
        ("6222 0212 3456 7890 123", "6222 0212 3456 7890 123"),
        ("代码91440802MA4UJ0XK8N", "代码91440802MA4UJ0XK8N"),
    ],
)
def test_scrub_masks_every_spelling_of_an_identity_number(typed: str, masked: str) -> None:
    assert privacy.scrub(typed) == masked


def test_scrub_masks_mobile_numbers_of_natural_persons_only() -> None:
    text = "电话13812345678、138-1234-5678、+86 139 1234 5678，座机0759-3123456"
    assert privacy.scrub(text, person=True) == (
        "电话138****5678、138****5678、139****5678，座机0759-3123456"
    )
    assert privacy.scrub(text) == text  # an organisation's number is its public contact


def test_a_natural_persons_mobile_number_leaves_no_projection(session: Session) -> None:
    person = factories.add_subject(
        session,
        models.SubjectCategory.NATURAL_PERSON,
        **privacy.person_identity("44080219800101123X", factories.ID_KEY),
    )
    company = factories.add_subject(session, models.SubjectCategory.LEGAL_PERSON)
    facts = "当事人联系电话13812345678"
    shown = [
        privacy.penalty(
            factories.add_penalty(session, subject_id=subject.id, violation_facts=facts),
            factories.DEFAULT_ON,
        ).violation_facts
        for subject in (person, company)
    ]
    assert shown == ["当事人联系电话138****5678", facts]
