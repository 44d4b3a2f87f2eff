"""Credit repair (信用修复): a subject applies with its commitment once the minimum publicity
period is over; the department approves (publication ends) or refuses."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from disclosure import endings, lifecycle, models, workdays, workflows

REPAIR_DECISION_DAYS = 3  # working days to decide a repair (深圳经济特区社会信用条例 Art. 80)


def repair_possible_from(record: models.Record, rules: lifecycle.Rules) -> dt.date:
    """The first day a repair may end `record`'s publication; InvalidChange for records that are
    not negative credit information (licenses, red-list entries)."""
    if isinstance(record, models.Penalty):
        window = lifecycle.publicity_window(record.severity, record.decision_on, rules)
        return window.min_end_on + lifecycle.ONE_DAY
    if isinstance(record, models.ListEntry) and record.credit_list.kind is not models.ListKind.RED:
        months = record.credit_list.min_listing_months
        if months is None:
            return record.decision_on
        return record.decision_on + relativedelta(months=months) + lifecycle.ONE_DAY
    raise workflows.InvalidChange(
        f"{workflows.label(record)}: 不是失信信息，无需信用修复 / not negative credit information; "
        "nothing to repair"
    )


def _require_repairable(record: models.Record, ctx: workflows.Context) -> None:
    earliest = repair_possible_from(record, ctx.rules)
    if ctx.on < earliest:
        raise workflows.TooEarly(
            f"{workflows.label(record)}: 最短公示期未满，{earliest} 起方可修复 / the minimum "
            "publicity "
            f"period is not over; repair is possible from {earliest}"
        )


def apply_for_repair(
    session: Session, record: models.Record, *, commitment: str, ctx: workflows.Context
) -> models.Repair:
    """Record a subject's repair application (with its 信用承诺), for the department to decide."""
    if not commitment.strip():
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: 须附信用承诺 / a repair needs a credit commitment"
        )
    workflows.require_public(record, ctx, "申请修复", "repair it")
    _require_repairable(record, ctx)
    pending = session.exec(
        select(models.Repair).where(
            col(models.Repair.record_kind) == record.KIND,
            col(models.Repair.record_id) == record.id,
            col(models.Repair.status) == models.RepairStatus.APPLIED,
        )
    ).first()
    if pending is not None:
        raise workflows.WrongState(
            f"{workflows.label(record)}: 已有待办修复申请 #{pending.id} / repair application "
            f"#{pending.id} is pending"
        )
    assert record.id is not None
    repair = models.Repair(
        record_kind=record.KIND,
        record_id=record.id,
        applied_on=ctx.on,
        commitment=commitment.strip(),
        applied_by=ctx.actor,
        due_on=workdays.add_working_days(ctx.on, REPAIR_DECISION_DAYS, ctx.calendar),
        status=models.RepairStatus.APPLIED,
    )
    session.add(repair)
    session.flush()
    return repair


def get_repair(session: Session, repair_id: int) -> models.Repair:
    """The repair application with `repair_id`, or NotFound."""
    repair = session.get(models.Repair, repair_id)
    if repair is None:
        raise workflows.NotFound(f"修复申请 repair #{repair_id} 不存在 / does not exist")
    return repair


def _require_pending(repair: models.Repair, record: models.Record) -> None:
    if repair.status is not models.RepairStatus.APPLIED:
        raise workflows.WrongState(
            f"{workflows.label(record)}: 修复申请 #{repair.id} 已{repair.status.value} / repair "
            f"application #{repair.id} is already {repair.status.value}"
        )


def approve_repair(
    session: Session, repair: models.Repair, ctx: workflows.Context
) -> models.Record:
    """Approve a repair: publication of the record ends today everywhere. Returns the record."""
    record = workflows.get_record(session, repair.record_kind, repair.record_id)
    _require_pending(repair, record)
    workflows.require_public(record, ctx, "修复", "repair it")
    _require_repairable(record, ctx)
    repair.status = models.RepairStatus.APPROVED
    repair.decided_on = ctx.on
    repair.decided_by = ctx.actor
    session.add(repair)
    endings.end_publication(
        session,
        record,
        models.EndReason.REPAIRED,
        models.EventType.REPAIRED,
        ctx,
        {"repair_id": repair.id},
    )
    return record


def refuse_repair(
    session: Session, repair: models.Repair, *, note: str, ctx: workflows.Context
) -> models.Repair:
    """Refuse a repair application with a reason; the record stays public."""
    record = workflows.get_record(session, repair.record_kind, repair.record_id)
    _require_pending(repair, record)
    if not note.strip():
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: 不予修复须说明理由 / a refusal needs a reason"
        )
    repair.status = models.RepairStatus.REFUSED
    repair.decided_on = ctx.on
    repair.decided_by = ctx.actor
    repair.note = note.strip()
    session.add(repair)
    return repair
