"""Publicity rules: when a record is public, as data, as a pure function and as SQL.

Periods count from the decision date the way 民法典 Arts. 201–203 count them: the decision day
itself is not counted, so a 3-month period for a decision of 2026-01-10 covers 2026-01-11 up to and
including 2026-04-10, its last public day. The record leaves every output the day after.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col

from disclosure import events, models

ONE_DAY = dt.timedelta(days=1)


class RulesError(ValueError):
    """A rules file that cannot be applied."""


@dataclasses.dataclass(frozen=True)
class PublicityRule:
    """How long a penalty of one severity is public, for decisions from `effective_on` on."""

    severity: models.Severity
    effective_on: dt.date
    published_by_default: bool  # False: only when the authority sets a publicity end date
    min_months: int  # repair possible once this period is over
    max_months: int  # publication stops automatically after this period
    source: str


NATIONAL_2026 = "信用修复管理办法（国家发展改革委令2025年第36号），2026-04-01施行"

# The current national rule. A deployment adds older or stricter (provincial) rules in a TOML file.
DEFAULT_RULES: tuple[PublicityRule, ...] = (
    PublicityRule(models.Severity.MINOR, dt.date(2026, 4, 1), False, 0, 3, NATIONAL_2026),
    PublicityRule(models.Severity.GENERAL, dt.date(2026, 4, 1), True, 3, 12, NATIONAL_2026),
    PublicityRule(models.Severity.SERIOUS, dt.date(2026, 4, 1), True, 12, 36, NATIONAL_2026),
)


@dataclasses.dataclass(frozen=True)
class Rules:
    """The publicity rules table; the rule in force on a decision's date governs it."""

    rules: tuple[PublicityRule, ...] = DEFAULT_RULES

    def __post_init__(self) -> None:
        missing = set(models.Severity) - {rule.severity for rule in self.rules}
        if missing:
            names = ", ".join(sorted(missing))
            raise RulesError(f"the publicity rules table has no rule for severity {names}")

    def rule_for(self, severity: models.Severity, decision_on: dt.date) -> PublicityRule:
        """The rule for `severity` in force on `decision_on`; the oldest one for older records."""
        candidates = sorted(
            (rule for rule in self.rules if rule.severity == severity),
            key=lambda rule: rule.effective_on,
        )
        in_force = [rule for rule in candidates if rule.effective_on <= decision_on]
        return in_force[-1] if in_force else candidates[0]


def load_rules(path: Path | None) -> Rules:
    """The rules table from a TOML file of `[[rule]]` tables, or the built-in national rule."""
    if path is None:
        return Rules()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RulesError(f"{path}: {error}") from error
    rules = []
    for number, entry in enumerate(data.get("rule", []), start=1):
        try:
            rules.append(_rule(entry))
        except (KeyError, ValueError, TypeError) as error:
            raise RulesError(f"{path}: rule {number}: {error!r}") from error
    return Rules(tuple(rules))


def _rule(entry: dict[str, Any]) -> PublicityRule:
    effective_on = entry["effective_on"]
    if not isinstance(effective_on, dt.date):
        raise ValueError(f"effective_on must be a date, not {effective_on!r}")
    minimum, maximum = int(entry["min_months"]), int(entry["max_months"])
    if not 0 <= minimum <= maximum:
        raise ValueError(f"min_months {minimum} and max_months {maximum} are out of order")
    return PublicityRule(
        severity=models.Severity(entry["severity"]),
        effective_on=effective_on,
        published_by_default=bool(entry["published_by_default"]),
        min_months=minimum,
        max_months=maximum,
        source=str(entry.get("source", "")),
    )


@dataclasses.dataclass(frozen=True)
class Window:
    """The publicity window of a penalty: when it may end, at the earliest and at the latest."""

    rule: PublicityRule
    min_end_on: dt.date  # last day of the minimum period; repair possible from the day after
    max_end_on: dt.date  # last day of the maximum period


class PublicityEndError(ValueError):
    """A 公示截止期 outside the window its severity allows."""


