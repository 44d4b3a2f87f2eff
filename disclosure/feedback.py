"""Trigger-feedback (触发反馈, plan (十二)): implementing departments report the measures they
applied; a report that relied on a record later withdrawn, repaired or found wrong on objection
must be undone (plan (十八): 恢复信誉、消除不良影响) by a deadline. Reports are
government-internal: only the counts of `monthly` are public.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from disclosure import measures, models, standing, workdays, workflows

REVERSAL_WORKING_DAYS = 7  # to undo a measure once its triggering record is found wrong or ends
# ends of a triggering record that make the measures it triggered be undone
UNDOING_ENDS = (
    models.EndReason.WITHDRAWN,
    models.EndReason.OBJECTION_UPHELD,
    models.EndReason.REPAIRED,
)


class NotApplicable(workflows.Refused):
    """The measure does not apply to the subject on that day, or is suspended."""

    code = "NOT_APPLICABLE"


def report(
    session: Session,
    *,
    token: models.Token,
    subject_id: int,
    measure_code: str,
    applied_on: dt.date,
    outcome: models.FeedbackOutcome,
    note: str | None,
    today: dt.date,
    catalogue: measures.Catalogue,
) -> models.MeasureReport:
    """Record that `token`'s department applied the measure; refused, with the reason, when it
    does not apply to the subject on `applied_on` (or is suspended then)."""
    measure = catalogue.get(measure_code)
    if measure is None:
        raise workflows.NotFound(f"措施 {measure_code} 不在措施清单中 / no such measure")
    if applied_on > today:
        raise workflows.InvalidChange(
            f"实施日期 {applied_on} 晚于今天 / applied on {applied_on}, after today",
            field="appliedOn",
        )
    said = (note or "").strip() or None
    if outcome is models.FeedbackOutcome.NOT_APPLIED and said is None:
        raise workflows.InvalidChange(
            "未实施须说明理由 / a measure not applied needs the reason in the note", field="note"
        )
    found = standing.standings(session, [subject_id], on=applied_on, catalogue=catalogue)
    applied = found[subject_id].applied(measure_code)
    if applied is None:
        raise NotApplicable(
            f"措施 {measure_code} 于 {applied_on} 不适用于该主体 / the measure does not apply to "
            f"this subject on {applied_on}",
            field="measure",
        )
    if applied.state is standing.State.SUSPENDED:
        raise NotApplicable(
            f"措施 {measure_code} 于 {applied_on} 因异议核实暂不执行 / the measure is suspended "
            f"on {applied_on}: an objection to its triggering record is being verified",
            field="measure",
        )
    row = models.MeasureReport(
        measure_code=measure_code,
        subject_id=subject_id,
        unit_id=token.unit_id,
        token_id=token.id,
        applied_on=applied_on,
        outcome=outcome,
        note=said,
        triggers=[ref.label() for ref in applied.triggers],
    )
    session.add(row)
    session.flush()
    return row


@dataclasses.dataclass(frozen=True)
class Reversal:
    """A report to be undone: since when, why, and by when."""

    report: models.MeasureReport
    since_on: dt.date  # the day its last triggering record ended
    reason: models.EndReason
    due_on: dt.date

    def overdue(self, on: dt.date) -> bool:
        """Whether it was not undone by its deadline, as of `on`."""
        done = self.report.reversed_on
        return self.due_on < on and (done is None or done > self.due_on)


def reversals(
    session: Session,
    calendar: workdays.Calendar,
    *,
    on: dt.date,
    unit_id: int | None = None,
    pending_only: bool = True,
) -> list[Reversal]:
    """Reports of applied measures whose every triggering record has since ended wrongly or by
    repair (as of `on`): to be undone within REVERSAL_WORKING_DAYS; pending ones only unless
    `pending_only` is False."""
    statement = select(models.MeasureReport).where(
        col(models.MeasureReport.outcome) == models.FeedbackOutcome.APPLIED
    )
    if unit_id is not None:
        statement = statement.where(col(models.MeasureReport.unit_id) == unit_id)
    if pending_only:
        statement = statement.where(col(models.MeasureReport.reversed_on).is_(None))
    found = list(session.exec(statement.order_by(col(models.MeasureReport.id))).all())
    refs: dict[models.RecordKind, set[int]] = defaultdict(set)
    for row in found:
        for label in row.triggers:
            kind, _, number = label.partition(":")
            refs[models.RecordKind(kind)].add(int(number))
    ends: dict[str, tuple[dt.date, models.EndReason] | None] = {}
    for kind, ids in refs.items():
        model = models.RECORD_MODELS[kind]
        for record_id, ended_on, reason in session.execute(
            sa.select(col(model.id), col(model.ended_on), col(model.end_reason)).where(
                col(model.id).in_(sorted(ids))
            )
        ):
            undoing = ended_on is not None and ended_on <= on and reason in UNDOING_ENDS
            ends[f"{kind.value}:{record_id}"] = (ended_on, reason) if undoing else None
    result = []
    for row in found:
        why = [ends.get(label) for label in row.triggers]
        if not why or any(w is None for w in why):
            continue
        since, reason = max(w for w in why if w is not None)
        if since < row.applied_on:
            continue  # ended before the measure was applied: the report was refused then
        due = workdays.add_working_days(since, REVERSAL_WORKING_DAYS, calendar)
        result.append(Reversal(row, since, reason, due))
    return result


def reverse(
    session: Session, *, token: models.Token, report_id: int, reversed_on: dt.date, note: str
) -> models.MeasureReport:
    """Record that the department undid the measure of its report `report_id`."""
    row = session.get(models.MeasureReport, report_id)
    if row is None or row.unit_id != token.unit_id:
        raise workflows.NotFound(f"反馈 report #{report_id} 不存在 / does not exist")
    if row.reversed_on is not None:
        raise workflows.WrongState(
            f"反馈 #{report_id} 已于 {row.reversed_on} 撤销 / already undone"
        )
    if reversed_on < row.applied_on:
        raise workflows.InvalidChange(
            f"撤销日期早于实施日期 / undone on {reversed_on}, before it was applied",
            field="reversedOn",
        )
    row.reversed_on = reversed_on
    row.reversal_note = note.strip() or None
    session.add(row)
    session.flush()
    return row


# --- the bureau's monthly figures (plan (二十三)) ---


@dataclasses.dataclass(frozen=True)
class MonthRow:
    """One measure at one implementing department in one month."""

    measure_code: str
    measure_text: str
    department: str
    triggered: int  # subjects it applied to on the month's last day (or as of today)
    applied: int  # reports of it applied in the month
    not_reported: int  # subjects it applied to that the department did not report on
    reversed: int  # reports undone in the month
    overdue_reversals: int  # reversals past their deadline by the month's end, not done in time


def month_span(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of `YYYY-MM` (ValueError when it is not one)."""
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"not a month YYYY-MM: {month!r}") from None
    return first, first + relativedelta(months=1) - dt.timedelta(days=1)


