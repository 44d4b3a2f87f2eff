"""Public projections: the one place that decides what of a record may be shown.

Every output (API, index, site, feeds, bulk files) is built from these shapes only. Identity
numbers of natural persons are masked to their first 6 and last 4 characters (no birth date);
legal representatives' identity numbers are never included; free text is scrubbed of anything
that reads as an identity number, in case a clerk typed one into it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal
from typing import TypedDict

from pydantic import BaseModel, ConfigDict

from disclosure import lifecycle, models

# An 18-character resident identity number (GB 11643) or an old 15-digit one, standing alone.
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


class NotPublicError(LookupError):
    """A projection was asked for a record that is not public on that day."""


def id_digest(number: str) -> str:
    """A digest of an identity number, to match the same person without keeping the number."""
    return hashlib.sha256(f"gongshi/id/{number.strip().upper()}".encode()).hexdigest()


def person_identity(number: str) -> dict[str, str]:
    """What a subject keeps of a natural person's identity number: masked form and digest."""
    return {"id_number_masked": mask_id_number(number), "id_number_digest": id_digest(number)}


def mask_id_number(number: str) -> str:
    """An identity number with only its first 6 and last 4 characters kept."""
    number = number.strip()
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def _reads_as_id_number(candidate: str) -> bool:
    """Whether a run carries a birth date where an identity number has one. The check digit is
    not required: a mistyped number still tells a birth date."""
    if len(candidate) == 18:
        year, month, day = candidate[6:10], candidate[10:12], candidate[12:14]
    else:  # 15 digits: region, YYMMDD birth date, sequence
        year, month, day = "19" + candidate[6:8], candidate[8:10], candidate[10:12]
    try:
        born = dt.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return 1900 <= born.year <= 2099


def scrub(text: str | None) -> str | None:
    """Free text with every identity number in it masked."""
    if not text:
        return text
    return _ID_LIKE.sub(lambda m: mask_id_number(m[0]) if _reads_as_id_number(m[0]) else m[0], text)


class Public(BaseModel):
    """Base of the public shapes: immutable, built only here."""

    model_config = ConfigDict(frozen=True)


class DepartmentPublic(Public):
    """A department as the public sees it."""

    credit_code: str
    name: str


class SubjectPublic(Public):
    """A subject as the public sees it: never an unmasked identity number."""

    key: str  # credit code, or "P<id>" for a person without one: never built from an ID number
    category: models.SubjectCategory
    name: str
    credit_code: str | None
    masked_id_number: str | None
    legal_rep_name: str | None
    business_reg_no: str | None
    org_code: str | None
    tax_reg_no: str | None
    institution_cert_no: str | None
    social_org_reg_no: str | None


class RecordPublic(Public):
    """What every public record shows."""

    id: int
    kind: models.RecordKind
    subject: SubjectPublic
    authority: DepartmentPublic
    source_unit: DepartmentPublic
    decision_doc_no: str
    decision_on: dt.date
    published_on: dt.date
    remarks: str | None
    under_objection: bool  # 异议处理中
    objection_opened_on: dt.date | None


class LicensePublic(RecordPublic):
    """A public 行政许可."""

    decision_doc_name: str
    category: models.LicenseCategory
    certificate_name: str | None
    license_no: str | None
    content: str
    valid_from_on: dt.date
    valid_to_on: dt.date | None  # None = 长期
    lapsed: bool  # 已失效: past its validity, still public


class PenaltyPublic(RecordPublic):
    """A public 行政处罚."""

    violation_type: str
    violation_facts: str
    legal_basis: str
    categories: list[str]
    content: str
    fine_amount_wan: Decimal | None
    confiscation_amount_wan: Decimal | None
    suspended_revoked_license: str | None
    valid_until_on: dt.date | None  # None = 长期
    severity: models.Severity
    publicity_end_on: dt.date


class ListPublic(Public):
    """A named list, without its entries."""

    code: str
    kind: models.ListKind
    name: str


class ListEntryPublic(RecordPublic):
    """A public 名单条目."""

    list: ListPublic
    reason: str
    valid_until_on: dt.date | None  # None = until exit
    punishment_suspended: bool  # a black-list entry under objection: joint punishment paused


class Tombstone(Public):
    """What stays public of a record that no longer is: that it ended, when and why, no details."""

    id: int
    kind: models.RecordKind
    ended_on: dt.date  # the first day it was no longer public
    reason: str  # withdrawn | repaired | objection_upheld | revoked | expired


def department(unit: models.Department) -> DepartmentPublic:
    """The public shape of a department."""
    return DepartmentPublic(credit_code=unit.credit_code, name=unit.name)


