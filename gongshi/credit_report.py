"""The credit report (公共信用信息报告) as `gongshi` makes it: content, verification code and PDF,
for `gongshi report subject` and `gongshi serve`'s /reports/<key>.pdf."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlmodel import Session

from disclosure import credit_report, lifecycle, measures, privacy, report_codes, urls
from disclosure.queries import change_log
from gongshi import report_pdf


def filename(key: str, on: dt.date) -> str:
    """The report's file name: credit-report-<key>-<YYYY-MM-DD>.pdf."""
    return f"credit-report-{key}-{on.isoformat()}.pdf"


@dataclasses.dataclass(frozen=True)
class Made:
    """A report made: its content, its code and its PDF."""

    content: credit_report.ReportContent
    code: str
    data_version: int
    pdf: bytes


def make(
    session: Session,
    key: str,
    on: dt.date,
    *,
    rules: lifecycle.Rules,
    catalogue: measures.Catalogue,
    secret: bytes,
    links: urls.Urls,
) -> Made | None:
    """The report of the subject with public key `key` on `on`, or None when there is no such
    subject or nothing of it is public that day."""
    found = credit_report.build(session, key, on, rules=rules, catalogue=catalogue)
    if found is None:
        return None
    content = found.content
    version = change_log.last_event_id(session)
    code = report_codes.issue(
        content.subject.key, on, version, credit_report.digest(content), secret
    )
    issued = report_pdf.Issued(code, links.verify(code), version, links.base)
    return Made(content, code, version, report_pdf.render(content, issued))


def not_found(key: str, on: dt.date) -> str:
    """What is said of a key with no report (an identity number typed as a key stays masked)."""
    shown = privacy.scrub(key, person=True)
    return (
        f"主体 {shown} 在 {on} 没有公示信息，无法出具信用报告 / no subject {shown!r} with public "
        f"records on {on}: there is no credit report of it"
    )
