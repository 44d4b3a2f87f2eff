"""Ending a record's publication before its own last day: a withdrawal (撤回) with its public
reason, an exit from a list (移出); and the end a repair decides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from disclosure import events, models, privacy, tombstones, workflows


def end_publication(
    session: Session,
    record: models.Record,
    reason: models.EndReason,
    event_type: models.EventType,
    ctx: workflows.Context,
    payload: Mapping[str, Any],
    explanation: str | None = None,
) -> None:
    record.ended_on = ctx.on
    record.end_reason = reason
    record.end_explanation = explanation
    record.updated_at = models.now_utc()
    session.add(record)
    events.append(
        session,
        record,
        event_type,
        effective_on=ctx.on,
        actor=ctx.actor,
        payload={"reason": reason.value, **payload},
    )


def withdraw(
    session: Session,
    record: models.Record,
    *,
    kind: models.WithdrawalKind,
    reason: str,
    ctx: workflows.Context,
    decision_changed_on: dt.date | None = None,
) -> models.Withdrawal:
    """Withdraw a published decision (撤回) with its public reason; publication ends today.
    `decision_changed_on`, the day the decision was changed or revoked, starts the 3-day
    deadline that `queries.figures.late_withdrawals` checks."""
    if isinstance(record, models.ListEntry):
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: 名单条目应移出而非撤回 / list entries exit the list; use "
            "exit"
        )
    said = _public_reason(record, reason, "撤回须说明理由 / a withdrawal needs a reason")
    workflows.require_public(record, ctx, "撤回", "withdraw it")
    if decision_changed_on is not None and decision_changed_on > ctx.on:
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: 决定变更日期 {decision_changed_on} 晚于今天 / the "
            "decision cannot "
            f"change on {decision_changed_on}, after {ctx.on}",
            field="decision_changed_on",
        )
    assert record.id is not None
    withdrawal = models.Withdrawal(
        record_kind=record.KIND,
        record_id=record.id,
        withdrawn_on=ctx.on,
        decision_changed_on=decision_changed_on,
        kind=kind,
        reason=said,
        actor=ctx.actor,
    )
    session.add(withdrawal)
    upheld = kind is models.WithdrawalKind.OBJECTION_UPHELD
    end_publication(
        session,
        record,
        models.EndReason.OBJECTION_UPHELD if upheld else models.EndReason.WITHDRAWN,
        models.EventType.WITHDRAWN,
        ctx,
        {"withdrawal_kind": kind.value},
        said,
    )
    return withdrawal


def _public_reason(record: models.Record, text: str, missing: str) -> str:
    """The reason a department gives for ending `record`'s publication, as it will be published:
    stripped, any identity number masked (it is stored so), the subject's name and the document
    number left out (a tombstone shows nothing of the record), at most EXPLANATION_MAX long."""
    said = (privacy.scrub(text.strip()) or "").strip()
    for detail, instead in ((record.subject.name, "当事人"), (record.decision_doc_no, "原决定")):
        if len(detail) > 1:
            said = said.replace(detail, instead)
    if not said:
        raise workflows.InvalidChange(f"{workflows.label(record)}: {missing}", field="reason")
    if len(said) > tombstones.EXPLANATION_MAX:
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: 说明理由不得超过 {tombstones.EXPLANATION_MAX} 字 / the "
            "public "
            f"reason may be at most {tombstones.EXPLANATION_MAX} characters, not {len(said)}",
            field="reason",
        )
    return said


_EXIT_REASONS = (models.EndReason.OBJECTION_UPHELD, models.EndReason.REVOKED)


def exit_list_entry(
    session: Session,
    entry: models.ListEntry,
    *,
    reason: models.EndReason,
    ctx: workflows.Context,
    explanation: str = "",
) -> None:
    """Take an entry off its list (移出) today, for an upheld objection or a revoked listing.

    Exits at the end of validity are appended by `lifecycle.run`; exits by repair by
    `approve_repair`.
    """
    if reason not in _EXIT_REASONS:
        allowed = ", ".join(r.value for r in _EXIT_REASONS)
        raise workflows.InvalidChange(
            f"{workflows.label(entry)}: 移出理由须为 {allowed} / exit reason must be one of "
            f"{allowed}, "
            f"not {reason.value}"
        )
    said = None
    if explanation.strip():
        said = _public_reason(entry, explanation, "")
    workflows.require_public(entry, ctx, "移出", "exit it")
    end_publication(session, entry, reason, models.EventType.EXITED, ctx, {}, said)
