"""Standing (联合奖惩): the measures that apply to a subject on a day, and why — computed from
the public records like visibility, never stored.

`compute` is the rule, a pure function of a subject's records; `standings` gives the same answer
for many subjects at once in a handful of queries (a property test holds the two equal).

- A measure applies through its triggering records: entries on its lists and penalties of its
  severities and fields, each public on the day (`lifecycle.is_public`) — so repaired, withdrawn,
  expired and exited records trigger nothing.
- A punishment whose every triggering record is under an objection being verified that day is
  SUSPENDED (plan (十八): 联合惩戒措施在信息核实期间暂不执行); it APPLIES again once the
  objection is rejected.
- A clean record of N years: no public unfavourable record (a general or serious penalty, a black
  or watch list entry) on the day, and N whole years since the last one ended — or, for a subject
  that never had one, since its first decision on record. Years count as 民法典 Arts. 201–203
  count them, from the day after: a penalty that ended (its first day no longer public) on D
  gives a clean record from D + N years + 1 day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from disclosure import lifecycle, measures, models

ONE_DAY = dt.timedelta(days=1)
R = TypeVar("R", models.License, models.Penalty, models.ListEntry)
# Records whose end says they were wrong: they prove neither a blemish nor a subject's age.
VOID_ENDS = (models.EndReason.WITHDRAWN, models.EndReason.OBJECTION_UPHELD)


class State(enum.StrEnum):
    """Whether an applicable measure is carried out today."""

    APPLIES = "APPLIES"
    SUSPENDED = "SUSPENDED"  # every triggering record is under an objection being verified


@dataclasses.dataclass(frozen=True, order=True)
class TriggerRef:
    """A public record that makes a measure apply."""

    kind: models.RecordKind
    id: int

    def label(self) -> str:
        """`<kind>:<id>`, as a feedback report keeps it."""
        return f"{self.kind.value}:{self.id}"


@dataclasses.dataclass(frozen=True)
class AppliedMeasure:
    """A measure that applies, its state and the records that trigger it (none for a clean
    record)."""

    measure: measures.Measure
    state: State
    triggers: tuple[TriggerRef, ...]


@dataclasses.dataclass(frozen=True)
class Standing:
    """What applies to one subject on one day."""

    subject_id: int
    on: dt.date
    measures: tuple[AppliedMeasure, ...]
    clean_since: dt.date | None  # the day its last unfavourable record ended; None: none ended,
    # or one is public on the day
    known_since: dt.date | None  # its first decision on record: the start of a record never

    # blemished

    def applied(self, code: str) -> AppliedMeasure | None:
        """The measure with `code` if it applies (or is suspended), else None."""
        return next((m for m in self.measures if m.measure.code == code), None)


@dataclasses.dataclass(frozen=True)
class History:
    """A subject's records, whatever their visibility, and the objections on them: what the rule
    reads. List entries carry their `credit_list`."""

    subject_id: int
    licenses: Sequence[models.License] = ()
    penalties: Sequence[models.Penalty] = ()
    list_entries: Sequence[models.ListEntry] = ()
    objections: Sequence[models.Objection] = ()


def verifying(objection: models.Objection, on: dt.date) -> bool:
    """Whether `objection` is being verified on `on`: opened by then and not yet closed."""
    return objection.opened_on <= on and (objection.closed_on is None or objection.closed_on > on)


def first_closed_day(record: models.Record) -> dt.date | None:
    """The first day `record` was no longer public, by its end or its own last day; None while
    it has neither."""
    last = lifecycle.last_public_day(record)
    natural = last + ONE_DAY if last is not None else None
    if record.ended_on is not None and (natural is None or record.ended_on < natural):
        return record.ended_on
    return natural


def _counts(record: models.Record, on: dt.date) -> bool:
    """Whether `record` was public at some day up to `on` and not void."""
    if lifecycle.withheld(record) or record.published_on > on or record.end_reason in VOID_ENDS:
        return False
    closed = first_closed_day(record)
    return closed is None or record.published_on < closed


def _unfavourable(history: History) -> list[models.Record]:
    return [
        *(p for p in history.penalties if p.severity in measures.UNFAVOURABLE_SEVERITIES),
        *(
            e
            for e in history.list_entries
            if e.credit_list.kind in measures.UNFAVOURABLE_LIST_KINDS
        ),
    ]


def clean_start(clean_since: dt.date | None, known_since: dt.date | None) -> dt.date | None:
    """The day a clean record counts from."""
    return clean_since if clean_since is not None else known_since


def clean_for(years: int, start: dt.date | None, on: dt.date) -> bool:
    """Whether a record clean from `start` is `years` whole years clean on `on`."""
    return start is not None and start + relativedelta(years=years) < on


def compute(history: History, on: dt.date, catalogue: measures.Catalogue) -> Standing:
    """The standing of the subject of `history` on `on` under `catalogue`."""
    blemishes = [r for r in _unfavourable(history) if _counts(r, on)]
    blemished = any(lifecycle.is_public(r, on) for r in blemishes)
    ends = [first_closed_day(r) for r in blemishes]
    clean_since = None if blemished else max((e for e in ends if e is not None), default=None)
    records: list[models.Record] = [*history.licenses, *history.penalties, *history.list_entries]
    known_since = min((r.decision_on for r in records if _counts(r, on)), default=None)
    under_objection = {
        TriggerRef(o.record_kind, o.record_id) for o in history.objections if verifying(o, on)
    }
    public_penalties = [p for p in history.penalties if lifecycle.is_public(p, on)]
    public_entries = [e for e in history.list_entries if lifecycle.is_public(e, on)]
    clean_from = None if blemished else clean_start(clean_since, known_since)
    applied = []
    for measure in catalogue.in_force(on):
        triggers: set[TriggerRef] = set()
        clean = False
        for trigger in measure.triggers:
            if trigger.kind is measures.TriggerKind.CLEAN_RECORD:
                clean = clean or clean_for(trigger.years, clean_from, on)
            for entry in public_entries:
                kind = entry.credit_list.kind
                if trigger.matches_list_entry(entry.credit_list.code, kind):
                    triggers.add(_ref(entry))
            for penalty in public_penalties:
                if trigger.matches_penalty(
                    penalty.severity, penalty.violation_type, penalty.legal_basis
                ):
                    triggers.add(_ref(penalty))
        if triggers or clean:
            applied.append(_applied(measure, triggers, clean, under_objection))
    return Standing(history.subject_id, on, tuple(applied), clean_since, known_since)


def _ref(record: models.Record) -> TriggerRef:
    assert record.id is not None
    return TriggerRef(record.KIND, record.id)


def _applied(
    measure: measures.Measure,
    triggers: set[TriggerRef],
    clean: bool,
    under_objection: set[TriggerRef],
) -> AppliedMeasure:
    suspended = (
        measure.kind is measures.MeasureKind.PUNISHMENT
        and not clean
        and triggers <= under_objection
    )
    return AppliedMeasure(
        measure, State.SUSPENDED if suspended else State.APPLIES, tuple(sorted(triggers))
    )


# --- the same rule as queries, for many subjects at once ---


def _in(column: Any, ids: Sequence[int]) -> sa.ColumnElement[bool]:
    return col(column).in_(sa.bindparam("ids", value=list(ids), expanding=True))


def _list_clause(trigger: measures.Trigger) -> sa.ColumnElement[bool]:
    if trigger.kind is not measures.TriggerKind.LIST:
        return sa.false()
    return sa.or_(
        col(models.List.code).in_(trigger.list_codes) if trigger.list_codes else sa.false(),
        col(models.List.kind).in_(trigger.list_kinds) if trigger.list_kinds else sa.false(),
    )


def _penalty_clause(trigger: measures.Trigger) -> sa.ColumnElement[bool]:
    if trigger.kind is not measures.TriggerKind.PENALTY:
        return sa.false()
    text = [
        sa.func.lower(col(models.Penalty.violation_type)),
        sa.func.lower(col(models.Penalty.legal_basis)),
    ]
    words = [
        column.contains(word.lower(), autoescape=True)
        for word in trigger.keywords
        for column in text
    ]
    return sa.and_(
        col(models.Penalty.severity).in_(trigger.severities),
        sa.or_(*words) if words else sa.true(),
    )


def _triggering(
    session: Session, ids: Sequence[int], on: dt.date, in_force: Sequence[measures.Measure]
) -> dict[int, dict[str, set[TriggerRef]]]:
    """For each subject, the public records triggering each measure (by code)."""
    found: dict[int, dict[str, set[TriggerRef]]] = {}
    pairs = [(m, t) for m in in_force for t in m.triggers]
    entry, penalty = models.ListEntry, models.Penalty
    of_lists = [_list_clause(t) for _, t in pairs]
    of_penalties = [_penalty_clause(t) for _, t in pairs]
    statements = (
        (
            models.RecordKind.LIST_ENTRY,
            sa.select(col(entry.id), col(entry.subject_id))
            .join(models.List, col(models.List.id) == col(entry.list_id))
            .where(_in(entry.subject_id, ids), lifecycle.public_clause(entry, on)),
            of_lists,
        ),
        (
            models.RecordKind.PENALTY,
            sa.select(col(penalty.id), col(penalty.subject_id)).where(
                _in(penalty.subject_id, ids), lifecycle.public_clause(penalty, on)
            ),
            of_penalties,
        ),
    )
    for kind, statement, clauses in statements:
        wanted = [(n, c) for n, c in enumerate(clauses) if not isinstance(c, sa.False_)]
        if not wanted:
            continue
        hits = statement.add_columns(*(c.label(f"t{n}") for n, c in wanted))
        for record_id, subject_id, *matched in session.execute(
            hits.where(sa.or_(*(c for _, c in wanted)))
        ):
            for hit, (n, _) in zip(matched, wanted, strict=True):
                if hit:
                    by_code = found.setdefault(subject_id, {})
                    by_code.setdefault(pairs[n][0].code, set()).add(TriggerRef(kind, record_id))
    return found


def _verifying(session: Session, refs: Iterable[TriggerRef], on: dt.date) -> set[TriggerRef]:
    """Which of `refs` are under an objection being verified on `on`."""
    refs = list(refs)
    found: set[TriggerRef] = set()
    objection = models.Objection
    for kind in models.RecordKind:
        ids = [ref.id for ref in refs if ref.kind is kind]
        if not ids:
            continue
        rows = session.execute(
            sa.select(col(objection.record_id)).where(
                col(objection.record_kind) == kind,
                _in(objection.record_id, ids),
                col(objection.opened_on) <= on,
                sa.or_(col(objection.closed_on).is_(None), col(objection.closed_on) > on),
            )
        )
        found |= {TriggerRef(kind, record_id) for (record_id,) in rows}
    return found


def _counted(model: Any, on: dt.date) -> list[sa.ColumnElement[bool]]:
    """`_counts` as SQL: public at some day up to `on`, and not void."""
    ended, published = col(model.ended_on), col(model.published_on)
    clauses = [
        published <= on,
        sa.or_(col(model.end_reason).is_(None), col(model.end_reason).not_in(VOID_ENDS)),
    ]
    if model is models.Penalty:
        last = col(models.Penalty.publicity_end_on)
        clauses.append(last.is_not(None))
    elif model is models.ListEntry:
        last = col(models.ListEntry.valid_until_on)
    else:
        clauses.append(sa.or_(ended.is_(None), published < ended))
        return clauses
    # the first closed day is the earlier of ended_on and last + 1: published before it
    clauses.append(
        sa.or_(
            sa.and_(ended.is_(None), sa.or_(last.is_(None), published <= last)),
            sa.and_(
                ended.is_not(None), published < ended, sa.or_(last.is_(None), published <= last)
            ),
        )
    )
    return clauses


def _early(model: Any) -> sa.ColumnElement[bool]:
    """Ended before its own last day was over (its first closed day is `ended_on`)."""
    last = col(model.publicity_end_on if model is models.Penalty else model.valid_until_on)
    return sa.and_(
        col(model.ended_on).is_not(None), sa.or_(last.is_(None), col(model.ended_on) <= last)
    )


def _records_since(
    session: Session, ids: Sequence[int], on: dt.date
) -> tuple[dict[int, dt.date], dict[int, dt.date], set[int]]:
    """Per subject: its first decision on record, the day its last unfavourable record closed,
    and whether one is public on `on`."""
    known: dict[int, dt.date] = {}
    closed: dict[int, dt.date] = {}
    blemished: set[int] = set()
    for model in (models.License, models.Penalty, models.ListEntry):
        rows = session.execute(
            sa.select(col(model.subject_id), sa.func.min(col(model.decision_on)))
            .where(_in(model.subject_id, ids), *_counted(model, on))
            .group_by(col(model.subject_id))
        )
        for subject_id, first in rows:
            known[subject_id] = min(first, known.get(subject_id, first))
    unfavourable: tuple[tuple[Any, Any, sa.ColumnElement[bool]], ...] = (
        (
            models.Penalty,
            col(models.Penalty.publicity_end_on),
            col(models.Penalty.severity).in_(measures.UNFAVOURABLE_SEVERITIES),
        ),
        (
            models.ListEntry,
            col(models.ListEntry.valid_until_on),
            col(models.ListEntry.list_id).in_(
                sa.select(col(models.List.id)).where(
                    col(models.List.kind).in_(measures.UNFAVOURABLE_LIST_KINDS)
                )
            ),
        ),
    )
    for model, last, kind in unfavourable:
        early = _early(model)
        rows = session.execute(
            sa.select(
                col(model.subject_id),
                sa.func.max(sa.case((early, col(model.ended_on)))),
                sa.func.max(sa.case((~early, last))),
                sa.func.max(sa.case((lifecycle.public_clause(model, on), 1), else_=0)),
            )
            .where(_in(model.subject_id, ids), kind, *_counted(model, on))
            .group_by(col(model.subject_id))
        )
        for subject_id, ended, natural_last, public in rows:
            if public:
                blemished.add(subject_id)
            days = [d for d in (ended, natural_last + ONE_DAY if natural_last else None) if d]
            if days and max(days) > closed.get(subject_id, dt.date.min):
                closed[subject_id] = max(days)
    return known, closed, blemished


def standings(
    session: Session, subject_ids: Sequence[int], *, on: dt.date, catalogue: measures.Catalogue
) -> dict[int, Standing]:
    """`compute` for each of `subject_ids`, in a few queries whatever their number."""
    ids = list(dict.fromkeys(subject_ids))
    if not ids:
        return {}
    in_force = catalogue.in_force(on)
    triggering = _triggering(session, ids, on, in_force)
    refs = {ref for by_code in triggering.values() for found in by_code.values() for ref in found}
    under_objection = _verifying(session, refs, on) if refs else set()
    known, closed, blemished = _records_since(session, ids, on)
    result = {}
    for subject_id in ids:
        clean_since = None if subject_id in blemished else closed.get(subject_id)
        clean_from = None
        if subject_id not in blemished:
            clean_from = clean_start(clean_since, known.get(subject_id))
        by_code = triggering.get(subject_id, {})
        applied = []
        for measure in in_force:
            clean = any(
                t.kind is measures.TriggerKind.CLEAN_RECORD and clean_for(t.years, clean_from, on)
                for t in measure.triggers
            )
            triggers = by_code.get(measure.code, set())
            if triggers or clean:
                applied.append(_applied(measure, triggers, clean, under_objection))
        result[subject_id] = Standing(
            subject_id, on, tuple(applied), clean_since, known.get(subject_id)
        )
    return result


def history(session: Session, subject_id: int) -> History:
    """Every record of the subject and the objections on them: what `compute` reads."""

    def of(model: type[R]) -> list[R]:
        statement = select(model).where(col(model.subject_id) == subject_id)
        return list(session.exec(statement).unique().all())

    licenses, penalties = of(models.License), of(models.Penalty)
    entries = of(models.ListEntry)
    objections: list[models.Objection] = []
    for kind, found in (
        (models.RecordKind.LICENSE, licenses),
        (models.RecordKind.PENALTY, penalties),
        (models.RecordKind.LIST_ENTRY, entries),
    ):
        ids = [record.id for record in found]
        if ids:
            objections += session.exec(
                select(models.Objection).where(
                    col(models.Objection.record_kind) == kind,
                    col(models.Objection.record_id).in_(ids),
                )
            ).all()
    return History(subject_id, licenses, penalties, entries, objections)
