"""Trigger-feedback in the API: implementing departments report measures applied and see what
they must undo; the bureau's monthly counts (the only public part of it)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from sqlmodel import Session

from api import receipts
from api import standing as standing_api
from api.errors import ApiError
from api.types import ContextInfo, describe_enum
from disclosure import feedback, models, tokens, workdays, workflows
from disclosure.queries import record_pages

describe_enum(
    models.FeedbackOutcome,
    "反馈结果 what the department did with the measure",
    APPLIED="已实施 applied",
    NOT_APPLIED="未实施 not applied (a recommended measure), the reason in the note",
)


@strawberry.type(description="反馈 an implementing department's report (government-internal)")
class MeasureReport:
    id: int = strawberry.field(description="反馈编号")
    measure: str = strawberry.field(description="措施编码")
    applied_on: dt.date = strawberry.field(description="实施日期")
    outcome: models.FeedbackOutcome = strawberry.field(description="已实施 or 未实施")
    triggers: list[str] = strawberry.field(description="触发记录 the records it relied on")


@strawberry.type(description="待撤销 a report whose measure must be undone (恢复信誉)")
class PendingReversal:
    report: MeasureReport = strawberry.field(description="反馈")
    credit_code: str = strawberry.field(description="主体 the subject's key")
    since_on: dt.date = strawberry.field(description="the day its triggering record ended")
    reason: models.EndReason = strawberry.field(description="why: withdrawn, repaired, upheld")
    due_on: dt.date = strawberry.field(description="撤销期限 undo by this day")
    overdue: bool = strawberry.field(description="超期 past its deadline")


@strawberry.type(description="待撤销清单 the department's reports to undo")
class PendingReversals:
    items: list[PendingReversal] = strawberry.field(description="oldest report first")


@strawberry.type(description="月度统计 one measure at one implementing department in a month")
class FeedbackRow:
    measure: str = strawberry.field(description="措施编码")
    text: str = strawberry.field(description="措施内容")
    department: str = strawberry.field(description="实施部门")
    triggered: int = strawberry.field(description="触发 subjects it applied to at the month's end")
    applied: int = strawberry.field(description="已实施 reports of it applied in the month")
    not_reported: int = strawberry.field(description="未反馈 subjects without a report")
    reversed: int = strawberry.field(description="已撤销 reports undone in the month")
    overdue_reversals: int = strawberry.field(description="超期未撤销 reversals past due")


PendingReversalsResult = Annotated[
    PendingReversals | receipts.Unauthenticated | receipts.Forbidden,
    strawberry.union("PendingReversalsResult", description="待撤销, or why not"),
]
ReportResult = Annotated[
    MeasureReport | receipts.Errors,
    strawberry.union("ReportResult", description="反馈结果 the report, or why nothing changed"),
]


def _report(row: models.MeasureReport) -> MeasureReport:
    assert row.id is not None
    return MeasureReport(
        id=row.id,
        measure=row.measure_code,
        applied_on=row.applied_on,
        outcome=row.outcome,
        triggers=list(row.triggers),
    )


class _NotImplementer(workflows.Refused):
    code = "FORBIDDEN"


def _implementer(token: models.Token) -> None:
    if token.role is not models.Role.IMPLEMENTER:
        raise _NotImplementer(
            "措施实施情况由实施部门反馈 / measures applied are reported by an implementing "
            "department's token (role implementer)"
        )


def report_act(
    credit_code: str,
    measure: str,
    applied_on: dt.date,
    outcome: models.FeedbackOutcome,
    note: str | None,
    info: ContextInfo,
) -> object:
    """The act of `reportMeasureApplied`, for `mutations._write`."""
    context = info.context

    def act(
        session: Session, actor: object, touched: list[tuple[models.RecordKind, int]]
    ) -> MeasureReport:
        token: models.Token = actor.token  # type: ignore[attr-defined]
        _implementer(token)
        row = record_pages.subject_by_key(session, credit_code.strip())
        if row is None:
            raise workflows.NotFound(f"{credit_code}: 无此主体 / no such subject")
        found = feedback.report(
            session,
            token=token,
            subject_id=row.id,
            measure_code=measure.strip(),
            applied_on=applied_on,
            outcome=outcome,
            note=note,
            today=context.on,
            catalogue=standing_api.catalogue(context.settings, session),
        )
        for label in found.triggers:
            kind, _, number = label.partition(":")
            touched.append((models.RecordKind(kind), int(number)))
        return _report(found)

    return act


def reverse_act(report_id: int, reversed_on: dt.date, note: str, info: ContextInfo) -> object:
    """The act of `reportMeasureReversed`, for `mutations._write`."""
    context = info.context

    def act(
        session: Session, actor: object, touched: list[tuple[models.RecordKind, int]]
    ) -> MeasureReport:
        token: models.Token = actor.token  # type: ignore[attr-defined]
        _implementer(token)
        if reversed_on > context.on:
            raise workflows.InvalidChange(
                f"撤销日期 {reversed_on} 晚于今天 / undone on {reversed_on}, after today",
                field="reversedOn",
            )
        return _report(
            feedback.reverse(
                session, token=token, report_id=report_id, reversed_on=reversed_on, note=note
            )
        )

    return act


def pending(info: ContextInfo) -> PendingReversals | receipts.Unauthenticated | receipts.Forbidden:
    """The token's department's reports to undo."""
    context = info.context
    context.volatile = True
    try:
        token = tokens.authenticate(context.session, context.bearer, context.on)
    except tokens.Unauthenticated as unknown:
        return receipts.unauthenticated(str(unknown))
    try:
        _implementer(token)
    except _NotImplementer as refusal:
        return receipts.forbidden(str(refusal))
    calendar = workdays.Calendar.load(context.settings.holidays_path)
    found = feedback.reversals(context.session, calendar, on=context.on, unit_id=token.unit_id)
    keys = {
        s.id: s.credit_code or f"P{s.id}"
        for s in (context.session.get(models.Subject, r.report.subject_id) for r in found)
        if s is not None
    }
    return PendingReversals(
        items=[
            PendingReversal(
                report=_report(r.report),
                credit_code=keys[r.report.subject_id],
                since_on=r.since_on,
                reason=r.reason,
                due_on=r.due_on,
                overdue=r.overdue(context.on),
            )
            for r in found
        ]
    )


def month_rows(info: ContextInfo, month: str) -> list[FeedbackRow]:
    """`feedback.monthly` for the API's `stats { feedback(month:) }`."""
    context = info.context
    try:
        rows = feedback.monthly(
            context.session,
            month,
            today=context.on,
            catalogue=standing_api.catalogue(context.settings, context.session),
            calendar=workdays.Calendar.load(context.settings.holidays_path),
        )
    except ValueError as error:
        raise ApiError(f"feedback: {error}") from error
    context.volatile = True
    return [
        FeedbackRow(
            measure=r.measure_code,
            text=r.measure_text,
            department=r.department,
            triggered=r.triggered,
            applied=r.applied,
            not_reported=r.not_reported,
            reversed=r.reversed,
            overdue_reversals=r.overdue_reversals,
        )
        for r in rows
    ]
