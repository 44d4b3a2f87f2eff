"""The credit report (公共信用信息报告): what a subject's report of a day holds, and its digest.

A report holds the subject's public records of the day, each through the one public projection
(`privacy.project`), its standing (`standing.standings`), and the publicity rules that governed
them. A record whose publication ended early since the day (撤回, 信用修复, 异议成立, 撤销认定)
leaves the report of that day too: its publication stopped everywhere, and a report made before
no longer matches (`report_codes.verify` says so, and why).

The digest is of the content alone — not of the data version, which moves with every change to
any record — so that it can be computed again, for the same subject and day, to check a report.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

from pydantic import Field
from sqlmodel import Session

from disclosure import lifecycle, measures, models, privacy, standing
from disclosure.privacy import Public
from disclosure.queries import record_pages


class ReportTrigger(Public):
    """A record of the report that makes a measure apply."""

    kind: models.RecordKind = Field(description="记录类型")
    id: int = Field(description="记录编号")


class ReportMeasure(Public):
    """A measure that applies to the subject on the day (联合奖惩措施)."""

    code: str = Field(description="措施编码")
    text: str = Field(description="措施内容")
    kind: measures.MeasureKind = Field(description="激励或惩戒")
    mandatory: bool = Field(description="强制性 (true) or 推荐性")
    legal_basis: str = Field(description="依据")
    departments: list[str] = Field(description="实施部门")
    reaches_legal_representative: bool = Field(description="(九) reaches the legal representative")
    state: standing.State = Field(description="执行 or 异议核实期间暂不执行")
    triggers: list[ReportTrigger] = Field(description="触发记录; empty for a clean record")


class ReportRule(Public):
    """A publicity rule the report applied (公示期限规则)."""

    severity: models.Severity = Field(description="失信程度")
    effective_on: dt.date = Field(description="施行日期 for decisions from this day on")
    published_by_default: bool = Field(description="whether it is published without a request")
    min_months: int = Field(description="最短公示期（月） repair possible after it")
    max_months: int = Field(description="最长公示期（月）")
    source: str = Field(description="依据 the rule's source")


class ReportContent(Public):
    """What a subject's credit report of one day says: what its digest is computed from."""

    on: dt.date = Field(description="报告日期 the day the report holds for")
    subject: privacy.SubjectPublic = Field(description="信用主体")
    licenses: list[privacy.LicensePublic] = Field(description="行政许可, newest first")
    penalties: list[privacy.PenaltyPublic] = Field(description="行政处罚, newest first")
    list_entries: list[privacy.ListEntryPublic] = Field(description="名单条目, newest first")
    measures: list[ReportMeasure] = Field(description="适用的联合奖惩措施")
    clean_since: dt.date | None = Field(description="无不良记录起始日")
    rules: list[ReportRule] = Field(description="适用的公示规则")

    @property
    def record_count(self) -> int:
        """How many records the report shows."""
        return len(self.licenses) + len(self.penalties) + len(self.list_entries)


def digest(content: ReportContent) -> str:
    """The SHA-256 (hex) of the report's content in its canonical JSON form."""
    return hashlib.sha256(content.model_dump_json().encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Found:
    """A report's content, and the subject's row id it is about."""

    subject_id: int
    content: ReportContent


def reported(record: models.Record, on: dt.date) -> bool:
    """Whether `record` is in a report of `on`: public on the day, and its publication has not
    ended early since."""
    return lifecycle.is_public(record, on) and record.ended_on is None


def subject_id_of(session: Session, key: str) -> int | None:
    """The row id of the subject with public key `key` (credit code or P…), or None."""
    row = record_pages.subject_by_key(session, key.strip())
    return None if row is None else int(row.id)


def build(
    session: Session,
    key: str,
    on: dt.date,
    *,
    rules: lifecycle.Rules,
    catalogue: measures.Catalogue,
) -> Found | None:
    """The report of the subject with public key `key` on `on`; None when there is no such
    subject, or nothing of it is public that day (a report says only what is public)."""
    subject_id = subject_id_of(session, key)
    if subject_id is None:
        return None
    subject = session.get(models.Subject, subject_id)
    assert subject is not None
    found = record_pages.subject_records(session, subject, on)
    licenses = [r for r in found.licenses if reported(r, on)]
    penalties = [r for r in found.penalties if reported(r, on)]
    entries = [r for r in found.list_entries if reported(r, on)]
    if not (licenses or penalties or entries):
        return None
    records: list[models.Record] = [*licenses, *penalties, *entries]
    shown = {(r.KIND, r.id) for r in records}
    state = standing.standings(session, [subject_id], on=on, catalogue=catalogue)[subject_id]
    content = ReportContent(
        on=on,
        subject=privacy.subject(subject),
        licenses=[privacy.license(r, on) for r in licenses],
        penalties=[privacy.penalty(r, on) for r in penalties],
        list_entries=[privacy.list_entry(r, on) for r in entries],
        measures=_measures(state, shown),
        clean_since=state.clean_since,
        rules=_rules(rules, on, penalties),
    )
    return Found(subject_id, content)


def _measures(
    state: standing.Standing, shown: set[tuple[models.RecordKind, int | None]]
) -> list[ReportMeasure]:
    """The measures that apply, each with the triggering records the report shows; a measure
    whose every triggering record has left the report since (a report of a past day) is left
    out with them."""
    result = []
    for applied in state.measures:
        triggers = [t for t in applied.triggers if (t.kind, t.id) in shown]
        if applied.triggers and not triggers:
            continue
        m = applied.measure
        result.append(
            ReportMeasure(
                code=m.code,
                text=m.text,
                kind=m.kind,
                mandatory=m.mandatory,
                legal_basis=m.legal_basis,
                departments=list(m.departments),
                reaches_legal_representative=m.reaches_legal_representative,
                state=applied.state,
                triggers=[ReportTrigger(kind=t.kind, id=t.id) for t in triggers],
            )
        )
    return result


def _rules(
    rules: lifecycle.Rules, on: dt.date, penalties: list[models.Penalty]
) -> list[ReportRule]:
    """The rules in force on the day for each severity, and those that governed the penalties
    shown (decided under an older rule), in severity order."""
    used = {rules.rule_for(severity, on) for severity in models.Severity}
    used |= {lifecycle.publicity_window(p.severity, p.decision_on, rules).rule for p in penalties}
    order = list(models.Severity)
    return [
        ReportRule(
            severity=rule.severity,
            effective_on=rule.effective_on,
            published_by_default=rule.published_by_default,
            min_months=rule.min_months,
            max_months=rule.max_months,
            source=rule.source,
        )
        for rule in sorted(used, key=lambda r: (order.index(r.severity), r.effective_on))
    ]
