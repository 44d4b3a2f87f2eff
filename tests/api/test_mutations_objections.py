"""Objections, repairs and exits through the API: who opens, who decides, what becomes of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import Session

from api.cursors import global_id
from disclosure import models
from tests import factories
from tests.api import grants
from tests.api.conftest import ON, Run
from tests.api.documents import KEYS, SUBMIT, WITHDRAW, rows
from tests.factories import TAX
from tests.template_rows import doc, penalty_cells


@pytest.fixture
def secrets(session: Session) -> grants.Tokens:
    return grants.make_tokens(session)


RESOLVE = """mutation($objection: Int!, $outcome: ObjectionOutcome!, $columns: [String!],
                  $row: [String!]) {
  resolveObjection(objectionId: $objection, outcome: $outcome, columns: $columns, row: $row) {
    __typename
    ... on Objection { closedOn outcome }
    ... on MutationError { code }
    ... on RowRejected { column header rule }
  }
}"""


def test_objections_are_opened_by_the_operator_and_resolved_by_the_department(
    run: Run, session: Session, secrets: grants.Tokens
) -> None:
    penalty = factories.add_penalty(session)
    session.commit()
    gid = global_id(models.RecordKind.PENALTY, penalty.id or 0)
    opening = {"id": gid, "grounds": "处罚对象认定错误"}
    wrong = [
        run(grants.OPEN, opening, token=token)["data"]["openObjection"]["code"]
        for token in (secrets.market, secrets.tax, None)
    ]
    assert wrong == ["FORBIDDEN", "FORBIDDEN", "UNAUTHENTICATED"]
    assert run(grants.OPEN, opening | {"grounds": " "}, token=secrets.operator)["data"][
        "openObjection"
    ] == {
        "__typename": "Refused",
        "code": "INVALID",
    }
    opened = run(grants.OPEN, opening, token=secrets.operator)
    assert opened == {
        "data": {
            "openObjection": {
                "__typename": "Objection",
                "recordId": gid,
                "openedOn": "2026-06-01",
                "dueOn": "2026-06-10",  # 7 working days
                "closedOn": None,
                "outcome": None,
            }
        }
    }
    annotated = run("{ penalties { edges { node { underObjection objectionOpenedOn } } } }")
    assert annotated["data"]["penalties"]["edges"] == [
        {"node": {"underObjection": True, "objectionOpenedOn": "2026-06-01"}}
    ]
    (first,) = grants.objection_ids(session)
    resolving = {"objection": first, "outcome": "REJECTED"}
    wrong = [
        run(RESOLVE, resolving, token=token)["data"]["resolveObjection"]["code"]
        for token in (secrets.operator, secrets.tax, secrets.market_operator)
    ]
    assert wrong == ["FORBIDDEN", "FORBIDDEN", "FORBIDDEN"]
    missing = run(RESOLVE, resolving | {"objection": 999}, token=secrets.market)
    assert missing["data"]["resolveObjection"]["code"] == "NOT_FOUND"
    rejected = run(RESOLVE, resolving, token=secrets.market)
    assert rejected == {
        "data": {
            "resolveObjection": {
                "__typename": "Objection",
                "closedOn": "2026-06-01",
                "outcome": "REJECTED",
            }
        }
    }
    again = run(RESOLVE, resolving, token=secrets.market)
    assert again["data"]["resolveObjection"]["code"] == "WRONG_STATE"

    assert [entry[1:] for entry in grants.audit_trail(session)] == [
        ("openObjection", [f"penalty:{penalty.id}"], "forbidden"),
        ("openObjection", [f"penalty:{penalty.id}"], "forbidden"),
        ("openObjection", [], "unauthenticated"),
        ("openObjection", [f"penalty:{penalty.id}"], "invalid"),
        ("openObjection", [f"penalty:{penalty.id}"], "ok"),
        *[("resolveObjection", [f"penalty:{penalty.id}"], "forbidden")] * 3,
        ("resolveObjection", [], "not_found"),
        ("resolveObjection", [f"penalty:{penalty.id}"], "ok"),
        ("resolveObjection", [f"penalty:{penalty.id}"], "wrong_state"),
    ]


def test_an_upheld_objection_corrects_the_record_with_a_checked_template_row(
    run: Run, session: Session, secrets: grants.Tokens
) -> None:
    submitted = run(SUBMIT, rows(penalty_cells(decision_doc_no=doc(1))), token=secrets.market)
    gid = submitted["data"]["submitPenalties"]["rows"][0]["id"]
    record = f"penalty:{grants.penalty_id(session, doc(1))}"
    run(grants.OPEN, {"id": gid, "grounds": "罚款金额有误"}, token=secrets.operator)
    (objection,) = grants.objection_ids(session)
    tax = factories.add_department(session, TAX)
    session.commit()
    correcting = {"objection": objection, "outcome": "CORRECTED"}

    def corrected(**overrides: str) -> dict[str, Any]:
        cells = penalty_cells(decision_doc_no=doc(1)) | overrides
        return rows(cells) | {"row": [cells.get(key, "") for key in KEYS], "rows": None}

    fixed = {"penalty_content": "罚款1000元", "fine_amount_wan": "0.1"}
    before = (grants.events(session), run(PUBLIC))
    wrong = {
        "bad date": corrected(**fixed, decision_date="soon"),
        "future": corrected(**fixed, decision_date="2099/01/01"),
        "fine required": corrected(penalty_content="罚款1000元", fine_amount_wan=""),
        "another key": corrected(**fixed, decision_doc_no=doc(2)),
        "unknown column": {"columns": ["nonsense"], "row": ["x"]},
        "no change": corrected(),
    }
    answers = {
        name: run(RESOLVE, correcting | variables, token=secrets.market)["data"]["resolveObjection"]
        for name, variables in wrong.items()
    }
    rejected = {"__typename": "RowRejected", "code": "INVALID_ROW"}
    assert answers == {
        "bad date": rejected
        | {"column": "decision_date", "header": "处罚决定日期", "rule": "date"},
        "future": rejected
        | {"column": "decision_date", "header": "处罚决定日期", "rule": "decision_on"},
        "fine required": rejected
        | {"column": "fine_amount_wan", "header": "罚款金额（万元）", "rule": "required"},
        "another key": rejected
        | {"column": "decision_doc_no", "header": "行政处罚决定书文号", "rule": "natural_key"},
        "unknown column": {"__typename": "Refused", "code": "INVALID"},
        "no change": {"__typename": "Refused", "code": "INVALID"},
    }
    other_unit = corrected(**fixed, source_unit=TAX, source_unit_uscc=tax.credit_code)
    other_unit["columns"] = [*KEYS, "source_unit", "source_unit_uscc"]
    other_unit["row"] = [*other_unit["row"], TAX, tax.credit_code]
    moved = run(RESOLVE, correcting | other_unit, token=secrets.market)
    assert moved["data"]["resolveObjection"] == {"__typename": "Forbidden", "code": "FORBIDDEN"}
    without = run(RESOLVE, correcting, token=secrets.market)["data"]["resolveObjection"]
    assert without == {"__typename": "Refused", "code": "INVALID"}
    assert (grants.events(session), run(PUBLIC)) == before  # still under objection, as it was

    done = run(RESOLVE, correcting | corrected(**fixed), token=secrets.market)
    assert done["data"]["resolveObjection"] == {
        "__typename": "Objection",
        "closedOn": "2026-06-01",
        "outcome": "CORRECTED",
    }
    assert run(PUBLIC)["data"] == {
        "penalties": {
            "edges": [
                {
                    "node": {
                        "content": "罚款1000元",
                        "fineAmountWan": "0.1",
                        "underObjection": False,
                    }
                }
            ]
        }
    }
    assert [event[2] for event in grants.events(session)] == [
        "PUBLISHED",
        "OBJECTION_OPENED",
        "OBJECTION_CLOSED",
        "CORRECTED",
    ]
    assert [entry[1:] for entry in grants.audit_trail(session)] == [
        ("submit penalty", [record], "ok"),
        ("openObjection", [record], "ok"),
        *[("resolveObjection", [record], "invalid_row")] * 4,
        *[("resolveObjection", [record], "invalid")] * 2,
        ("resolveObjection", [record], "forbidden"),
        ("resolveObjection", [record], "invalid"),
        ("resolveObjection", [record], "ok"),
    ]


PUBLIC = "{ penalties { edges { node { content fineAmountWan underObjection } } } }"


def test_an_upheld_objection_may_correct_only_the_subject_named_in_the_row(
    run: Run, session: Session, secrets: grants.Tokens
) -> None:
    submitted = run(SUBMIT, rows(penalty_cells(decision_doc_no=doc(1))), token=secrets.market)
    gid = submitted["data"]["submitPenalties"]["rows"][0]["id"]
    run(grants.OPEN, {"id": gid, "grounds": "企业名称有误"}, token=secrets.operator)
    (objection,) = grants.objection_ids(session)
    cells = penalty_cells(decision_doc_no=doc(1), subject_name="湛江市赤坎区鸿达食品贸易有限公司")
    resolving = {"objection": objection, "outcome": "CORRECTED", "columns": KEYS}
    done = run(
        RESOLVE, resolving | {"row": [cells.get(key, "") for key in KEYS]}, token=secrets.market
    )
    assert done["data"]["resolveObjection"]["outcome"] == "CORRECTED"
    named = run("{ penalties { edges { node { underObjection partyName subject { name } } } } }")
    corrected = "湛江市赤坎区鸿达食品贸易有限公司"
    assert named["data"]["penalties"]["edges"] == [
        {"node": {"underObjection": False, "partyName": corrected, "subject": {"name": corrected}}}
    ]
    assert [event[2] for event in grants.events(session)] == [
        "PUBLISHED",
        "OBJECTION_OPENED",
        "OBJECTION_CLOSED",
        "CORRECTED",  # of this record alone: its party's name, as any field of it
    ]


def test_corrections_past_their_column_are_refused_and_change_nothing(
    run: Run, session: Session, secrets: grants.Tokens
) -> None:
    penalty = factories.add_penalty(session)
    session.commit()
    gid = global_id(models.RecordKind.PENALTY, penalty.id or 0)
    corrections = [
        ("fineAmountWan", "1" * 30),  # no BIGINT holds it in 分
        ("fineAmountWan", "NaN"),
        ("fineAmountWan", "0.0000001"),
        ("decisionDocNo", "赤" * 201),  # VARCHAR(200)
        ("subjectId", str(2**40)),  # INTEGER
        ("id", "2"),  # set by the workflows alone
        ("decisionOn", "9999-12-31"),  # its publicity window would end past the calendar
        ("decisionOn", "0001-01-01"),
        ("publicityEndOn", "9999-12-31"),
    ]
    codes = []
    for field, value in corrections:
        run(grants.OPEN, {"id": gid, "grounds": "更正"}, token=secrets.operator)
        correcting = {
            "objection": grants.objection_ids(session)[-1],
            "outcome": "CORRECTED",
            "corrections": [{"field": field, "value": value}],
        }
        answer = run(RESOLVE, correcting, token=secrets.market)["data"]["resolveObjection"]
        codes.append((field, answer["code"]))
    assert codes == [(field, "INVALID") for field, _ in corrections]
    shown = run("{ penalties { edges { node { fineAmountWan decisionDocNo } } } }")["data"]
    assert shown == {
        "penalties": {
            "edges": [{"node": {"fineAmountWan": "0.2", "decisionDocNo": penalty.decision_doc_no}}]
        }
    }


APPLY = """mutation($id: ID!) {
  applyForRepair(id: $id, commitment: "本公司承诺依法经营") {
    __typename
    ... on Repair { id recordId appliedOn dueOn status decidedOn }
    ... on MutationError { code }
  }
}"""


APPROVE = """mutation($repair: Int!) {
  approveRepair(repairId: $repair) {
    __typename ... on Repair { status decidedOn } ... on MutationError { code }
  }
}"""


REFUSE = """mutation($repair: Int!, $note: String!) {
  refuseRepair(repairId: $repair, note: $note) {
    __typename ... on Repair { status decidedOn } ... on MutationError { code }
  }
}"""


def test_repairs_are_recorded_by_the_operator_and_decided_by_the_department(
    run: Run, session: Session, secrets: grants.Tokens
) -> None:
    old = factories.add_penalty(session, decision_on=ON - dt.timedelta(days=200))
    other = factories.add_penalty(session, decision_on=ON - dt.timedelta(days=150))
    fresh = factories.add_penalty(session)
    session.commit()
    old_id, other_id, fresh_id = (
        global_id(models.RecordKind.PENALTY, p.id or 0) for p in (old, other, fresh)
    )
    wrong = [
        run(APPLY, {"id": old_id}, token=token)["data"]["applyForRepair"]["code"]
        for token in (secrets.market, secrets.tax, None)
    ]
    assert wrong == ["FORBIDDEN", "FORBIDDEN", "UNAUTHENTICATED"]
    early = run(APPLY, {"id": fresh_id}, token=secrets.operator)
    assert early["data"]["applyForRepair"] == {"__typename": "Refused", "code": "TOO_EARLY"}
    applied = run(APPLY, {"id": old_id}, token=secrets.operator)["data"]["applyForRepair"]
    assert applied == {
        "__typename": "Repair",
        "id": applied["id"],
        "recordId": old_id,
        "appliedOn": "2026-06-01",
        "dueOn": "2026-06-04",  # 3 working days
        "status": "APPLIED",
        "decidedOn": None,
    }
    twice = run(APPLY, {"id": old_id}, token=secrets.operator)
    assert twice["data"]["applyForRepair"]["code"] == "WRONG_STATE"
    repair = {"repair": applied["id"]}
    wrong = [
        run(APPROVE, repair, token=token)["data"]["approveRepair"]["code"]
        for token in (secrets.operator, secrets.tax, secrets.market_operator)
    ]
    assert wrong == ["FORBIDDEN", "FORBIDDEN", "FORBIDDEN"]
    assert run(APPROVE, {"repair": 999}, token=secrets.market)["data"]["approveRepair"]["code"] == (
        "NOT_FOUND"
    )
    approved = run(APPROVE, repair, token=secrets.market)
    assert approved == {
        "data": {
            "approveRepair": {
                "__typename": "Repair",
                "status": "APPROVED",
                "decidedOn": "2026-06-01",
            }
        }
    }
    assert (
        run(APPROVE, repair, token=secrets.market)["data"]["approveRepair"]["code"] == "WRONG_STATE"
    )
    ids = run("{ penalties { edges { node { id } } } }")["data"]["penalties"]["edges"]
    assert sorted(edge["node"]["id"] for edge in ids) == sorted([other.id or 0, fresh.id or 0])

    second = run(APPLY, {"id": other_id}, token=secrets.operator)["data"]["applyForRepair"]["id"]
    refusing = {"repair": second, "note": "未完成整改"}
    assert run(REFUSE, refusing, token=secrets.tax)["data"]["refuseRepair"]["code"] == "FORBIDDEN"
    blank = run(REFUSE, refusing | {"note": ""}, token=secrets.market)
    assert blank["data"]["refuseRepair"]["code"] == "INVALID"
    refused = run(REFUSE, refusing, token=secrets.market)
    assert refused == {
        "data": {
            "refuseRepair": {"__typename": "Repair", "status": "REFUSED", "decidedOn": "2026-06-01"}
        }
    }


EXIT = """mutation($id: ID!) {
  exitListEntry(id: $id, reason: REVOKED) {
    __typename ... on RecordEnded { endedOn reason } ... on MutationError { code }
  }
}"""


def test_exit_list_entry(run: Run, session: Session, secrets: grants.Tokens) -> None:
    entry = factories.add_list_entry(session)
    penalty = factories.add_penalty(session)
    session.commit()
    gid = global_id(models.RecordKind.LIST_ENTRY, entry.id or 0)
    wrong = [
        run(EXIT, {"id": gid}, token=token)["data"]["exitListEntry"]["code"]
        for token in (secrets.tax, secrets.operator, None)
    ]
    assert wrong == ["FORBIDDEN", "FORBIDDEN", "UNAUTHENTICATED"]
    not_an_entry = run(
        EXIT, {"id": global_id(models.RecordKind.PENALTY, penalty.id or 0)}, token=secrets.market
    )
    assert not_an_entry["data"]["exitListEntry"]["code"] == "INVALID"
    assert run(EXIT, {"id": "nonsense"}, token=secrets.market)["data"]["exitListEntry"]["code"] == (
        "NOT_FOUND"
    )
    exited = run(EXIT, {"id": gid}, token=secrets.market)
    assert exited == {
        "data": {
            "exitListEntry": {
                "__typename": "RecordEnded",
                "endedOn": "2026-06-01",
                "reason": "REVOKED",
            }
        }
    }
    assert run("{ listEntries { totalCount } }") == {"data": {"listEntries": {"totalCount": 0}}}


def test_overdue_objections_repairs_and_late_withdrawals_are_in_stats(
    run: Run, session: Session, secrets: grants.Tokens
) -> None:
    objected = factories.add_penalty(session)
    repairable = factories.add_penalty(session, decision_on=ON - dt.timedelta(days=200))
    late = factories.add_penalty(session)
    session.commit()

    def gid(record: models.Penalty) -> str:
        return global_id(models.RecordKind.PENALTY, record.id or 0)

    run(grants.OPEN, {"id": gid(objected), "grounds": "金额有误"}, token=secrets.operator)
    run(APPLY, {"id": gid(repairable)}, token=secrets.operator)
    run(
        WITHDRAW,
        {"id": gid(late), "reason": "决定已撤销", "changed": "2026-05-20"},
        token=secrets.market,
    )
    query = "{ stats { overdue { objections repairs lateWithdrawals } } }"
    assert run(query) == {
        "data": {"stats": {"overdue": {"objections": 0, "repairs": 0, "lateWithdrawals": 1}}}
    }
    later = run(query, on=ON + dt.timedelta(days=30))
    assert later == {
        "data": {"stats": {"overdue": {"objections": 1, "repairs": 1, "lateWithdrawals": 1}}}
    }
