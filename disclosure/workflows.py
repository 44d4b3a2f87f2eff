"""Workflows: each checks its input, changes state and appends its event, in the caller's
transaction. A refusal raises before anything is written, naming the record and the rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from disclosure import events, idkey, lifecycle, models, privacy, tombstones, workdays

OBJECTION_DECISION_DAYS = 7  # working days to decide an objection
REPAIR_DECISION_DAYS = 3  # working days to decide a repair (深圳经济特区社会信用条例 Art. 80)


@dataclasses.dataclass(frozen=True)
class Context:
    """Who acts, on which day, under which rules and holiday calendar."""

    actor: str
    on: dt.date
    rules: lifecycle.Rules = dataclasses.field(default_factory=lifecycle.Rules)
    calendar: workdays.Calendar = dataclasses.field(default_factory=workdays.Calendar)
    id_key: idkey.IdKey | None = dataclasses.field(
        default=None, repr=False
    )  # settings.Settings.id_key


class Refused(Exception):
    """A workflow refused to act; the message names the record and the rule (中文 / English).

    `field` names the record field the refusal is about, when there is one, so that an ingest
    rejection can name the column.
    """

    code = "REFUSED"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(Refused):
    """No such record, objection or repair application."""

    code = "NOT_FOUND"


class InvalidChange(Refused):
    """The input breaks a rule of the record's kind."""

    code = "INVALID"


class AlreadyExists(Refused):
    """A record with the same natural key (authority, document number) exists."""

    code = "ALREADY_EXISTS"


class NotPublic(Refused):
    """The record is no longer (or not yet) public, so it cannot be acted on."""

    code = "NOT_PUBLIC"


class WrongState(Refused):
    """The objection or repair application is not in a state that allows this."""

    code = "WRONG_STATE"


class TooEarly(Refused):
    """A repair before the minimum publicity period is over."""

    code = "TOO_EARLY"


KIND_ZH = {
    models.RecordKind.LICENSE: "行政许可",
    models.RecordKind.PENALTY: "行政处罚",
    models.RecordKind.LIST_ENTRY: "名单条目",
}

_WINDOW_FIELDS = frozenset({"severity", "decision_on", "publicity_end_on"})

# Fields set by the workflows themselves, never by a correction.
_MANAGED = frozenset(
    {"id", "published_on", "ended_on", "end_reason", "objection_opened_on"}
    | {"created_at", "updated_at"}
)


def label(record: models.Record) -> str:
    """How messages name a record: kind, id and decision document number."""
    return f"{KIND_ZH[record.KIND]} {record.KIND.value} #{record.id} ({record.decision_doc_no})"


def snapshot(record: models.Record) -> dict[str, Any]:
    """The record's own column values, as an event payload keeps them."""
    return {
        attribute.key: getattr(record, attribute.key)
        for attribute in sa.inspect(type(record)).column_attrs
        if attribute.key not in {"created_at", "updated_at"}
    }


def get_record(session: Session, kind: models.RecordKind, record_id: int) -> models.Record:
    """The record of `kind` with `record_id`, or NotFound."""
    record: models.Record | None = session.get(models.RECORD_MODELS[kind], record_id)  # type: ignore[assignment]
    if record is None:
        raise NotFound(f"{KIND_ZH[kind]} {kind.value} #{record_id} 不存在 / does not exist")
    return record


def _require_public(record: models.Record, ctx: Context, action_zh: str, action: str) -> None:
    if not lifecycle.is_public(record, ctx.on):
        raise NotPublic(
            f"{label(record)}: 未在公示中，不能{action_zh} / is not public on {ctx.on}, "
            f"cannot {action}"
        )


def _natural_key_taken(session: Session, record: models.Record) -> bool:
    model = type(record)
    found = session.execute(
        sa.select(col(model.id)).where(
            col(model.authority_id) == record.authority_id,
            col(model.decision_doc_no) == record.decision_doc_no,
            col(model.id) != record.id if record.id is not None else sa.true(),
        )
    ).first()
    return found is not None


