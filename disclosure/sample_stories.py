"""The stories of sample data: withdrawals, repairs, objections and revoked listings, told
through the real workflows on days drawn between a record's publication and its end."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import endings, lifecycle, models, objections, repairs, workdays, workflows


def _ids(session: Session, model: type[Any]) -> list[int]:
    return list(session.execute(sa.select(model.id).order_by(model.id)).scalars())


def _pick(rng: random.Random, ids: Sequence[int], count: int) -> Iterator[int]:
    yield from rng.sample(list(ids), min(count, len(ids)))


def _day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, max(0, (last - first).days)))


def tell(
    session: Session,
    rng: random.Random,
    records: int,
    as_of: dt.date,
    rules: lifecycle.Rules,
    calendar: workdays.Calendar,
) -> Counter[str]:
    """Withdrawals, repairs, objections and revoked listings, through the workflows."""
    told: Counter[str] = Counter()
    share = max(1, min(records // 250, 500))

    def context(on: dt.date, actor: str) -> workflows.Context:
        # a story after `as_of` has not happened yet: its event would be a fact from the future
        assert on <= as_of, f"a sample story dated {on}, after {as_of}"
        return workflows.Context(actor=actor, on=on, rules=rules, calendar=calendar)

    def last_day(record: models.Record) -> dt.date:
        last = lifecycle.last_public_day(record)
        return as_of if last is None else min(last, as_of)

    penalties = _ids(session, models.Penalty)
    entries = _ids(session, models.ListEntry)
    for kind, ids in (
        (models.RecordKind.PENALTY, penalties),
        (models.RecordKind.LIST_ENTRY, entries),
    ):
        for record_id in _pick(rng, ids, share * 2):
            record = workflows.get_record(session, kind, record_id)
            try:
                earliest = repairs.repair_possible_from(record, rules)
            except workflows.InvalidChange:
                continue  # a red-list entry: nothing to repair
            on = _day_between(rng, max(earliest, record.published_on), last_day(record))
            if on > as_of or on < earliest or not lifecycle.is_public(record, on):
                continue  # not repairable by `as_of`
            clerk = context(on, "赤坎区发展和改革局 信用修复窗口")
            repair = repairs.apply_for_repair(
                session,
                record,
                commitment="本单位已纠正失信行为、履行相关义务，承诺所报材料真实。",
                ctx=clerk,
            )
            repairs.approve_repair(session, repair, context(on, "认定部门"))
            told["repaired"] += 1

    decisions = [(models.RecordKind.PENALTY, i) for i in penalties] + [
        (models.RecordKind.LICENSE, i) for i in _ids(session, models.License)
    ]
    for kind, record_id in rng.sample(decisions, min(share, len(decisions))):
        record = workflows.get_record(session, kind, record_id)
        on = _day_between(rng, record.published_on, last_day(record))
        if not lifecycle.is_public(record, on):
            continue
        endings.withdraw(
            session,
            record,
            kind=rng.choice(list(models.WithdrawalKind)[:4]),
            reason="原决定经行政复议被撤销，依法撤回公示信息。",
            ctx=context(on, "数据来源单位"),
        )
        told["withdrawn"] += 1

    for kind, record_id in rng.sample(decisions, min(share, len(decisions))):
        record = workflows.get_record(session, kind, record_id)
        opened = as_of - dt.timedelta(days=rng.randint(0, 40))
        if not lifecycle.is_public(record, opened) or record.objection_opened_on is not None:
            continue
        objection = objections.open_objection(
            session,
            record,
            grounds="当事人认为处罚信息中的违法事实表述与决定书不一致，申请核查。",
            ctx=context(opened, "赤坎区发展和改革局 异议受理窗口"),
        )
        decided = workdays.add_working_days(opened, rng.randint(1, 7), calendar)
        if decided > as_of:
            told["objection_open"] += 1
            continue
        outcome = rng.choices(list(models.ObjectionOutcome), [15, 10, 75])[0]
        if not lifecycle.is_public(record, decided):
            outcome = models.ObjectionOutcome.REJECTED  # it lapsed meanwhile: nothing to change
        objections.resolve_objection(
            session,
            objection,
            outcome=outcome,
            corrections={"remarks": f"经异议核查，于{decided}更正。"},
            reason="经核查，异议成立，停止公示。",
            ctx=context(decided, "数据来源单位"),
        )
        told[f"objection_{outcome.value}"] += 1

    for record_id in _pick(rng, entries, max(1, share // 2)):
        entry = session.get(models.ListEntry, record_id)
        assert entry is not None
        on = _day_between(rng, entry.published_on, last_day(entry))
        if not lifecycle.is_public(entry, on):
            continue
        endings.exit_list_entry(
            session, entry, reason=models.EndReason.REVOKED, ctx=context(on, "认定部门")
        )
        told["exit_revoked"] += 1
    return told