@functools.lru_cache(maxsize=8192)
def publicity_window(severity: models.Severity, decision_on: dt.date, rules: Rules) -> Window:
    """The window within which a penalty decided on `decision_on` stays public."""
    rule = rules.rule_for(severity, decision_on)
    return Window(
        rule=rule,
        min_end_on=decision_on + relativedelta(months=rule.min_months),
        max_end_on=decision_on + relativedelta(months=rule.max_months),
    )


def publicity_end(
    severity: models.Severity,
    decision_on: dt.date,
    supplied: dt.date | None,
    rules: Rules,
) -> dt.date | None:
    """The last public day of a penalty: the supplied 公示截止期 if it is inside the window, else
    the maximum; None when its severity is not published by default and none was supplied."""
    window = publicity_window(severity, decision_on, rules)
    if supplied is None:
        return window.max_end_on if window.rule.published_by_default else None
    if not window.min_end_on <= supplied <= window.max_end_on:
        raise PublicityEndError(
            f"公示截止期 {supplied} 不在{severity.zh}失信信息的公示期限内 "
            f"({window.min_end_on} – {window.max_end_on}) / publicity end {supplied} is outside "
            f"the window for a {severity.value} penalty decided on {decision_on} "
            f"({window.min_end_on} to {window.max_end_on}; {window.rule.source})"
        )
    return supplied


# The rules below tell kinds apart by `KIND`, not by class: the bulk export hands them plain rows
# (privacy.RecordRow) that carry it too. Each has its SQL twin (`…_clause`, `…_column`) beside
# it, and a test holds each pair equal.

# The field holding a record's own last day of publicity, by kind: a penalty's 公示截止期 and a
# list entry's validity. Licenses have none: they stay public until they end early.
_LAST_PUBLIC_DAY = {
    models.RecordKind.PENALTY: "publicity_end_on",
    models.RecordKind.LIST_ENTRY: "valid_until_on",
}


def last_public_day(record: models.Record) -> dt.date | None:
    """The record's own last day of publicity by its dates; None when it has none (licenses, and
    list entries valid until exit)."""
    name = _LAST_PUBLIC_DAY.get(record.KIND)
    return None if name is None else cast(dt.date | None, getattr(record, name))


def last_public_day_column(model: models.RecordModel) -> Any:
    """`last_public_day` as a column of `model`'s table; None for licenses, which have none."""
    name = _LAST_PUBLIC_DAY.get(model.KIND)
    return None if name is None else col(getattr(model, name))


def withheld(record: models.Record) -> bool:
    """Whether `record` is never published: a penalty whose severity is not published by default
    and for which no publicity end date was set."""
    return record.KIND is models.RecordKind.PENALTY and last_public_day(record) is None


def withheld_clause(model: models.RecordModel) -> sa.ColumnElement[bool]:
    """`withheld` as a SQL condition on `model`'s table."""
    if model.KIND is not models.RecordKind.PENALTY:
        return sa.false()
    return cast(sa.ColumnElement[bool], last_public_day_column(model).is_(None))


def _published_clause(model: models.RecordModel) -> sa.ColumnElement[bool]:
    """Not `withheld`, as SQL (`IS NOT NULL` rather than `NOT (… IS NULL)`: the negation of an
    expression leaves a reference cycle behind every query that builds it)."""
    if model.KIND is not models.RecordKind.PENALTY:
        return sa.true()
    return cast(sa.ColumnElement[bool], last_public_day_column(model).is_not(None))


def is_public(record: models.Record, on: dt.date) -> bool:
    """Whether `record` is public on `on`: published, not ended early, not past its own end."""
    if withheld(record) or record.published_on > on:
        return False
    if record.ended_on is not None and record.ended_on <= on:
        return False
    last = last_public_day(record)
    return last is None or on <= last