def _check_decision_date(name: str, decision_on: dt.date, ctx: Context) -> None:
    if decision_on > ctx.on:
        raise InvalidChange(
            f"{name}: 决定日期 {decision_on} 晚于今天 / decision date {decision_on} is after "
            f"{ctx.on}",
            field="decision_on",
        )


def _check_dates(record: models.Record, ctx: Context) -> None:
    _check_decision_date(label(record), record.decision_on, ctx)


def _publicity_end(
    name: str,
    severity: models.Severity,
    decision_on: dt.date,
    supplied: dt.date | None,
    ctx: Context,
) -> dt.date | None:
    try:
        return lifecycle.publicity_end(severity, decision_on, supplied, ctx.rules)
    except lifecycle.PublicityEndError as error:
        raise InvalidChange(f"{name}: {error}", field="publicity_end_on") from error


def _resolve_end(record: models.Record, supplied: dt.date | None, ctx: Context) -> None:
    """Set a penalty's publicity end from its window."""
    if isinstance(record, models.Penalty):
        record.publicity_end_on = _publicity_end(
            label(record), record.severity, record.decision_on, supplied, ctx
        )


def settle_new(
    kind: models.RecordKind,
    fields: Mapping[str, Any],
    ctx: Context,
    *,
    default_validity_months: int | None = None,
) -> dict[str, Any]:
    """What publishing decides about a new record, from its fields alone: the fields it sets.

    Refuses a decision dated after `ctx.on` and a 公示截止期 outside the severity's window. Sets
    `published_on`; a penalty's `publicity_end_on` (the supplied one, else the maximum); a list
    entry's `valid_until_on` when absent, from its list's `default_validity_months`. `publish`
    and bulk ingestion both decide through this function.
    """
    name = f"{KIND_ZH[kind]} {kind.value} ({fields['decision_doc_no']})"
    decision_on: dt.date = fields["decision_on"]
    _check_decision_date(name, decision_on, ctx)
    settled: dict[str, Any] = {"published_on": ctx.on}
    if kind is models.RecordKind.PENALTY:
        settled["publicity_end_on"] = _publicity_end(
            name, fields["severity"], decision_on, fields.get("publicity_end_on"), ctx
        )
    if (
        kind is models.RecordKind.LIST_ENTRY
        and fields.get("valid_until_on") is None
        and default_validity_months is not None
    ):
        settled["valid_until_on"] = decision_on + relativedelta(months=default_validity_months)
    return settled


def publish(session: Session, record: models.Record, ctx: Context) -> models.Record:
    """Publish a new record (a decision, or an inclusion in a list) as of `ctx.on`.

    A penalty's `publicity_end_on`, if set, is the supplied 公示截止期 and must lie in its window;
    unset, it becomes the maximum. A list entry without `valid_until_on` gets its list's default
    validity.
    """
    if record.id is not None:
        raise InvalidChange(f"{label(record)}: 已发布 / is already stored; correct it instead")
    _check_dates(record, ctx)
    if _natural_key_taken(session, record):
        raise AlreadyExists(
            f"{label(record)}: 同一机关的文号已存在 / the authority already has a record with "
            "this document number"
        )
    validity = None
    if isinstance(record, models.ListEntry):
        named = session.get(models.List, record.list_id)
        if named is None:
            raise NotFound(f"名单 list #{record.list_id} 不存在 / does not exist")
        validity = named.default_validity_months
    for name, value in settle_new(
        record.KIND, snapshot(record), ctx, default_validity_months=validity
    ).items():
        setattr(record, name, value)
    session.add(record)
    session.flush()
    events.append(
        session,
        record,
        models.EventType.PUBLISHED,
        effective_on=ctx.on,
        actor=ctx.actor,
        payload=events.published_payload(snapshot(record)),
    )
    return record


