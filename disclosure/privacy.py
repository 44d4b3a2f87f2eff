"""Public projections: the one place that decides what of a record may be shown.

Every output (API, index, site, feeds, bulk files) is built from these shapes only. Identity
numbers of natural persons are masked to their first 6 and last 4 characters (no birth date);
legal representatives' identity numbers are never included; free text is scrubbed of anything
that reads as an identity number (and, about a natural person, a mobile number), in case a
clerk typed one into it (`disclosure.identity` tells them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple, cast

from pydantic import BaseModel, ConfigDict, Field

from disclosure import idkey, lifecycle, models
from disclosure.identity import mask_id_number as mask_id_number
from disclosure.identity import scrub as scrub


class MissingKeyError(LookupError):
    """A natural person's identity number is to be digested, but no key is set."""

    def __init__(self) -> None:
        super().__init__(
            "没有身份证号码密钥：请运行 gongshi init 或设置 GONGSHI_ID_KEY / "
            "no identity-number key: run `gongshi init` or set GONGSHI_ID_KEY"
        )

    def __reduce__(self) -> tuple[type[MissingKeyError], tuple[()]]:
        # raised in a worker that checks rows (`checkers`), it is raised again in the caller
        return (MissingKeyError, ())


class NotPublicError(LookupError):
    """A projection was asked for a record that is not public on that day."""


def unkeyed_digest(number: str) -> str:
    """The digest gongshi kept before digests were keyed (migration 0006 keys them)."""
    return hashlib.sha256(f"gongshi/id/{number.strip().upper()}".encode()).hexdigest()


def id_digest(number: str, key: idkey.IdKey) -> str:
    """A digest of an identity number, to match the same person without keeping the number:
    keyed (`disclosure.idkey`), so that without the key, trying every birth date against a copy
    of the database matches nothing."""
    return key.apply(unkeyed_digest(number))


def person_identity(number: str, key: idkey.IdKey) -> dict[str, str]:
    """What a subject keeps of a natural person's identity number: masked form and digest."""
    return {"id_number_masked": mask_id_number(number), "id_number_digest": id_digest(number, key)}


class Public(BaseModel):
    """Base of the public shapes: immutable, built only here."""

    model_config = ConfigDict(frozen=True)


class DepartmentPublic(Public):
    """A department as the public sees it."""

    credit_code: str = Field(description="统一社会信用代码 unified social credit code")
    name: str = Field(description="名称 name")


class SubjectPublic(Public):
    """A subject as the public sees it: never an unmasked identity number."""

    key: str = Field(
        description="主体标识 public key: credit code, or P<number> for a person without one"
    )
    category: models.SubjectCategory = Field(description="行政相对人类别 subject category")
    name: str = Field(description="行政相对人名称 name")
    credit_code: str | None = Field(
        description="统一社会信用代码 unified social credit code (organisations)"
    )
    masked_id_number: str | None = Field(
        description="证件号码（脱敏） identity number of a natural person, first 6 and last 4 kept"
    )
    legal_rep_name: str | None = Field(
        description="法定代表人 legal representative (or 经营者 operator)"
    )
    business_reg_no: str | None = Field(description="工商注册号 business registration number")
    org_code: str | None = Field(description="组织机构代码 organisation code")
    tax_reg_no: str | None = Field(description="税务登记号 tax registration number")
    institution_cert_no: str | None = Field(
        description="事业单位证书号 public institution certificate number"
    )
    social_org_reg_no: str | None = Field(
        description="社会组织登记证号 social organisation registration number"
    )


class RecordPublic(Public):
    """What every public record shows."""

    id: int = Field(description="记录编号 record number, unique within its kind")
    kind: models.RecordKind = Field(description="记录类型 record kind")
    subject: SubjectPublic = Field(description="行政相对人 the subject of the decision")
    party_name: str = Field(
        description="当事人名称（决定时） the subject's name as this decision named it"
    )
    authority: DepartmentPublic = Field(description="许可/处罚/认定机关 issuing authority")
    source_unit: DepartmentPublic = Field(
        description="数据来源单位 department that supplied the record"
    )
    decision_doc_no: str = Field(description="决定书文号 decision document number")
    decision_on: dt.date = Field(description="决定日期 decision date")
    published_on: dt.date = Field(description="公示日期 date of publication on this platform")
    remarks: str | None = Field(description="备注 remarks")
    under_objection: bool = Field(description="异议处理中 an objection is being verified")
    objection_opened_on: dt.date | None = Field(
        description="异议受理日期 date the open objection was accepted"
    )


class LicensePublic(RecordPublic):
    """A public 行政许可."""

    decision_doc_name: str = Field(
        description="行政许可决定文书名称 name of the licensing decision document"
    )
    category: models.LicenseCategory = Field(description="许可类别 license category")
    certificate_name: str | None = Field(description="许可证书名称 certificate name")
    license_no: str | None = Field(description="许可编号 license number")
    content: str = Field(description="许可内容 content of the license")
    valid_from_on: dt.date = Field(description="有效期自 valid from")
    valid_to_on: dt.date | None = Field(
        description="有效期至 valid to; null means 长期 (indefinite)"
    )
    lapsed: bool = Field(description="已失效 past its validity (still public)")


