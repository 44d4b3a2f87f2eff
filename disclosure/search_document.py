"""What search holds of a record, whichever backend holds it (the whoosh index, the database's
search rows): built from its public projection only, so a natural person's identity number
(masked there) never reaches search in any form."""

from __future__ import annotations

from typing import Any

from disclosure import models, privacy

Shown = privacy.LicensePublic | privacy.PenaltyPublic | privacy.ListEntryPublic


def key(kind: models.RecordKind, record_id: int) -> str:
    """The unique key of a record's document."""
    return f"{kind.value}:{record_id}"


def _body(shown: Shown) -> str:
    if isinstance(shown, privacy.LicensePublic):
        parts = [shown.decision_doc_name, shown.certificate_name, shown.content]
    elif isinstance(shown, privacy.PenaltyPublic):
        parts = [shown.violation_type, shown.violation_facts, shown.legal_basis, shown.content]
    else:
        parts = [shown.list.name, shown.reason]
    return "\n".join(part for part in [*parts, shown.remarks] if part)


def _categories(
    shown: Shown,
) -> list[str]:
    if isinstance(shown, privacy.LicensePublic):
        return [shown.category.value]
    if isinstance(shown, privacy.PenaltyPublic):
        return [*shown.categories, shown.severity.value]
    return [shown.list.kind.value]


def document(
    shown: Shown,
) -> dict[str, Any]:
    """The index document of a public record."""
    subject = shown.subject
    body = _body(shown)
    # the name the decision gave, and the subject's current one if it has changed since
    names = "\n".join(dict.fromkeys((shown.party_name, subject.name)))
    return {
        "key": key(shown.kind, shown.id),
        "record_id": shown.id,
        "text": f"{names}\n{body}",
        "name": names,
        "credit_code": subject.credit_code or "",
        "doc_no": shown.decision_doc_no,
        "body": body,
        "authority": f"{shown.authority.name}\n{shown.source_unit.name}",
        "department": shown.source_unit.credit_code,
        "category": ",".join(_categories(shown)),
        "list_code": shown.list.code if isinstance(shown, privacy.ListEntryPublic) else "",
        "decided": int(shown.decision_on.strftime("%Y%m%d")),
    }
