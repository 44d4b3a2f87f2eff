"""Plain functions that store realistic records through the real workflows."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from disclosure import idkey, lifecycle, models, privacy, sample, tokens, workflows

_numbers = itertools.count(1)
DEFAULT_ON = dt.date(2026, 6, 1)
# The identity-number key of the tests' deployment (a real one comes from `gongshi init`).
ID_KEY_TEXT = "6b" * 32
ID_KEY = idkey.IdKey.parse(ID_KEY_TEXT, "the tests' key")
TAX = "赤坎区税务局"  # a department other than the factories' own


def ctx(on: dt.date = DEFAULT_ON, actor: str = "tests", **kwargs: Any) -> workflows.Context:
    """A workflow context acting on `on`, with the tests' identity-number key."""
    return workflows.Context(actor=actor, on=on, **({"id_key": ID_KEY} | kwargs))


def add_department(session: Session, name: str = "赤坎区市场监督管理局") -> models.Department:
    code = sample.department_code(name)
    found = session.exec(
        select(models.Department).where(col(models.Department.credit_code) == code)
    ).first()
    if found is not None:
        return found
    unit = models.Department(credit_code=code, name=name)
    session.add(unit)
    session.flush()
    return unit


def department_token(session: Session, name: str = "赤坎区市场监督管理局") -> str:
    """The secret of a new department token of `name`'s department, committed."""
    unit = add_department(session, name)
    secret = tokens.create(session, unit_code=unit.credit_code, role=models.Role.DEPARTMENT)[1]
    session.commit()
    return secret


def add_subject(
    session: Session,
    category: models.SubjectCategory = models.SubjectCategory.LEGAL_PERSON,
    **overrides: Any,
) -> models.Subject:
    rng = random.Random(next(_numbers))
    fields: dict[str, Any] = {"category": category}
    if category is models.SubjectCategory.NATURAL_PERSON:
        number = sample.id_number(rng, "440802")
        fields |= {"name": "陈志强", "id_type": "身份证", **privacy.person_identity(number, ID_KEY)}
    else:
        kind = "2" if category is models.SubjectCategory.INDIVIDUAL_BUSINESS else "1"
        fields |= {
            "name": "湛江市赤坎区鸿达食品有限公司",
            "credit_code": sample.credit_code(rng, registrar="9", kind=kind, region="440802"),
            "legal_rep_name": "李伟",
            "legal_rep_id_type": "身份证",
        }
    subject = models.Subject(**(fields | overrides))
    session.add(subject)
    session.flush()
    return subject


def _parties(session: Session, overrides: dict[str, Any]) -> dict[str, Any]:
    unit = add_department(session)
    subject_id = overrides.pop("subject_id", None) or add_subject(session).id
    return {
        "subject_id": subject_id,
        "authority_id": unit.id,
        "source_unit_id": unit.id,
        "decision_doc_no": f"赤市监罚〔2026〕{next(_numbers)}号",
        "published_on": DEFAULT_ON,
    }


def add_license(session: Session, on: dt.date = DEFAULT_ON, **overrides: Any) -> models.License:
    decision_on = overrides.get("decision_on", on - dt.timedelta(days=3))
    fields = _parties(session, overrides) | {
        "decision_doc_name": "准予行政许可决定书",
        "category": models.LicenseCategory.REGISTRATION,
        "certificate_name": "食品经营许可证",
        "license_no": "JY14408020012345",
        "content": "准予食品经营许可",
        "decision_on": decision_on,
        "valid_from_on": decision_on,
        "valid_to_on": decision_on + dt.timedelta(days=5 * 365),
    }
    record = models.License(**(fields | overrides))
    workflows.publish(session, record, ctx(on))
    return record


def add_penalty(
    session: Session,
    on: dt.date = DEFAULT_ON,
    rules: lifecycle.Rules | None = None,
    **overrides: Any,
) -> models.Penalty:
    decision_on = overrides.get("decision_on", on - dt.timedelta(days=3))
    fields = _parties(session, overrides) | {
        "violation_type": "销售不符合食品安全标准的食品",
        "violation_facts": "抽检发现当事人销售的散装花生油酸价超标",
        "legal_basis": "《中华人民共和国食品安全法》第一百二十四条第一款",
        "categories": "罚款",
        "content": "罚款2000元",
        "fine_amount_wan": Decimal("0.2"),
        "decision_on": decision_on,
        "valid_until_on": decision_on + dt.timedelta(days=15),
        "severity": models.Severity.GENERAL,
    }
    record = models.Penalty(**(fields | overrides))
    workflows.publish(session, record, ctx(on, rules=rules or lifecycle.Rules()))
    return record


def add_list(
    session: Session, kind: models.ListKind = models.ListKind.BLACK, **overrides: Any
) -> models.List:
    unit = add_department(session)
    fields: dict[str, Any] = {
        "code": f"list-{next(_numbers)}",
        "kind": kind,
        "name": "严重违法失信名单",
        "authority_id": unit.id,
        "legal_basis": "《市场监督管理严重违法失信名单管理办法》",
        "listing_criteria": "实施严重违法失信行为",
        "exit_criteria": "列入满三年，或满一年后申请提前移出",
        "default_validity_months": 36,
        "min_listing_months": 12,
        "measures": [
            models.JointMeasure(
                measure="依法限制参加政府采购活动",
                implementing_department="赤坎区财政局",
                mandatory=True,
            )
        ],
    }
    named = models.List(**(fields | overrides))
    session.add(named)
    session.flush()
    return named


def add_list_entry(
    session: Session, on: dt.date = DEFAULT_ON, **overrides: Any
) -> models.ListEntry:
    list_id = overrides.pop("list_id", None) or add_list(session).id
    fields = _parties(session, overrides) | {
        "list_id": list_id,
        "reason": "因销售假冒伪劣商品受到较重行政处罚",
        "decision_on": overrides.get("decision_on", on - dt.timedelta(days=3)),
    }
    record = models.ListEntry(**(fields | overrides))
    workflows.publish(session, record, ctx(on))
    return record