def subject_key(subject: models.Subject) -> str:
    """The public key of a subject: its credit code, else a surrogate from its row id."""
    return subject.credit_code or f"P{subject.id}"


def subject(entity: models.Subject) -> SubjectPublic:
    """The public shape of a subject."""
    masked = None
    if entity.category is models.SubjectCategory.NATURAL_PERSON:
        masked = entity.id_number_masked
    return SubjectPublic(
        key=subject_key(entity),
        category=entity.category,
        name=scrub(entity.name) or "",
        credit_code=entity.credit_code,
        masked_id_number=masked,
        legal_rep_name=scrub(entity.legal_rep_name),
        business_reg_no=scrub(entity.business_reg_no),
        org_code=entity.org_code,
        tax_reg_no=scrub(entity.tax_reg_no),
        institution_cert_no=scrub(entity.institution_cert_no),
        social_org_reg_no=scrub(entity.social_org_reg_no),
    )


class _Common(TypedDict):
    id: int
    kind: models.RecordKind
    subject: SubjectPublic
    authority: DepartmentPublic
    source_unit: DepartmentPublic
    decision_doc_no: str
    decision_on: dt.date
    published_on: dt.date
    remarks: str | None
    under_objection: bool
    objection_opened_on: dt.date | None


def _common(record: models.Record, on: dt.date) -> _Common:
    if not lifecycle.is_public(record, on):
        raise NotPublicError(f"{record.KIND.value} {record.id} is not public on {on}")
    assert record.id is not None
    objection = lifecycle.under_objection(record, on)
    return {
        "id": record.id,
        "kind": record.KIND,
        "subject": subject(record.subject),
        "authority": department(record.authority),
        "source_unit": department(record.source_unit),
        "decision_doc_no": record.decision_doc_no,
        "decision_on": record.decision_on,
        "published_on": record.published_on,
        "remarks": scrub(record.remarks),
        "under_objection": objection,
        "objection_opened_on": record.objection_opened_on if objection else None,
    }


def license(record: models.License, on: dt.date) -> LicensePublic:
    """The public shape of a license on `on` (raises NotPublicError if it is not public)."""
    return LicensePublic(
        **_common(record, on),
        decision_doc_name=record.decision_doc_name,
        category=record.category,
        certificate_name=record.certificate_name,
        license_no=scrub(record.license_no),
        content=scrub(record.content) or "",
        valid_from_on=record.valid_from_on,
        valid_to_on=record.valid_to_on,
        lapsed=record.valid_to_on is not None and record.valid_to_on < on,
    )


def penalty(record: models.Penalty, on: dt.date) -> PenaltyPublic:
    """The public shape of a penalty on `on` (raises NotPublicError if it is not public)."""
    common = _common(record, on)
    assert record.publicity_end_on is not None  # a public penalty has its end date
    return PenaltyPublic(
        **common,
        violation_type=scrub(record.violation_type) or "",
        violation_facts=scrub(record.violation_facts) or "",
        legal_basis=record.legal_basis,
        categories=[label for label in record.categories.split(";") if label],
        content=scrub(record.content) or "",
        fine_amount_wan=record.fine_amount_wan,
        confiscation_amount_wan=record.confiscation_amount_wan,
        suspended_revoked_license=scrub(record.suspended_revoked_license),
        valid_until_on=record.valid_until_on,
        severity=record.severity,
        publicity_end_on=record.publicity_end_on,
    )


def list_entry(record: models.ListEntry, on: dt.date) -> ListEntryPublic:
    """The public shape of a list entry on `on` (raises NotPublicError if it is not public)."""
    common = _common(record, on)
    named = record.credit_list
    return ListEntryPublic(
        **common,
        list=ListPublic(code=named.code, kind=named.kind, name=named.name),
        reason=scrub(record.reason) or "",
        valid_until_on=record.valid_until_on,
        punishment_suspended=named.kind is models.ListKind.BLACK
        and lifecycle.under_objection(record, on),
    )


def project(record: models.Record, on: dt.date) -> LicensePublic | PenaltyPublic | ListEntryPublic:
    """The public shape of any record on `on`."""
    if isinstance(record, models.License):
        return license(record, on)
    if isinstance(record, models.Penalty):
        return penalty(record, on)
    return list_entry(record, on)


def tombstone(record: models.Record, on: dt.date) -> Tombstone | None:
    """What may be said of `record` on `on` once it is no longer public; None while it is."""
    ending = lifecycle.ending(record, on)
    if ending is None:
        return None
    assert record.id is not None
    reason = ending.reason.value if ending.reason is not None else "expired"
    return Tombstone(id=record.id, kind=record.KIND, ended_on=ending.on, reason=reason)
