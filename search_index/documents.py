"""What the index holds of a record: built from its public projection only, so a natural
person's identity number (masked there) never reaches the index in any form."""

from __future__ import annotations

from typing import Any

from whoosh import fields

from disclosure import models, privacy
from search_index import analysis

# The layout of the documents below: an index built with another cannot be searched (rebuild it).
FORMAT = 2


def schema() -> fields.Schema:
    """The fields of every shard (one shard per record kind)."""
    text = analysis.analyzer()
    return fields.Schema(
        key=fields.ID(stored=True, unique=True),  # "<kind>:<id>"
        record_id=fields.NUMERIC(stored=True, bits=64),
        # name and decision texts in one field: a query word is one posting list to intersect,
        # not a union of one per field (whoosh skips through unions slowly)
        text=fields.TEXT(analyzer=text),
        name=fields.TEXT(analyzer=text, stored=True),  # 行政相对人名称: ranks name matches first
        credit_code=fields.ID(stored=True),  # exact; upper case
        doc_no=fields.ID(stored=True),  # 决定书文号, exact
        body=fields.STORED(),  # decision texts, for snippets
        authority=fields.TEXT(analyzer=text),  # 机关 and department names
        department=fields.ID(stored=True),  # source unit credit code: filter and facet
        category=fields.KEYWORD(commas=True, lowercase=False),
        list_code=fields.ID(),
        decided=fields.NUMERIC(stored=True, sortable=True),  # YYYYMMDD, for date order
    )


def key(kind: models.RecordKind, record_id: int) -> str:
    """The unique key of a record's document."""
    return f"{kind.value}:{record_id}"


def _body(shown: privacy.LicensePublic | privacy.PenaltyPublic | privacy.ListEntryPublic) -> str:
    if isinstance(shown, privacy.LicensePublic):
        parts = [shown.decision_doc_name, shown.certificate_name, shown.content]
    elif isinstance(shown, privacy.PenaltyPublic):
        parts = [shown.violation_type, shown.violation_facts, shown.legal_basis, shown.content]
    else:
        parts = [shown.list.name, shown.reason]
    return "\n".join(part for part in [*parts, shown.remarks] if part)


def _categories(
    shown: privacy.LicensePublic | privacy.PenaltyPublic | privacy.ListEntryPublic,
) -> list[str]:
    if isinstance(shown, privacy.LicensePublic):
        return [shown.category.value]
    if isinstance(shown, privacy.PenaltyPublic):
        return [*shown.categories, shown.severity.value]
    return [shown.list.kind.value]


def document(
    shown: privacy.LicensePublic | privacy.PenaltyPublic | privacy.ListEntryPublic,
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
