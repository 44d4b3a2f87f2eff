"""Standing, the measures list and trigger-feedback through the API."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from api.cursors import global_id
from disclosure import (
    endings,
    feedback,
    list_measures,
    measures,
    models,
    objections,
    tokens,
    workdays,
)
from tests import factories
from tests.api.conftest import ON, Run

D = dt.date
STANDING = """query($code: String!, $asOf: Date) {
  subject(creditCode: $code) { standing(asOf: $asOf) {
    measures { code kind mandatory implementingDepartments state triggers { globalId kind url } }
    cleanSince } } }"""
REPORT = """mutation($code: String!, $measure: String!, $on: Date!) {
  reportMeasureApplied(creditCode: $code, measure: $measure, appliedOn: $on, outcome: APPLIED,
                       note: "已限制投标") {
    __typename ... on MeasureReport { measure appliedOn triggers }
    ... on MutationError { code message } } }"""
PENDING = """{ pendingReversals { __typename ... on PendingReversals {
  items { creditCode sinceOn reason dueOn overdue report { measure } } }
  ... on MutationError { code } } }"""


def _blacklisted(session: Session) -> tuple[models.Subject, models.ListEntry]:
    subject = factories.add_subject(session)
    named = factories.add_list(session, code="serious-illegal", measures=[])
    entry = factories.add_list_entry(session, subject_id=subject.id, list_id=named.id)
    return subject, entry


def test_subject_standing_names_its_measures_and_triggers(session: Session, run: Run) -> None:
    subject, entry = _blacklisted(session)
    session.commit()
    assert entry.id is not None
    trigger = {
        "globalId": global_id(models.RecordKind.LIST_ENTRY, entry.id),
        "kind": "LIST_ENTRY",
        "url": f"http://127.0.0.1:8000/records/list-entries/{entry.id}.html",
    }
    found = run(STANDING, {"code": subject.credit_code})
    got = found["data"]["subject"]["standing"]
    expected = [
        {
            "code": m.code,
            "kind": "PUNISHMENT",
            "mandatory": True,
            "implementingDepartments": list(m.departments),
            "state": "APPLIES",
            "triggers": [trigger],
        }
        for m in measures.BUILT_IN.measures
        if m.code in {"CJ-01", "CJ-02", "CJ-03", "CJ-04", "CJ-05"}
    ]
    assert got == {"measures": expected, "cleanSince": None}


def test_standings_answer_in_the_codes_order_and_are_charged_per_code(
    session: Session, run: Run
) -> None:
    subject, _ = _blacklisted(session)
    other = factories.add_subject(session)
    factories.add_license(session, subject_id=other.id)
    session.commit()
    codes = [other.credit_code, "91440802MA00000000", subject.credit_code]
    query = """query($codes: [String!]!) { standings(creditCodes: $codes) {
      creditCode found cleanSince measures { code state } } }"""
    found = run(query, {"codes": codes})
    rows = found["data"]["standings"]
    assert [(r["creditCode"], r["found"], len(r["measures"])) for r in rows] == [
        (other.credit_code, True, 0),
        ("91440802MA00000000", False, 0),
        (subject.credit_code, True, 5),
    ]
    too_many = run(query, {"codes": [f"C{n}" for n in range(2001)]})
    assert "query cost 2001 exceeds the budget" in too_many["errors"][0]
    over = run(query, {"codes": [f"C{n}" for n in range(501)]})
    assert over["errors"] == ["standings: at most 500 credit codes, not 501"]


def test_measures_list_in_force(run: Run) -> None:
    found = run("{ measures { code kind mandatory triggers legalBasis } }")
    listed = found["data"]["measures"]
    assert [m["code"] for m in listed] == [m.code for m in measures.BUILT_IN.measures]
    assert listed[0]["triggers"] == ["列入红名单", "连续3年无不良信用记录"]


def _implementer(session: Session) -> str:
    unit = factories.add_department(session, "赤坎区财政局")
    return tokens.create(session, unit_code=unit.credit_code, role=models.Role.IMPLEMENTER)[1]


def _reports(session: Session) -> list[tuple[str, dt.date]]:
    session.expire_all()
    rows = session.exec(select(models.MeasureReport).order_by(col(models.MeasureReport.id)))
    return [(r.measure_code, r.applied_on) for r in rows]


def test_report_of_an_inapplicable_measure_is_refused_and_changes_nothing(
    session: Session, run: Run
) -> None:
    subject, entry = _blacklisted(session)
    clean = factories.add_subject(session)
    factories.add_license(session, subject_id=clean.id)
    secret = _implementer(session)
    department = tokens.create(
        session,
        unit_code=factories.add_department(session).credit_code,
        role=models.Role.DEPARTMENT,
    )[1]
    session.commit()
    refused = run(
        REPORT, {"code": clean.credit_code, "measure": "CJ-03", "on": str(ON)}, token=secret
    )
    assert refused["data"]["reportMeasureApplied"] == {
        "__typename": "Refused",
        "code": "NOT_APPLICABLE",
        "message": f"措施 CJ-03 于 {ON} 不适用于该主体 / the measure does not apply to this "
        f"subject on {ON}",
    }
    wrong_role = run(
        REPORT, {"code": subject.credit_code, "measure": "CJ-03", "on": str(ON)}, token=department
    )
    assert wrong_role["data"]["reportMeasureApplied"]["code"] == "FORBIDDEN"
    before = run(
        REPORT, {"code": subject.credit_code, "measure": "CJ-03", "on": "2026-05-01"}, token=secret
    )
    assert before["data"]["reportMeasureApplied"]["code"] == "NOT_APPLICABLE"
    assert _reports(session) == []
    objections.open_objection(session, entry, grounds="有误", ctx=factories.ctx(ON))
    session.commit()
    suspended = run(
        REPORT, {"code": subject.credit_code, "measure": "CJ-03", "on": str(ON)}, token=secret
    )
    assert "暂不执行" in suspended["data"]["reportMeasureApplied"]["message"]
    assert _reports(session) == []
    outcomes = [e.outcome for e in session.exec(select(models.AuditEntry)).all()]
    assert outcomes == ["not_applicable", "forbidden", "not_applicable", "not_applicable"]


def test_withdrawal_after_a_report_flags_it_for_reversal(session: Session, run: Run) -> None:
    subject = factories.add_subject(session)
    penalty = factories.add_penalty(
        session, subject_id=subject.id, severity=models.Severity.SERIOUS
    )
    secret = _implementer(session)
    session.commit()
    assert penalty.id is not None
    done = run(
        REPORT, {"code": subject.credit_code, "measure": "CJ-06", "on": str(ON)}, token=secret
    )
    assert done["data"]["reportMeasureApplied"] == {
        "__typename": "MeasureReport",
        "measure": "CJ-06",
        "appliedOn": str(ON),
        "triggers": [f"penalty:{penalty.id}"],
    }
    assert run(PENDING, token=secret)["data"]["pendingReversals"] == {
        "__typename": "PendingReversals",
        "items": [],
    }
    withdrawn_on = D(2026, 6, 10)
    endings.withdraw(
        session,
        penalty,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议决定撤销",
        ctx=factories.ctx(withdrawn_on),
    )
    session.commit()
    due = workdays.add_working_days(
        withdrawn_on, feedback.REVERSAL_WORKING_DAYS, workdays.Calendar()
    )
    item = {
        "creditCode": subject.credit_code,
        "sinceOn": str(withdrawn_on),
        "reason": "WITHDRAWN",
        "dueOn": str(due),
        "overdue": False,
        "report": {"measure": "CJ-06"},
    }
    assert run(PENDING, token=secret, on=withdrawn_on)["data"]["pendingReversals"]["items"] == [
        item
    ]
    late = run(PENDING, token=secret, on=due + dt.timedelta(days=1))
    assert late["data"]["pendingReversals"]["items"] == [item | {"overdue": True}]
    undo = """mutation($id: Int!, $on: Date!) { reportMeasureReversed(report: $id, reversedOn: $on,
      note: "已恢复投标资格") { __typename ... on MutationError { code } } }"""
    report_id = session.exec(select(models.MeasureReport.id)).one()
    on_late = due + dt.timedelta(days=2)
    undone = run(undo, {"id": report_id, "on": str(on_late)}, token=secret, on=on_late)
    assert undone["data"]["reportMeasureReversed"] == {"__typename": "MeasureReport"}
    again = run(undo, {"id": report_id, "on": str(on_late)}, token=secret, on=on_late)
    assert again["data"]["reportMeasureReversed"] == {
        "__typename": "Refused",
        "code": "WRONG_STATE",
    }
    assert run(PENDING, token=secret, on=on_late)["data"]["pendingReversals"]["items"] == []
    late_done = feedback.reversals(session, workdays.Calendar(), on=on_late, pending_only=False)
    assert [r.overdue(on_late) for r in late_done] == [True]  # undone, but after its deadline
    assert run(PENDING)["data"]["pendingReversals"] == {
        "__typename": "Unauthenticated",
        "code": "UNAUTHENTICATED",
    }


def test_stats_feedback_agrees_with_the_monthly_figures(session: Session, run: Run) -> None:
    subject = factories.add_subject(session)
    factories.add_penalty(session, subject_id=subject.id, severity=models.Severity.SERIOUS)
    _blacklisted(session)
    secret = _implementer(session)
    session.commit()
    run(REPORT, {"code": subject.credit_code, "measure": "CJ-06", "on": str(ON)}, token=secret)
    query = """{ stats { feedback(month: "2026-06") { measure department triggered applied
      notReported reversed overdueReversals } } }"""
    rows = run(query, on=D(2026, 7, 1))["data"]["stats"]["feedback"]
    figures = feedback.monthly(
        session,
        "2026-06",
        today=D(2026, 7, 1),
        catalogue=list_measures.catalogue(session),
        calendar=workdays.Calendar(),
    )
    assert rows == [
        {
            "measure": r.measure_code,
            "department": r.department,
            "triggered": r.triggered,
            "applied": r.applied,
            "notReported": r.not_reported,
            "reversed": r.reversed,
            "overdueReversals": r.overdue_reversals,
        }
        for r in figures
    ]
    cj06 = {(r["department"]): r for r in rows if r["measure"] == "CJ-06"}
    assert cj06["赤坎区市场监督管理局"]["triggered"] == 1
    # a department outside the measure's own reports it too: a row of its own
    assert [(r["measure"], r["department"]) for r in rows if r["applied"]] == [
        ("CJ-06", "赤坎区财政局")
    ]
