"""Replaying the whole change stream gives exactly what the lists list, after anything happens."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import endings, lifecycle, models, objections, repairs, sample, workdays
from tests import factories
from tests.api.conftest import Run

DAY = dt.timedelta(days=1)
ON = factories.DEFAULT_ON

STREAM = """query ($after: String) {
  changes(after: $after, first: 1000) {
    changes {
      kind recordId effectiveOn
      record { __typename ... on License { id } ... on Penalty { id } ... on ListEntry { id } }
      tombstone { id kind }
    }
    endCursor hasMore
  }
}"""

LIST = """query ($after: String) {
  %s(first: 100, after: $after) { edges { node { id } } pageInfo { endCursor hasNextPage } }
}"""

LISTS = {"LICENSE": "licenses", "PENALTY": "penalties", "LIST_ENTRY": "listEntries"}


def _data(response: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in response, response
    data: dict[str, Any] = response["data"]
    return data


def replay(run: Run, on: dt.date) -> tuple[dict[str, set[int]], list[dict[str, Any]]]:
    """The copy an agency ends with after reading the stream from the start, and the events."""
    copy: dict[str, set[int]] = {kind: set() for kind in LISTS}
    read: list[dict[str, Any]] = []
    after = None
    while True:
        page = _data(run(STREAM, {"after": after}, on=on))["changes"]
        for change in page["changes"]:
            record, tombstone = change["record"], change["tombstone"]
            assert (record is None) != (tombstone is None), change
            said = record or tombstone
            assert said["id"] == change["recordId"], change
            if record is not None:
                copy[change["kind"]].add(change["recordId"])
            else:
                assert tombstone["kind"] == change["kind"], change
                copy[change["kind"]].discard(change["recordId"])
        read += page["changes"]
        after = page["endCursor"]
        if not page["hasMore"]:
            return copy, read


def listed(run: Run, on: dt.date) -> dict[str, set[int]]:
    """The ids every page of `licenses`, `penalties` and `listEntries` lists on `on`."""
    found: dict[str, set[int]] = defaultdict(set)
    for kind, field in LISTS.items():
        after = None
        while True:
            page = _data(run(LIST % field, {"after": after}, on=on))[field]
            found[kind] |= {edge["node"]["id"] for edge in page["edges"]}
            after = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                break
    return dict(found)


def had_a_page(session: Session, on: dt.date) -> dict[str, set[int]]:
    """The ids of records public on `on` or ended by then (lifecycle's rules, in Python)."""
    session.expire_all()
    found: dict[str, set[int]] = {}
    for kind, model in models.RECORD_MODELS.items():
        records = cast(list[models.Record], session.exec(select(model)).unique().all())
        found[kind.name] = {
            record.id
            for record in records
            if record.id is not None
            and (lifecycle.is_public(record, on) or lifecycle.ending(record, on) is not None)
        }
    return found


def assert_exact_copy(run: Run, session: Session, on: dt.date) -> None:
    """A full replay as of `on` ends with the lists' ids; it holds every event of every record
    that had a page, and none of a record that never had one."""
    copy, read = replay(run, on)
    assert copy == listed(run, on)
    shown = had_a_page(session, on)
    events = session.exec(select(models.Event).order_by(col(models.Event.id))).all()
    expected = [
        (event.record_kind.name, event.record_id)
        for event in events
        if event.record_id in shown[event.record_kind.name]
    ]
    assert [(change["kind"], change["recordId"]) for change in read] == expected


SAMPLES = [  # the first two wrote repairs dated after their as-of day, before the sample waited
    (1, dt.date(2026, 12, 7)),
    (2, dt.date(2026, 12, 7)),
    (7, dt.date(2026, 6, 15)),
    (42, dt.date(2026, 9, 30)),
]


@pytest.mark.parametrize(("seed", "as_of"), SAMPLES)
def test_a_replay_of_sample_data_gives_exactly_the_lists(
    run: Run, session: Session, seed: int, as_of: dt.date
) -> None:
    sample.generate(
        session,
        records=500,
        seed=seed,
        as_of=as_of,
        rules=lifecycle.Rules(),
        calendar=workdays.Calendar(),
    )
    session.commit()
    latest = session.execute(sa.select(sa.func.max(col(models.Event.effective_on)))).scalar_one()
    assert latest <= as_of, "the sample wrote an event that has not happened by its as-of day"
    assert_exact_copy(run, session, as_of)
    # days later, before `gongshi lifecycle` has written the EXPIRED and EXITED events of the
    # records whose dates ran out meanwhile, and after it has
    later = as_of + 200 * DAY
    assert_exact_copy(run, session, later)
    lifecycle.run(session, as_of=later)
    session.commit()
    assert_exact_copy(run, session, later)


def test_the_events_of_a_record_never_public_are_not_in_the_stream(
    run: Run, session: Session
) -> None:
    first = factories.add_penalty(session, severity=models.Severity.MINOR)
    public = factories.add_penalty(session)
    second = factories.add_penalty(session, severity=models.Severity.MINOR)
    later = factories.add_penalty(session)
    session.commit()
    assert lifecycle.withheld(first) and lifecycle.withheld(second)
    _, read = replay(run, ON)
    assert [(change["kind"], change["recordId"]) for change in read] == [
        ("PENALTY", public.id),
        ("PENALTY", later.id),
    ]
    # one event a page: the hidden ones neither fill a page nor announce more
    pages, after = [], None
    while True:
        page = _data(run(ONE, {"after": after}))["changes"]
        pages.append(([change["recordId"] for change in page["changes"]], page["hasMore"]))
        if not page["changes"]:
            assert page["endCursor"] == after
            break
        after = page["endCursor"]
    assert pages == [([public.id], True), ([later.id], False), ([], False)]


ONE = """query ($after: String) {
  changes(after: $after, first: 1) { changes { recordId } endCursor hasMore }
}"""


def test_a_repair_dated_after_today_leaves_the_record_in_the_copy_until_its_day(
    run: Run, session: Session
) -> None:
    # a database written before workflows and the sample kept to the day they act on
    penalty = factories.add_penalty(session, decision_on=ON - 200 * DAY)
    session.commit()
    later = factories.ctx(ON + 30 * DAY)
    repair = repairs.apply_for_repair(session, penalty, commitment="承诺", ctx=later)
    repairs.approve_repair(session, repair, later)
    session.commit()
    assert_exact_copy(run, session, ON)
    copy, _ = replay(run, ON)
    assert copy["PENALTY"] == {penalty.id}
    assert_exact_copy(run, session, ON + 30 * DAY)
    copy, _ = replay(run, ON + 30 * DAY)
    assert copy["PENALTY"] == set()


def _objection(session: Session, record: models.Record, on: dt.date) -> models.Objection:
    return objections.open_objection(session, record, grounds="事实表述有误", ctx=factories.ctx(on))


def test_a_replay_after_every_workflow_gives_exactly_the_lists(run: Run, session: Session) -> None:
    old = ON - 200 * DAY  # decisions whose minimum publicity period is over: repairable
    license = factories.add_license(session)
    withdrawn = factories.add_penalty(session)
    repaired = factories.add_penalty(session, decision_on=old)
    refused = factories.add_penalty(session, decision_on=old)
    rejected = factories.add_penalty(session)
    corrected = factories.add_penalty(session)
    upheld = factories.add_penalty(session)
    withheld = factories.add_penalty(session, severity=models.Severity.MINOR)
    entry = factories.add_list_entry(session)
    upheld_entry = factories.add_list_entry(session)
    expiring = factories.add_penalty(
        session,
        decision_on=ON - 80 * DAY,
        severity=models.Severity.MINOR,
        publicity_end_on=ON + 10 * DAY,
    )
    session.commit()
    assert_exact_copy(run, session, ON)
    ctx = factories.ctx(ON)

    def step(on: dt.date = ON) -> None:
        session.commit()
        assert_exact_copy(run, session, on)

    endings.withdraw(
        session, license, kind=models.WithdrawalKind.REVOKED, reason="复议撤销", ctx=ctx
    )
    step()
    endings.withdraw(
        session, withdrawn, kind=models.WithdrawalKind.REVOKED, reason="复议撤销", ctx=ctx
    )
    step()
    endings.exit_list_entry(session, entry, reason=models.EndReason.REVOKED, ctx=ctx)
    step()
    opened = {record.id: _objection(session, record, ON) for record in (rejected, corrected)}
    step()
    objections.resolve_objection(
        session, opened[rejected.id], outcome=models.ObjectionOutcome.REJECTED, ctx=ctx
    )
    step()
    objections.resolve_objection(
        session,
        opened[corrected.id],
        outcome=models.ObjectionOutcome.CORRECTED,
        corrections={"content": "罚款1000元"},
        ctx=ctx,
    )
    step()
    for record in (upheld, upheld_entry):
        objection = _objection(session, record, ON)
        step()
        objections.resolve_objection(
            session,
            objection,
            outcome=models.ObjectionOutcome.WITHDRAWN,
            reason="异议成立",
            ctx=ctx,
        )
        step()
    for record, approve in ((repaired, True), (refused, False)):
        repair = repairs.apply_for_repair(session, record, commitment="承诺", ctx=ctx)
        step()
        if approve:
            repairs.approve_repair(session, repair, ctx)
        else:
            repairs.refuse_repair(session, repair, note="材料不全", ctx=ctx)
        step()
    expired_on = ON + 11 * DAY
    step(expired_on)  # the penalty ran out; `gongshi lifecycle` has not run yet
    assert lifecycle.run(session, as_of=expired_on).expired == 1
    step(expired_on)
    copy, read = replay(run, expired_on)
    assert copy == {
        "LICENSE": set(),
        "PENALTY": {rejected.id, corrected.id, refused.id},
        "LIST_ENTRY": set(),
    }
    seen = {(change["kind"], change["recordId"]) for change in read}
    assert ("PENALTY", withheld.id) not in seen
    assert {("PENALTY", expiring.id), ("LIST_ENTRY", upheld_entry.id)} <= seen
    latest = session.execute(sa.select(sa.func.max(col(models.Event.effective_on)))).scalar_one()
    assert latest <= expired_on