def monthly(
    session: Session,
    month: str,
    *,
    today: dt.date,
    catalogue: measures.Catalogue,
    calendar: workdays.Calendar,
) -> list[MonthRow]:
    """The figures of `month` per measure and implementing department, as of `today`."""
    first, last = month_span(month)
    end = min(last, today)
    subject_ids = list(session.exec(select(models.Subject.id).order_by(col(models.Subject.id))))
    applies: dict[str, set[int]] = defaultdict(set)
    for start in range(0, len(subject_ids), 500):
        batch = [i for i in subject_ids[start : start + 500] if i is not None]
        for subject_id, found in standing.standings(
            session, batch, on=end, catalogue=catalogue
        ).items():
            for applied in found.measures:
                if applied.state is standing.State.APPLIES:
                    applies[applied.measure.code].add(subject_id)
    units = {u.id: u.name for u in session.exec(select(models.Department))}
    reports = session.exec(
        select(models.MeasureReport).where(
            col(models.MeasureReport.applied_on) <= end,
            sa.or_(
                col(models.MeasureReport.applied_on) >= first,
                col(models.MeasureReport.reversed_on) >= first,
            ),
        )
    ).all()
    applied_n: dict[tuple[str, str], int] = defaultdict(int)
    reported: dict[tuple[str, str], set[int]] = defaultdict(set)
    reversed_n: dict[tuple[str, str], int] = defaultdict(int)
    for row in reports:
        key = (row.measure_code, units.get(row.unit_id, ""))
        if first <= row.applied_on <= end:
            reported[key].add(row.subject_id)
            if row.outcome is models.FeedbackOutcome.APPLIED:
                applied_n[key] += 1
        if row.reversed_on is not None and first <= row.reversed_on <= end:
            reversed_n[key] += 1
    overdue_n: dict[tuple[str, str], int] = defaultdict(int)
    for reversal in reversals(session, calendar, on=end + dt.timedelta(days=1), pending_only=False):
        if reversal.overdue(end + dt.timedelta(days=1)):
            overdue_n[(reversal.report.measure_code, units.get(reversal.report.unit_id, ""))] += 1
    keys = {(m.code, d) for m in catalogue.measures for d in m.departments}
    keys |= set(applied_n) | set(reversed_n) | set(overdue_n) | set(reported)
    order = {m.code: n for n, m in enumerate(catalogue.measures)}
    rows = []
    for code, department in sorted(keys, key=lambda k: (order.get(k[0], len(order)), k)):
        measure = catalogue.get(code)
        targets = (
            applies.get(code, set()) if measure and department in measure.departments else set()
        )
        rows.append(
            MonthRow(
                measure_code=code,
                measure_text=measure.text if measure else "",
                department=department,
                triggered=len(targets),
                applied=applied_n[(code, department)],
                not_reported=len(targets - reported[(code, department)]),
                reversed=reversed_n[(code, department)],
                overdue_reversals=overdue_n[(code, department)],
            )
        )
    return rows


MONTH_COLUMNS: Sequence[tuple[str, str]] = (
    ("measure_code", "措施编码"),
    ("measure_text", "措施内容"),
    ("department", "实施部门"),
    ("triggered", "触发主体数"),
    ("applied", "已实施"),
    ("not_reported", "未反馈"),
    ("reversed", "已撤销"),
    ("overdue_reversals", "超期未撤销"),
)
