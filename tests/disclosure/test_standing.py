"""Standing: which measures apply to a subject on a day, with dates, and the query equal to the
rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from disclosure import endings, list_measures, measures, models, objections, standing
from tests import factories

D = dt.date
ON = D(2026, 6, 1)


def both(session: Session, subject_id: int, on: dt.date) -> standing.Standing:
    """The standing by the rule, after checking the query gives the same."""
    catalogue = list_measures.catalogue(session)
    by_rule = standing.compute(standing.history(session, subject_id), on, catalogue)
    assert standing.standings(session, [subject_id], on=on, catalogue=catalogue) == {
        subject_id: by_rule
    }
    return by_rule


def codes(found: standing.Standing) -> dict[str, standing.State]:
    return {applied.measure.code: applied.state for applied in found.measures}


def test_black_list_entry_gives_its_punishments_until_the_day_after_its_exit(
    session: Session,
) -> None:
    subject = factories.add_subject(session)
    named = factories.add_list(session, code="serious-illegal")
    entry = factories.add_list_entry(
        session, subject_id=subject.id, list_id=named.id, valid_until_on=D(2026, 12, 31)
    )
    assert subject.id is not None and entry.id is not None
    found = both(session, subject.id, D(2026, 12, 31))
    mandatory = {m.code for m in measures.BUILT_IN.measures if m.mandatory}
    punishments = {"CJ-01", "CJ-02", "CJ-03", "CJ-04", "CJ-05"}
    list_measure = list_measures.list_measure_code("serious-illegal", named.measures[0].id or 0)
    assert codes(found) == dict.fromkeys({*punishments, list_measure}, standing.State.APPLIES)
    assert punishments <= mandatory
    trigger = standing.TriggerRef(models.RecordKind.LIST_ENTRY, entry.id)
    assert {applied.triggers for applied in found.measures} == {(trigger,)}
    assert found.clean_since is None
    after = both(session, subject.id, D(2027, 1, 1))
    assert after.measures == ()
    assert after.clean_since == D(2027, 1, 1)


def test_objection_suspends_punishments_at_once_and_rejection_restores_them(
    session: Session,
) -> None:
    subject = factories.add_subject(session)
    entry = factories.add_list_entry(session, subject_id=subject.id)
    assert subject.id is not None
    assert set(codes(both(session, subject.id, ON)).values()) == {standing.State.APPLIES}
    objection = objections.open_objection(
        session, entry, grounds="认定有误", ctx=factories.ctx(D(2026, 6, 3))
    )
    assert set(codes(both(session, subject.id, D(2026, 6, 2))).values()) == {standing.State.APPLIES}
    assert set(codes(both(session, subject.id, D(2026, 6, 3))).values()) == {
        standing.State.SUSPENDED
    }
    objections.resolve_objection(
        session,
        objection,
        outcome=models.ObjectionOutcome.REJECTED,
        ctx=factories.ctx(D(2026, 6, 10)),
    )
    assert set(codes(both(session, subject.id, D(2026, 6, 9))).values()) == {
        standing.State.SUSPENDED
    }
    assert set(codes(both(session, subject.id, D(2026, 6, 10))).values()) == {
        standing.State.APPLIES
    }


def test_red_list_entry_gives_its_incentives(session: Session) -> None:
    subject = factories.add_subject(session)
    named = factories.add_list(session, models.ListKind.RED, measures=[])
    factories.add_list_entry(session, subject_id=subject.id, list_id=named.id)
    assert subject.id is not None
    found = both(session, subject.id, ON)
    assert codes(found) == dict.fromkeys(["JL-01", "JL-02", "JL-03", "JL-04"], "APPLIES")
    assert {a.measure.kind for a in found.measures} == {measures.MeasureKind.INCENTIVE}


def test_clean_record_incentives_three_years_and_one_day_after_the_last_general_penalty(
    session: Session,
) -> None:
    subject = factories.add_subject(session)
    assert subject.id is not None
    decided = D(2022, 3, 10)
    factories.add_license(
        session, on=D(2020, 1, 10), subject_id=subject.id, published_on=D(2020, 1, 10)
    )
    penalty = factories.add_penalty(
        session,
        on=D(2022, 3, 12),
        subject_id=subject.id,
        decision_on=decided,
        published_on=D(2022, 3, 12),
    )
    ended = (penalty.publicity_end_on or decided) + dt.timedelta(days=1)
    assert ended == D(2023, 3, 11)
    clean = {"JL-01", "JL-02", "JL-04"}
    day_before = both(session, subject.id, D(2026, 3, 11))
    assert day_before.clean_since == ended
    assert codes(day_before) == {}
    found = both(session, subject.id, D(2026, 3, 12))
    assert codes(found) == dict.fromkeys(clean, "APPLIES")
    assert {a.triggers for a in found.measures} == {()}
    while_public = both(session, subject.id, D(2022, 6, 1))
    assert while_public.clean_since is None and codes(while_public) == {}


def test_a_subject_on_record_for_less_than_three_years_gets_no_clean_record(
    session: Session,
) -> None:
    subject = factories.add_subject(session)
    assert subject.id is not None
    factories.add_license(
        session,
        on=D(2023, 6, 1),
        subject_id=subject.id,
        decision_on=D(2023, 5, 29),
        published_on=D(2023, 6, 1),
    )
    assert codes(both(session, subject.id, D(2026, 5, 29))) == {}
    found = both(session, subject.id, D(2026, 5, 30))
    assert found.known_since == D(2023, 5, 29) and found.clean_since is None
    assert codes(found) == dict.fromkeys({"JL-01", "JL-02", "JL-04"}, "APPLIES")


def test_repaired_withdrawn_penalties_trigger_nothing(session: Session) -> None:
    subject = factories.add_subject(session)
    assert subject.id is not None
    serious: dict[str, Any] = {"severity": models.Severity.SERIOUS, "subject_id": subject.id}
    kept = factories.add_penalty(session, **serious)
    withdrawn = factories.add_penalty(session, **serious)
    assert codes(both(session, subject.id, ON)) == {"CJ-06": "APPLIES"}
    assert both(session, subject.id, ON).measures[0].triggers == tuple(
        sorted(standing.TriggerRef(models.RecordKind.PENALTY, p.id or 0) for p in (kept, withdrawn))
    )
    endings.withdraw(
        session,
        withdrawn,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议撤销",
        ctx=factories.ctx(D(2026, 6, 5)),
    )
    kept.ended_on, kept.end_reason = D(2026, 6, 5), models.EndReason.REPAIRED
    session.add(kept)
    session.flush()
    found = both(session, subject.id, D(2026, 6, 5))
    assert codes(found) == {}
    assert found.clean_since == D(2026, 6, 5)  # the repaired one counts, the withdrawn one not


# --- the query equals the rule ---

# a few days years apart, each give or take a few days: boundaries meet often
ANCHORS = [D(2020, 1, 1), D(2022, 1, 3), D(2023, 1, 1), D(2025, 1, 1), D(2026, 1, 1)]
dates = st.builds(
    lambda anchor, days: anchor + dt.timedelta(days=days),
    st.sampled_from(ANCHORS),
    st.integers(-3, 3),
)
maybe = st.none() | dates


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(models.RecordKind)))
    published = draw(dates)
    fields: dict[str, Any] = {
        "kind": kind,
        "decision_on": published - dt.timedelta(days=draw(st.integers(0, 5))),
        "published_on": published,
        "ended_on": draw(maybe),
        "end_reason": draw(st.sampled_from(list(models.EndReason))),
        "objection": draw(st.none() | st.tuples(dates, maybe)),
        "subject": draw(st.integers(0, 2)),
    }
    if kind is models.RecordKind.PENALTY:
        fields["publicity_end_on"] = draw(maybe)
        fields["severity"] = draw(st.sampled_from(list(models.Severity)))
        fields["violation_type"] = draw(
            st.sampled_from(["销售过期食品", "超标排污", "其他", "Safety"])
        )
    if kind is models.RecordKind.LIST_ENTRY:
        fields["valid_until_on"] = draw(maybe)
        fields["list"] = draw(st.integers(0, 3))
    own_end = fields.get("publicity_end_on") or fields.get("valid_until_on")
    if own_end is not None and draw(st.booleans()):
        fields["ended_on"] = own_end + dt.timedelta(days=draw(st.integers(-1, 1)))
    return fields


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=st.lists(records(), min_size=5, max_size=30), on=dates)
def test_query_equals_the_rule(
    engine: sa.Engine, generated: list[dict[str, Any]], on: dt.date
) -> None:
    with Session(engine) as session:
        unit = factories.add_department(session)
        subjects = [factories.add_subject(session).id for _ in range(3)]
        lists = [
            factories.add_list(session, kind, measures=[])
            for kind in (*models.ListKind, models.ListKind.BLACK)
        ]
        catalogue = list_measures.catalogue(
            session,
            measures.BUILT_IN.extended(
                [
                    measures.Measure(
                        "X-1",
                        "限制",
                        measures.MeasureKind.PUNISHMENT,
                        True,
                        "依据",
                        ("某局",),
                        (
                            measures.Trigger(
                                measures.TriggerKind.LIST, list_codes=(lists[3].code,)
                            ),
                            measures.Trigger(
                                measures.TriggerKind.PENALTY,
                                severities=(models.Severity.MINOR, models.Severity.GENERAL),
                                keywords=("safety",),
                            ),
                        ),
                        effective_on=D(2022, 1, 1),
                    ),
                    measures.Measure(
                        "X-2",
                        "便利",
                        measures.MeasureKind.INCENTIVE,
                        False,
                        "依据",
                        ("某局",),
                        (measures.Trigger(measures.TriggerKind.CLEAN_RECORD, years=1),),
                        until_on=D(2026, 1, 1),
                    ),
                ]
            ),
        )
        for number, fields in enumerate(generated):
            kind = fields["kind"]
            record = _record(kind, number, fields, unit.id, subjects, lists)
            session.add(record)
            session.flush()
            assert record.id is not None
            if fields["objection"] is not None:
                opened, closed = fields["objection"]
                session.add(
                    models.Objection(
                        record_kind=kind,
                        record_id=record.id,
                        grounds="g",
                        opened_on=opened,
                        due_on=opened,
                        opened_by="t",
                        closed_on=closed,
                    )
                )
        session.flush()
        ids = [s for s in subjects if s is not None]
        by_query = standing.standings(session, ids, on=on, catalogue=catalogue)
        by_rule = {s: standing.compute(standing.history(session, s), on, catalogue) for s in ids}
        assert by_query == by_rule
        session.rollback()


def _record(
    kind: models.RecordKind,
    number: int,
    fields: dict[str, Any],
    unit: Any,
    subjects: list[Any],
    lists: list[models.List],
) -> models.Record:
    common: dict[str, Any] = {
        "subject_id": subjects[fields["subject"]],
        "authority_id": unit,
        "source_unit_id": unit,
        "decision_doc_no": f"doc-{number}",
        "decision_on": fields["decision_on"],
        "published_on": fields["published_on"],
        "ended_on": fields["ended_on"],
        "end_reason": fields["end_reason"] if fields["ended_on"] else None,
    }
    if kind is models.RecordKind.LICENSE:
        return models.License(
            **common,
            decision_doc_name="决定书",
            category=models.LicenseCategory.OTHER,
            content="许可",
            valid_from_on=fields["decision_on"],
        )
    if kind is models.RecordKind.PENALTY:
        return models.Penalty(
            **common,
            violation_type=fields["violation_type"],
            violation_facts="事实",
            legal_basis="《食品安全法》" if number % 3 == 0 else "依据",
            categories="警告",
            content="警告",
            severity=fields["severity"],
            publicity_end_on=fields["publicity_end_on"],
        )
    return models.ListEntry(
        **common,
        reason="列入",
        list_id=lists[fields["list"]].id,
        valid_until_on=fields["valid_until_on"],
    )
