"""Objections (异议): a subject objects, the record is annotated 异议处理中, the department
upholds (corrects or ends the record) or rejects it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from disclosure import endings, events, models, workdays, workflows

OBJECTION_DECISION_DAYS = 7  # working days to decide an objection


def open_objection(
    session: Session, record: models.Record, *, grounds: str, ctx: workflows.Context
) -> models.Objection:
    """Record a subject's objection (异议): the record is annotated 异议处理中 at once."""
    if not grounds.strip():
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: 异议须说明理由 / an objection needs its grounds"
        )
    workflows.require_public(record, ctx, "提出异议", "object to it")
    if record.objection_opened_on is not None:
        raise workflows.WrongState(
            f"{workflows.label(record)}: 已有异议处理中 (自 {record.objection_opened_on}) / an "
            "objection "
            "is already open"
        )
    assert record.id is not None
    objection = models.Objection(
        record_kind=record.KIND,
        record_id=record.id,
        grounds=grounds.strip(),
        opened_on=ctx.on,
        due_on=workdays.add_working_days(ctx.on, OBJECTION_DECISION_DAYS, ctx.calendar),
        opened_by=ctx.actor,
    )
    session.add(objection)
    record.objection_opened_on = ctx.on
    session.add(record)
    session.flush()
    events.append(
        session,
        record,
        models.EventType.OBJECTION_OPENED,
        effective_on=ctx.on,
        actor=ctx.actor,
        payload={"objection_id": objection.id, "due_on": objection.due_on},
    )
    return objection


def get_objection(session: Session, objection_id: int) -> models.Objection:
    """The objection with `objection_id`, or NotFound."""
    objection = session.get(models.Objection, objection_id)
    if objection is None:
        raise workflows.NotFound(f"异议 objection #{objection_id} 不存在 / does not exist")
    return objection


def resolve_objection(
    session: Session,
    objection: models.Objection,
    *,
    outcome: models.ObjectionOutcome,
    ctx: workflows.Context,
    corrections: Mapping[str, Any] | None = None,
    reason: str = "",
) -> models.Record:
    """Close an objection: upheld → the record is corrected (`corrections`: its new field
    values, as `submission.correction` makes them from a template row; empty when the caller
    corrected only its subject) or its publication ends; rejected → the annotation is removed.
    Returns the record."""
    record = workflows.get_record(session, objection.record_kind, objection.record_id)
    if objection.closed_on is not None:
        raise workflows.WrongState(
            f"{workflows.label(record)}: 异议 #{objection.id} 已于 {objection.closed_on} 办结 / "
            "objection "
            "already closed"
        )
    if outcome is models.ObjectionOutcome.CORRECTED and corrections is None:
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: 异议成立须给出更正内容 / an upheld objection needs the "
            "corrections"
        )
    objection.closed_on = ctx.on
    objection.outcome = outcome
    objection.closed_by = ctx.actor
    record.objection_opened_on = None
    session.add_all([objection, record])
    events.append(
        session,
        record,
        models.EventType.OBJECTION_CLOSED,
        effective_on=ctx.on,
        actor=ctx.actor,
        payload={"objection_id": objection.id, "outcome": outcome.value},
    )
    if outcome is models.ObjectionOutcome.CORRECTED:
        # empty: the caller corrected the record's subject alone (submission.correction)
        if corrections and not workflows.correct(session, record, corrections, ctx):
            raise workflows.InvalidChange(
                f"{workflows.label(record)}: 更正内容与原记录相同 / the corrections change nothing"
            )
    elif outcome is models.ObjectionOutcome.WITHDRAWN:
        if isinstance(record, models.ListEntry):
            endings.exit_list_entry(
                session,
                record,
                reason=models.EndReason.OBJECTION_UPHELD,
                ctx=ctx,
                explanation=reason,
            )
        else:
            endings.withdraw(
                session,
                record,
                kind=models.WithdrawalKind.OBJECTION_UPHELD,
                reason=reason.strip() or "异议成立",
                ctx=ctx,
            )
    return record
