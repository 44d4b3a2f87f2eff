"""Standing (联合奖惩): the measures that apply to a subject on a day, and why — computed from
the public records like visibility, never stored.

`compute` is the rule, a pure function of a subject's records; `standings` gives the same answer
for many subjects at once in one query (`standing_sql`; a property test holds the two equal).

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
import functools
from collections.abc import Sequence
from typing import TypeVar

from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from disclosure import lifecycle, measures, models, standing_sql

R = TypeVar("R", models.License, models.Penalty, models.ListEntry)


class State(enum.StrEnum):
    """Whether an applicable measure is carried out today."""

    APPLIES = "APPLIES"
    SUSPENDED = "SUSPENDED"  # every triggering record is under an objection being verified


TriggerRef = standing_sql.TriggerRef  # a public record that makes a measure apply


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
    natural = last + lifecycle.ONE_DAY if last is not None else None
    if record.ended_on is not None and (natural is None or record.ended_on < natural):
        return record.ended_on
    return natural


def _counts(record: models.Record, on: dt.date) -> bool:
    """Whether `record` was public at some day up to `on` and not void."""
    if (
        lifecycle.withheld(record)
        or record.published_on > on
        or record.end_reason in measures.VOID_ENDS
    ):
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


@functools.lru_cache(maxsize=4096)  # asked for each measure of hundreds of subjects at once
def clean_for(years: int, start: dt.date | None, on: dt.date) -> bool:
    """Whether a record clean from `start` is `years` whole years clean on `on`."""
    return start is not None and start + relativedelta(years=years) < on


def compute(history: History, on: dt.date, catalogue: measures.Catalogue) -> Standing:
    """The standing of the subject of `history` on `on` under `catalogue`."""
    blemishes = [r for r in _unfavourable(history) if _counts(r, on)]
    ends = [first_closed_day(r) for r in blemishes]
    records: list[models.Record] = [*history.licenses, *history.penalties, *history.list_entries]
    checked = {
        TriggerRef(o.record_kind, o.record_id) for o in history.objections if verifying(o, on)
    }
    facts = standing_sql.Facts(
        known_since=min((r.decision_on for r in records if _counts(r, on)), default=None),
        closed_on=max((e for e in ends if e is not None), default=None),
        blemished=any(lifecycle.is_public(r, on) for r in blemishes),
        public=[
            *(_candidate(p, checked) for p in history.penalties if lifecycle.is_public(p, on)),
            *(_candidate(e, checked) for e in history.list_entries if lifecycle.is_public(e, on)),
        ],
    )
    return _standing(history.subject_id, on, catalogue.in_force(on), facts)


def _candidate(
    record: models.Penalty | models.ListEntry, checked: set[TriggerRef]
) -> standing_sql.Candidate:
    assert record.id is not None
    ref = TriggerRef(record.KIND, record.id)
    if isinstance(record, models.Penalty):
        texts = (record.violation_type, record.legal_basis)
        return standing_sql.Candidate(ref, ref in checked, record.severity, texts)
    named = record.credit_list
    return standing_sql.Candidate(ref, ref in checked, list_code=named.code, list_kind=named.kind)


def _standing(
    subject_id: int, on: dt.date, in_force: Sequence[measures.Measure], facts: standing_sql.Facts
) -> Standing:
    """The measures of `in_force` that apply to a subject with these facts."""
    clean_since = clean_from = None
    if not facts.blemished:
        clean_since = facts.closed_on
        clean_from = clean_start(clean_since, facts.known_since)
    under_objection = {c.ref for c in facts.public if c.verifying}
    matched: dict[measures.Trigger, set[TriggerRef]] = {}  # measures share triggers
    applied = []
    for measure in in_force:
        triggers: set[TriggerRef] = set()
        clean = False
        for trigger in measure.triggers:
            if trigger.kind is measures.TriggerKind.CLEAN_RECORD:
                clean = clean or clean_for(trigger.years, clean_from, on)
            elif facts.public:
                found = matched.get(trigger)
                if found is None:
                    found = {c.ref for c in facts.public if _matches(trigger, c)}
                    matched[trigger] = found
                triggers |= found
        if triggers or clean:
            applied.append(_applied(measure, triggers, clean, under_objection))
    return Standing(subject_id, on, tuple(applied), clean_since, facts.known_since)


def _matches(trigger: measures.Trigger, candidate: standing_sql.Candidate) -> bool:
    if candidate.severity is not None:
        return trigger.matches_penalty(candidate.severity, *candidate.texts)
    assert candidate.list_kind is not None
    return trigger.matches_list_entry(candidate.list_code, candidate.list_kind)


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


def standings(
    session: Session, subject_ids: Sequence[int], *, on: dt.date, catalogue: measures.Catalogue
) -> dict[int, Standing]:
    """`compute` for each of `subject_ids`, in one query whatever their number."""
    ids = list(dict.fromkeys(subject_ids))
    if not ids:
        return {}
    in_force = catalogue.in_force(on)
    found = standing_sql.facts(session, ids, on)
    none = standing_sql.Facts()
    return {i: _standing(i, on, in_force, found.get(i, none)) for i in ids}


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