class PenaltyPublic(RecordPublic):
    """A public 行政处罚."""

    violation_type: str = Field(description="违法行为类型 type of violation")
    violation_facts: str = Field(description="违法事实 facts of the violation")
    legal_basis: str = Field(description="处罚依据 legal basis")
    categories: list[str] = Field(description="处罚类别 penalty categories (行政处罚法 Art. 9)")
    content: str = Field(description="处罚内容 content of the penalty")
    fine_amount_wan: Decimal | None = Field(description="罚款金额（万元） fine in 10,000 yuan")
    confiscation_amount_wan: Decimal | None = Field(
        description="没收违法所得、没收非法财物的金额（万元） confiscated amount in 10,000 yuan"
    )
    suspended_revoked_license: str | None = Field(
        description="暂扣或吊销证照名称及编号 suspended or revoked licenses"
    )
    valid_until_on: dt.date | None = Field(
        description="处罚有效期 penalty valid until; null means 长期 (indefinite)"
    )
    severity: models.Severity = Field(description="失信程度 severity: drives the publicity period")
    publicity_end_on: dt.date = Field(description="公示截止期 last day of publicity")


class ListPublic(Public):
    """A named list, without its entries."""

    code: str = Field(description="名单代码 stable code of the list")
    kind: models.ListKind = Field(description="名单类型 red, black or watch list")
    name: str = Field(description="名单名称 name of the list")


class ListEntryPublic(RecordPublic):
    """A public 名单条目."""

    list: ListPublic = Field(description="所属名单 the named list")
    reason: str = Field(description="列入事由 reason for inclusion")
    valid_until_on: dt.date | None = Field(
        description="有效期至 valid until; null means until exit (移出)"
    )
    punishment_suspended: bool = Field(
        description="暂停联合惩戒 joint punishment suspended while an objection is verified"
    )


# The projection is written once, as the public *fields* of each shape: plain dicts of Python
# values in the shape's field order. The shapes below are validated from them; a bulk export
# serializes the fields of a million records directly, without building a model for each (a test
# holds the two serializations equal).
#
# `record` is an ORM record, or a plain row of its table that carries KIND
# (queries.plain_rows.public_rows) together with its parties' fields: the bulk export's way.

Fields = dict[str, Any]


class Parties(NamedTuple):
    """The public fields of a record's parties. A bulk export projects each party once and
    shares it between the records that name it; one record's come from its relationships."""

    subject: Fields
    authority: Fields
    source_unit: Fields
    list: Fields | None = None  # list entries only


def parties(record: models.Record) -> Parties:
    """The public fields of an ORM record's parties."""
    named = record.credit_list if isinstance(record, models.ListEntry) else None
    return parties_of(record.subject, record.authority, record.source_unit, named)


def parties_of(
    subject: models.Subject,
    authority: models.Department,
    source_unit: models.Department,
    named: models.List | None = None,
) -> Parties:
    """The public fields of a record's parties (ORM objects or plain rows of their tables)."""
    return Parties(
        subject_fields(subject),
        department_fields(authority),
        department_fields(source_unit),
        None if named is None else list_fields(named),
    )


def list_fields(named: models.List) -> Fields:
    """The public fields of a named list."""
    return {"code": named.code, "kind": named.kind, "name": named.name}


def department_fields(unit: models.Department) -> Fields:
    """The public fields of a department."""
    return {"credit_code": unit.credit_code, "name": unit.name}


def department(unit: models.Department) -> DepartmentPublic:
    """The public shape of a department."""
    return DepartmentPublic(**department_fields(unit))


def subject_key(subject: models.Subject) -> str:
    """The public key of a subject: its credit code, else a surrogate from its row id ("P<id>",
    which `person_of_key` reads back)."""
    return subject.credit_code or f"P{subject.id}"


def person_of_key(key: str) -> int | None:
    """The row id a surrogate key ("P<id>", from `subject_key`) names, or None for a credit
    code."""
    return int(key[1:]) if key.startswith("P") and key[1:].isdigit() else None


def subject_fields(entity: models.Subject) -> Fields:
    """The public fields of a subject: never an unmasked identity number."""
    masked = None
    person = entity.category == models.SubjectCategory.NATURAL_PERSON
    if person:
        masked = entity.id_number_masked
    return {
        "key": subject_key(entity),
        "category": entity.category,
        "name": scrub(entity.name, person=person) or "",
        "credit_code": entity.credit_code,
        "masked_id_number": masked,
        "legal_rep_name": scrub(entity.legal_rep_name),
        "business_reg_no": scrub(entity.business_reg_no),
        "org_code": entity.org_code,
        "tax_reg_no": scrub(entity.tax_reg_no),
        "institution_cert_no": scrub(entity.institution_cert_no),
        "social_org_reg_no": scrub(entity.social_org_reg_no),
    }