def public_clause(
    model: models.RecordModel, on: dt.date | sa.ColumnElement[dt.date]
) -> sa.ColumnElement[bool]:
    """`is_public` as a SQL condition on `model`'s table; `on` may be a parameter of the
    statement."""
    clauses = [
        col(model.published_on) <= on,
        sa.or_(col(model.ended_on).is_(None), col(model.ended_on) > on),
    ]
    last = last_public_day_column(model)
    if model.KIND is models.RecordKind.PENALTY:
        clauses.append(sa.and_(_published_clause(model), last >= on))
    elif last is not None:
        clauses.append(sa.or_(last.is_(None), last >= on))
    return sa.and_(*clauses)


def has_page(record: models.Record, on: dt.date) -> bool:
    """Whether `record` has a page on `on`: public ones, and ended ones (their tombstones).
    Records not yet published and penalties never published have none."""
    return not withheld(record) and record.published_on <= on


def shown_clause(model: models.RecordModel, on: dt.date) -> sa.ColumnElement[bool]:
    """`has_page` as a SQL condition on `model`'s table."""
    clauses = [col(model.published_on) <= on]
    if model.KIND is models.RecordKind.PENALTY:
        clauses.append(_published_clause(model))
    return sa.and_(*clauses)


@dataclasses.dataclass(frozen=True)
class Ending:
    """Why and since when a record is no longer public: what a tombstone says."""

    on: dt.date  # the first day it was no longer public
    reason: models.EndReason | None  # None: its publicity period ran out (expired / exited)


def ending(record: models.Record, on: dt.date) -> Ending | None:
    """How `record`'s publicity had ended by `on`, or None if it is public or not yet published."""
    if withheld(record) or record.published_on > on or is_public(record, on):
        return None
    last = last_public_day(record)
    natural_end = last + ONE_DAY if last is not None else None
    if record.ended_on is not None and (natural_end is None or record.ended_on < natural_end):
        return Ending(record.ended_on, record.end_reason)
    assert natural_end is not None
    return Ending(natural_end, None)


def under_objection(record: models.Record, on: dt.date) -> bool:
    """Whether `record` carries the 异议处理中 annotation on `on`."""
    opened = record.objection_opened_on
    return opened is not None and opened <= on


@dataclasses.dataclass(frozen=True)
class LifecycleReport:
    """What one `gongshi lifecycle` run appended."""

    expired: int
    exited: int


def _ran_out(
    session: Session,
    model: type[models.Penalty] | type[models.ListEntry],
    event_type: models.EventType,
    as_of: dt.date,
) -> Sequence[tuple[int, dt.date]]:
    """Records public at some point whose own end date is before `as_of`, without `event_type`."""
    end_column = last_public_day_column(model)
    logged = sa.exists().where(
        col(models.Event.record_kind) == model.KIND,
        col(models.Event.record_id) == col(model.id),
        col(models.Event.type) == event_type,
    )
    ended = col(model.ended_on)
    return session.execute(
        sa.select(col(model.id), end_column).where(
            end_column.is_not(None),
            end_column < as_of,
            col(model.published_on) <= end_column,
            sa.or_(ended.is_(None), ended > end_column),
            ~logged,
        )
    ).all()


def run(session: Session, *, as_of: dt.date, actor: str = "lifecycle") -> LifecycleReport:
    """Append EXPIRED / EXITED for every record whose publicity ran out on or before `as_of`.

    Idempotent: a record that has its event gets none again (and the database refuses a second).
    """
    expired = _ran_out(session, models.Penalty, models.EventType.EXPIRED, as_of)
    exited = _ran_out(session, models.ListEntry, models.EventType.EXITED, as_of)
    occurred_at = models.now_utc()
    lapsed = (
        (models.Penalty, models.EventType.EXPIRED, expired),
        (models.ListEntry, models.EventType.EXITED, exited),
    )
    rows = [
        events.row(
            model.KIND,
            record_id,
            event_type,
            effective_on=last + ONE_DAY,
            actor=actor,
            payload={"reason": "expired", "last_public_on": last},
            occurred_at=occurred_at,
        )
        for model, event_type, found in lapsed
        for record_id, last in found
    ]
    for start in range(0, len(rows), 10_000):
        events.append_many(session, rows[start : start + 10_000])
    return LifecycleReport(expired=len(expired), exited=len(exited))