def correct(
    session: Session,
    record: models.Record,
    changes: Mapping[str, Any],
    ctx: Context,
    *,
    subject_diff: Mapping[str, tuple[Any, Any]] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Correct fields of a public record; returns {field: (before, after)}, empty if unchanged.

    `subject_diff`: its subject's details that the same row restated (`restate_subject`), told in
    this record's event as `subject.<field>`, and by no other record's.

    The event keeps the previous values, so the history of every version stays in the log. For a
    penalty whose severity, decision date or publicity end changes, the end is resolved again
    from `changes.get("publicity_end_on")` (None: the maximum of the new window).
    """
    columns = set(snapshot(record))
    unknown = sorted(set(changes) - (columns - _MANAGED))
    if unknown:
        raise InvalidChange(
            f"{label(record)}: 不能更正字段 {', '.join(unknown)} / fields cannot be corrected: "
            f"{', '.join(unknown)}"
        )
    _require_public(record, ctx, "更正", "correct it")
    before = snapshot(record)
    if all(before[name] == value for name, value in changes.items()) and not subject_diff:
        return {}
    for name, value in changes.items():
        setattr(record, name, value)
    try:
        _check_dates(record, ctx)
        if isinstance(record, models.Penalty) and changes.keys() & _WINDOW_FIELDS:
            _resolve_end(record, changes.get("publicity_end_on"), ctx)
        if not lifecycle.is_public(record, ctx.on):
            raise InvalidChange(
                f"{label(record)}: 更正会使其停止公示，请用撤回 / the correction would end its "
                "publication; withdraw it instead"
            )
        if changes.keys() & {"authority_id", "decision_doc_no"} and _natural_key_taken(
            session, record
        ):
            raise AlreadyExists(f"{label(record)}: 同一机关的文号已存在 / natural key taken")
    except Refused:
        for name, value in before.items():
            setattr(record, name, value)
        raise
    after = snapshot(record)
    diff = {name: (before[name], after[name]) for name in after if before[name] != after[name]}
    record.updated_at = models.now_utc()
    session.add(record)
    events.append(
        session,
        record,
        models.EventType.CORRECTED,
        effective_on=ctx.on,
        actor=ctx.actor,
        payload=_merged(_corrected(diff), _corrected(subject_diff or {}, prefix="subject.")),
    )
    return diff


def _merged(*payloads: dict[str, Any]) -> dict[str, Any]:
    return {
        side: {k: v for payload in payloads for k, v in payload[side].items()}
        for side in ("before", "after")
    }


def _corrected(diff: Mapping[str, tuple[Any, Any]], prefix: str = "") -> dict[str, Any]:
    """The payload of CORRECTED: the fields' values before and after."""
    return {
        "before": {prefix + name: events.jsonable(old) for name, (old, _new) in diff.items()},
        "after": {prefix + name: events.jsonable(new) for name, (_old, new) in diff.items()},
    }


# A subject's details as a template row states them; its key (credit code or identity digest)
# is what names it and never changes.
SUBJECT_DETAILS = (
    "category",
    "name",
    "business_reg_no",
    "org_code",
    "tax_reg_no",
    "institution_cert_no",
    "social_org_reg_no",
    "legal_rep_name",
    "legal_rep_id_type",
    "id_type",
)


def restate_subject(
    session: Session, subject: models.Subject, details: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Set a subject's details as a row states them now; returns {field: (before, after)}. No
    event: each record keeps the name its decision gave (`party_name`), so only the record whose
    row restated them tells of it (`correct(..., subject_diff=)`)."""
    diff = {
        name: (getattr(subject, name), details[name])
        for name in SUBJECT_DETAILS
        if name in details and getattr(subject, name) != details[name]
    }
    for name, (_old, new) in diff.items():
        setattr(subject, name, new)
    if diff:
        session.add(subject)
    return diff


def correct_subject(
    session: Session, subject: models.Subject, details: Mapping[str, Any], ctx: Context
) -> list[models.Record]:
    """Correct a subject's details (a renamed company, a fixed typo); returns its public records.

    Every public record shows its subject, so each gets a CORRECTED event with the subject's
    before and after values (as `subject.<field>`): an agency keeping a copy refetches them.
    """
    diff = restate_subject(session, subject, details)
    if not diff:
        return []
    payload = _corrected(diff, prefix="subject.")
    records: list[models.Record] = []
    for model in models.RECORD_MODELS.values():
        public = col(model.subject_id) == subject.id, lifecycle.public_clause(model, ctx.on)
        records.extend(session.scalars(sa.select(model).where(*public)))
    now = models.now_utc()
    for record in records:
        record.updated_at = now
        session.add(record)
        events.append(
            session,
            record,
            models.EventType.CORRECTED,
            effective_on=ctx.on,
            actor=ctx.actor,
            payload=payload,
        )
    return records


def _end(
    session: Session,
    record: models.Record,
    reason: models.EndReason,
    event_type: models.EventType,
    ctx: Context,
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
    ctx: Context,
    decision_changed_on: dt.date | None = None,
) -> models.Withdrawal:
    """Withdraw a published decision (撤回) with its public reason; publication ends today.
    `decision_changed_on`, the day the decision was changed or revoked, starts the 3-day
    deadline that `queries.late_withdrawals` checks."""
    if isinstance(record, models.ListEntry):
        raise InvalidChange(
            f"{label(record)}: 名单条目应移出而非撤回 / list entries exit the list; use exit"
        )
    said = _public_reason(record, reason, "撤回须说明理由 / a withdrawal needs a reason")
    _require_public(record, ctx, "撤回", "withdraw it")
    if decision_changed_on is not None and decision_changed_on > ctx.on:
        raise InvalidChange(
            f"{label(record)}: 决定变更日期 {decision_changed_on} 晚于今天 / the decision cannot "
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
    _end(
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
        raise InvalidChange(f"{label(record)}: {missing}", field="reason")
    if len(said) > tombstones.EXPLANATION_MAX:
        raise InvalidChange(
            f"{label(record)}: 说明理由不得超过 {tombstones.EXPLANATION_MAX} 字 / the public "
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
    ctx: Context,
    explanation: str = "",
) -> None:
    """Take an entry off its list (移出) today, for an upheld objection or a revoked listing.

    Exits at the end of validity are appended by `lifecycle.run`; exits by repair by
    `approve_repair`.
    """
    if reason not in _EXIT_REASONS:
        allowed = ", ".join(r.value for r in _EXIT_REASONS)
        raise InvalidChange(
            f"{label(entry)}: 移出理由须为 {allowed} / exit reason must be one of {allowed}, "
            f"not {reason.value}"
        )
    said = None
    if explanation.strip():
        said = _public_reason(entry, explanation, "")
    _require_public(entry, ctx, "移出", "exit it")
    _end(session, entry, reason, models.EventType.EXITED, ctx, {}, said)


def open_objection(
    session: Session, record: models.Record, *, grounds: str, ctx: Context
) -> models.Objection:
    """Record a subject's objection (异议): the record is annotated 异议处理中 at once."""
    if not grounds.strip():
        raise InvalidChange(f"{label(record)}: 异议须说明理由 / an objection needs its grounds")
    _require_public(record, ctx, "提出异议", "object to it")
    if record.objection_opened_on is not None:
        raise WrongState(
            f"{label(record)}: 已有异议处理中 (自 {record.objection_opened_on}) / an objection "
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
        raise NotFound(f"异议 objection #{objection_id} 不存在 / does not exist")
    return objection


def resolve_objection(
    session: Session,
    objection: models.Objection,
    *,
    outcome: models.ObjectionOutcome,
    ctx: Context,
    corrections: Mapping[str, Any] | None = None,
    reason: str = "",
) -> models.Record:
    """Close an objection: upheld → the record is corrected (`corrections`: its new field
    values, as `submission.correction` makes them from a template row; empty when the caller
    corrected only its subject) or its publication ends; rejected → the annotation is removed.
    Returns the record."""
    record = get_record(session, objection.record_kind, objection.record_id)
    if objection.closed_on is not None:
        raise WrongState(
            f"{label(record)}: 异议 #{objection.id} 已于 {objection.closed_on} 办结 / objection "
            "already closed"
        )
    if outcome is models.ObjectionOutcome.CORRECTED and corrections is None:
        raise InvalidChange(
            f"{label(record)}: 异议成立须给出更正内容 / an upheld objection needs the corrections"
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
        if corrections and not correct(session, record, corrections, ctx):
            raise InvalidChange(
                f"{label(record)}: 更正内容与原记录相同 / the corrections change nothing"
            )
    elif outcome is models.ObjectionOutcome.WITHDRAWN:
        if isinstance(record, models.ListEntry):
            exit_list_entry(
                session,
                record,
                reason=models.EndReason.OBJECTION_UPHELD,
                ctx=ctx,
                explanation=reason,
            )
        else:
            withdraw(
                session,
                record,
                kind=models.WithdrawalKind.OBJECTION_UPHELD,
                reason=reason.strip() or "异议成立",
                ctx=ctx,
            )
    return record


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
    raise InvalidChange(
        f"{label(record)}: 不是失信信息，无需信用修复 / not negative credit information; "
        "nothing to repair"
    )


def _require_repairable(record: models.Record, ctx: Context) -> None:
    earliest = repair_possible_from(record, ctx.rules)
    if ctx.on < earliest:
        raise TooEarly(
            f"{label(record)}: 最短公示期未满，{earliest} 起方可修复 / the minimum publicity "
            f"period is not over; repair is possible from {earliest}"
        )


def apply_for_repair(
    session: Session, record: models.Record, *, commitment: str, ctx: Context
) -> models.Repair:
    """Record a subject's repair application (with its 信用承诺), for the department to decide."""
    if not commitment.strip():
        raise InvalidChange(f"{label(record)}: 须附信用承诺 / a repair needs a credit commitment")
    _require_public(record, ctx, "申请修复", "repair it")
    _require_repairable(record, ctx)
    pending = session.exec(
        select(models.Repair).where(
            col(models.Repair.record_kind) == record.KIND,
            col(models.Repair.record_id) == record.id,
            col(models.Repair.status) == models.RepairStatus.APPLIED,
        )
    ).first()
    if pending is not None:
        raise WrongState(
            f"{label(record)}: 已有待办修复申请 #{pending.id} / repair application "
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
        raise NotFound(f"修复申请 repair #{repair_id} 不存在 / does not exist")
    return repair


def _require_pending(repair: models.Repair, record: models.Record) -> None:
    if repair.status is not models.RepairStatus.APPLIED:
        raise WrongState(
            f"{label(record)}: 修复申请 #{repair.id} 已{repair.status.value} / repair "
            f"application #{repair.id} is already {repair.status.value}"
        )


def approve_repair(session: Session, repair: models.Repair, ctx: Context) -> models.Record:
    """Approve a repair: publication of the record ends today everywhere. Returns the record."""
    record = get_record(session, repair.record_kind, repair.record_id)
    _require_pending(repair, record)
    _require_public(record, ctx, "修复", "repair it")
    _require_repairable(record, ctx)
    repair.status = models.RepairStatus.APPROVED
    repair.decided_on = ctx.on
    repair.decided_by = ctx.actor
    session.add(repair)
    _end(
        session,
        record,
        models.EndReason.REPAIRED,
        models.EventType.REPAIRED,
        ctx,
        {"repair_id": repair.id},
    )
    return record


def refuse_repair(
    session: Session, repair: models.Repair, *, note: str, ctx: Context
) -> models.Repair:
    """Refuse a repair application with a reason; the record stays public."""
    record = get_record(session, repair.record_kind, repair.record_id)
    _require_pending(repair, record)
    if not note.strip():
        raise InvalidChange(f"{label(record)}: 不予修复须说明理由 / a refusal needs a reason")
    repair.status = models.RepairStatus.REFUSED
    repair.decided_on = ctx.on
    repair.decided_by = ctx.actor
    repair.note = note.strip()
    session.add(repair)
    return repair
