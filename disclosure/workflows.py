"""Workflows: each checks its input, changes state and appends its event, in the caller's
transaction. A refusal raises before anything is written, naming the record and the rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col

from disclosure import events, idkey, lifecycle, models, workdays


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


def require_public(record: models.Record, ctx: Context, action_zh: str, action: str) -> None:
    """NotPublic unless `record` is public on `ctx.on`: what acting on it (`action`) needs."""
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
    require_public(record, ctx, "更正", "correct it")
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