def subject(entity: models.Subject) -> SubjectPublic:
    """The public shape of a subject."""
    return SubjectPublic(**subject_fields(entity))


def _person(parts: Parties) -> bool:
    """Whether the record is about a natural person, whose mobile number its text must not show."""
    return bool(parts.subject["category"] == models.SubjectCategory.NATURAL_PERSON)


def _common(record: models.Record, on: dt.date, parts: Parties) -> Fields:
    if not lifecycle.is_public(record, on):
        raise NotPublicError(f"{record.KIND.value} {record.id} is not public on {on}")
    assert record.id is not None
    objection = lifecycle.under_objection(record, on)
    return {
        "id": record.id,
        "kind": record.KIND,
        "subject": parts.subject,
        "party_name": record.party_name or parts.subject["name"],
        "authority": parts.authority,
        "source_unit": parts.source_unit,
        "decision_doc_no": record.decision_doc_no,
        "decision_on": record.decision_on,
        "published_on": record.published_on,
        "remarks": scrub(record.remarks, person=_person(parts)),
        "under_objection": objection,
        "objection_opened_on": record.objection_opened_on if objection else None,
    }


def license_fields(record: models.License, on: dt.date, parts: Parties) -> Fields:
    """The public fields of a license on `on` (raises NotPublicError if it is not public)."""
    fields = _common(record, on, parts)
    person = _person(parts)
    fields["decision_doc_name"] = record.decision_doc_name
    fields["category"] = record.category
    fields["certificate_name"] = record.certificate_name
    fields["license_no"] = scrub(record.license_no, person=person)
    fields["content"] = scrub(record.content, person=person) or ""
    fields["valid_from_on"] = record.valid_from_on
    fields["valid_to_on"] = record.valid_to_on
    fields["lapsed"] = record.valid_to_on is not None and record.valid_to_on < on
    return fields


def penalty_fields(record: models.Penalty, on: dt.date, parts: Parties) -> Fields:
    """The public fields of a penalty on `on` (raises NotPublicError if it is not public)."""
    fields = _common(record, on, parts)
    person = _person(parts)
    assert record.publicity_end_on is not None  # a public penalty has its end date
    fields["violation_type"] = scrub(record.violation_type, person=person) or ""
    fields["violation_facts"] = scrub(record.violation_facts, person=person) or ""
    fields["legal_basis"] = record.legal_basis
    fields["categories"] = [label for label in record.categories.split(";") if label]
    fields["content"] = scrub(record.content, person=person) or ""
    fields["fine_amount_wan"] = record.fine_amount_wan
    fields["confiscation_amount_wan"] = record.confiscation_amount_wan
    fields["suspended_revoked_license"] = scrub(record.suspended_revoked_license, person=person)
    fields["valid_until_on"] = record.valid_until_on
    fields["severity"] = record.severity
    fields["publicity_end_on"] = record.publicity_end_on
    return fields


def list_entry_fields(record: models.ListEntry, on: dt.date, parts: Parties) -> Fields:
    """The public fields of a list entry on `on` (raises NotPublicError if it is not public)."""
    fields = _common(record, on, parts)
    person = _person(parts)
    named = parts.list
    assert named is not None  # every entry belongs to a list
    fields["list"] = named
    fields["reason"] = scrub(record.reason, person=person) or ""
    fields["valid_until_on"] = record.valid_until_on
    fields["punishment_suspended"] = named["kind"] is models.ListKind.BLACK and bool(
        fields["under_objection"]
    )
    return fields


FIELDS: dict[models.RecordKind, Callable[[Any, dt.date, Parties], Fields]] = {
    models.RecordKind.LICENSE: license_fields,
    models.RecordKind.PENALTY: penalty_fields,
    models.RecordKind.LIST_ENTRY: list_entry_fields,
}


def license(record: models.License, on: dt.date, parts: Parties | None = None) -> LicensePublic:
    """The public shape of a license on `on` (raises NotPublicError if it is not public)."""
    return LicensePublic(**license_fields(record, on, parts or parties(record)))


def penalty(record: models.Penalty, on: dt.date, parts: Parties | None = None) -> PenaltyPublic:
    """The public shape of a penalty on `on` (raises NotPublicError if it is not public)."""
    return PenaltyPublic(**penalty_fields(record, on, parts or parties(record)))


def list_entry(
    record: models.ListEntry, on: dt.date, parts: Parties | None = None
) -> ListEntryPublic:
    """The public shape of a list entry on `on` (raises NotPublicError if it is not public)."""
    return ListEntryPublic(**list_entry_fields(record, on, parts or parties(record)))


def project(
    record: models.Record, on: dt.date, parts: Parties | None = None
) -> LicensePublic | PenaltyPublic | ListEntryPublic:
    """The public shape of any record on `on`."""
    if record.KIND is models.RecordKind.LICENSE:
        return license(cast(models.License, record), on, parts)
    if record.KIND is models.RecordKind.PENALTY:
        return penalty(cast(models.Penalty, record), on, parts)
    return list_entry(cast(models.ListEntry, record), on, parts)
