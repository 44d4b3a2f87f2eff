"""Writes through the API: each mutation's success, and each way it is refused and audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.types import global_id
from disclosure import models, template, tokens
from tests import factories
from tests.api.conftest import ON, Run
from tests.disclosure.test_validation import penalty_cells

MARKET = "赤坎区市场监督管理局"  # the factories' department
TAX = "赤坎区税务局"
OPERATOR = "赤坎区发展和改革局"
KEYS = [
    column.key
    for column in template.PENALTY
    if column.key not in {"source_unit", "source_unit_uscc"}
]


@dataclasses.dataclass
class Tokens:
    market: str
    tax: str
    operator: str
    market_operator: str  # an operator token of a department: still no edits
    market_unit: int


@pytest.fixture
def secrets(session: Session) -> Tokens:
    market = factories.add_department(session, MARKET)
    tax = factories.add_department(session, TAX)
    operator = factories.add_department(session, OPERATOR)
    found = Tokens(
        market=tokens.create(session, unit_code=market.credit_code, role=models.Role.DEPARTMENT)[1],
        tax=tokens.create(session, unit_code=tax.credit_code, role=models.Role.DEPARTMENT)[1],
        operator=tokens.create(session, unit_code=operator.credit_code, role=models.Role.OPERATOR)[
            1
        ],
        market_operator=tokens.create(
            session, unit_code=market.credit_code, role=models.Role.OPERATOR
        )[1],
        market_unit=market.id or 0,
    )
    session.commit()
    return found


def audit_trail(session: Session) -> list[tuple[str | None, str, list[str], str]]:
    """The audit entries as (unit, operation, records, outcome), oldest first."""
    session.expire_all()
    rows = session.exec(select(models.AuditEntry).order_by(col(models.AuditEntry.id))).all()
    names = {unit.id: unit.name for unit in session.exec(select(models.Department))}
    return [
        (names.get(row.unit_id) if row.unit_id else None, row.operation, row.records, row.outcome)
        for row in rows
    ]


def events(session: Session) -> list[tuple[str, int, str]]:
    rows = session.exec(select(models.Event).order_by(col(models.Event.id))).all()
    return [(row.record_kind.value, row.record_id, row.type.value) for row in rows]


SUBMIT = """mutation($columns: [String!]!, $rows: [[String!]!]!) {
  submitPenalties(columns: $columns, rows: $rows) {
    __typename
    ... on SubmitReport { accepted corrected unchanged rejected
                          rows { row outcome id column rule reason } }
    ... on MutationError { code message }
  }
}"""


def rows(*cells: dict[str, str]) -> dict[str, Any]:
    return {"columns": KEYS, "rows": [[row.get(key, "") for key in KEYS] for row in cells]}


def doc(n: int) -> str:
    return f"赤市监罚〔2026〕{n}号"


def penalty_id(session: Session, number: str) -> int:
    found = session.exec(
        select(models.Penalty).where(col(models.Penalty.decision_doc_no) == number)
    ).one()
    assert found.id is not None
    return found.id


def test_submit_penalties_reports_each_row(run: Run, session: Session, secrets: Tokens) -> None:
    first = run(SUBMIT, rows(penalty_cells(decision_doc_no=doc(1))), token=secrets.market)
    new_id = penalty_id(session, doc(1))
    assert first == {
        "data": {
            "submitPenalties": {
                "__typename": "SubmitReport",
                "accepted": 1,
                "corrected": 0,
                "unchanged": 0,
                "rejected": 0,
                "rows": [
                    {
                        "row": 1,
                        "outcome": "ACCEPTED",
                        "id": global_id(models.RecordKind.PENALTY, new_id),
                        "column": None,
                        "rule": None,
                        "reason": None,
                    }
                ],
            }
        }
    }
    second = run(
        SUBMIT,
        rows(
            penalty_cells(decision_doc_no=doc(1), penalty_content="罚款3000元"),
            penalty_cells(decision_doc_no=doc(2), decision_date="2099/01/01"),
            penalty_cells(decision_doc_no=doc(3)),
        ),
        token=secrets.market,
    )
    report = second["data"]["submitPenalties"]
    assert [(r["row"], r["outcome"], r["column"], r["rule"]) for r in report["rows"]] == [
        (1, "CORRECTED", None, None),
        (2, "REJECTED", "decision_date", "decision_on"),
        (3, "ACCEPTED", None, None),
    ]
    assert (report["accepted"], report["corrected"], report["unchanged"], report["rejected"]) == (
        1,
        1,
        0,
        1,
    )
    again = run(SUBMIT, rows(penalty_cells(decision_doc_no=doc(3))), token=secrets.market)
    assert again["data"]["submitPenalties"]["rows"][0]["outcome"] == "UNCHANGED"
    third = penalty_id(session, doc(3))
    assert audit_trail(session) == [
        (MARKET, "submit penalty", [f"penalty:{new_id}"], "ok"),
        (MARKET, "submit penalty", [f"penalty:{new_id}", f"penalty:{third}"], "ok"),
        (MARKET, "submit penalty", [], "ok"),
    ]
    source = session.get(models.Penalty, third)
    assert source is not None and source.source_unit_id == secrets.market_unit


def test_a_change_through_the_api_is_public_and_in_the_change_stream(
    run: Run, session: Session, secrets: Tokens
) -> None:
    run(SUBMIT, rows(penalty_cells(decision_doc_no=doc(1))), token=secrets.market)
    found = run("{ penalties { edges { node { decisionDocNo content } } } }")
    assert found == {
        "data": {
            "penalties": {"edges": [{"node": {"decisionDocNo": doc(1), "content": "罚款2000元"}}]}
        }
    }
    stream = run("{ changes { changes { type kind } } }")
    assert stream == {"data": {"changes": {"changes": [{"type": "PUBLISHED", "kind": "PENALTY"}]}}}


def test_submits_need_a_department_token_of_the_source_unit(
    run: Run, session: Session, secrets: Tokens
) -> None:
    penalty = factories.add_penalty(session)  # the market department's
    session.commit()
    theirs = penalty_cells(decision_doc_no=penalty.decision_doc_no, penalty_content="改")
    other_source = penalty_cells(
        decision_doc_no=doc(900),
        source_unit=TAX,
        source_unit_uscc=factories.add_department(session, TAX).credit_code,
    )
    columns = [*KEYS, "source_unit", "source_unit_uscc"]
    cases = {
        "missing": (None, rows(penalty_cells(decision_doc_no=doc(1)))),
        "unknown": ("gs_not-a-token", rows(penalty_cells(decision_doc_no=doc(1)))),
        "operator": (secrets.operator, rows(penalty_cells(decision_doc_no=doc(1)))),
        "market operator": (secrets.market_operator, rows(penalty_cells(decision_doc_no=doc(1)))),
        "another department's record": (secrets.tax, rows(theirs)),
        "another source unit": (
            secrets.market,
            {"columns": columns, "rows": [[other_source.get(k, "") for k in columns]]},
        ),
    }
    before = events(session)
    answers = {
        name: run(SUBMIT, variables, token=token)["data"]["submitPenalties"]["code"]
        for name, (token, variables) in cases.items()
    }
    assert answers == {
        "missing": "UNAUTHENTICATED",
        "unknown": "UNAUTHENTICATED",
        "operator": "FORBIDDEN",
        "market operator": "FORBIDDEN",
        "another department's record": "FORBIDDEN",
        "another source unit": "FORBIDDEN",
    }
    assert events(session) == before
    assert [entry[3] for entry in audit_trail(session)] == [
        "unauthenticated",
        "unauthenticated",
        "forbidden",
        "forbidden",
        "forbidden",
        "forbidden",
    ]
    assert session.exec(select(sa.func.count()).select_from(models.Penalty)).one() == 1


def test_revoked_and_expired_tokens_are_refused(
    run: Run, session: Session, secrets: Tokens
) -> None:
    market = factories.add_department(session, MARKET)
    expired = tokens.create(
        session,
        unit_code=market.credit_code,
        role=models.Role.DEPARTMENT,
        expires_on=ON - dt.timedelta(days=1),
    )[1]
    revoked_token, revoked = tokens.create(
        session, unit_code=market.credit_code, role=models.Role.DEPARTMENT
    )
    tokens.revoke(session, revoked_token.id or 0)
    session.commit()
    for secret in (expired, revoked):
        answer = run(SUBMIT, rows(penalty_cells()), token=secret)
        assert answer == {
            "data": {
                "submitPenalties": {
                    "__typename": "Unauthenticated",
                    "code": "UNAUTHENTICATED",
                    "message": "the token is unknown, revoked or expired",
                }
            }
        }
    assert session.exec(select(sa.func.count()).select_from(models.Penalty)).one() == 0


WITHDRAW = """mutation($id: ID!, $reason: String!, $changed: Date) {
  withdrawRecord(id: $id, reason: $reason, kind: REVOKED, decisionChangedOn: $changed) {
    __typename
    ... on RecordEnded { id endedOn reason }
    ... on MutationError { code message }
    ... on Refused { field }
  }
}"""


def test_withdraw_record(run: Run, session: Session, secrets: Tokens) -> None:
    penalty = factories.add_penalty(session)
    session.commit()
    gid = global_id(models.RecordKind.PENALTY, penalty.id or 0)
    variables = {"id": gid, "reason": "行政复议撤销", "changed": "2026-05-25"}
    refused = {
        who: run(WITHDRAW, variables, token=token)["data"]["withdrawRecord"]["code"]
        for who, token in (
            ("nobody", None),
            ("tax", secrets.tax),
            ("operator", secrets.operator),
            ("market operator", secrets.market_operator),
        )
    }
    assert refused == {
        "nobody": "UNAUTHENTICATED",
        "tax": "FORBIDDEN",
        "operator": "FORBIDDEN",
        "market operator": "FORBIDDEN",
    }
    blank = run(WITHDRAW, variables | {"reason": " "}, token=secrets.market)
    assert blank["data"]["withdrawRecord"]["code"] == "INVALID"
    missing = run(
        WITHDRAW,
        variables | {"id": global_id(models.RecordKind.PENALTY, 999)},
        token=secrets.market,
    )
    assert missing["data"]["withdrawRecord"]["code"] == "NOT_FOUND"
    done = run(WITHDRAW, variables, token=secrets.market)
    assert done == {
        "data": {
            "withdrawRecord": {
                "__typename": "RecordEnded",
                "id": gid,
                "endedOn": "2026-06-01",
                "reason": "WITHDRAWN",
            }
        }
    }
    twice = run(WITHDRAW, variables, token=secrets.market)
    assert twice["data"]["withdrawRecord"]["code"] == "NOT_PUBLIC"
    record = f"penalty:{penalty.id}"
    assert audit_trail(session) == [
        (None, "withdrawRecord", [], "unauthenticated"),
        (TAX, "withdrawRecord", [record], "forbidden"),
        (OPERATOR, "withdrawRecord", [record], "forbidden"),
        (MARKET, "withdrawRecord", [record], "forbidden"),
        (MARKET, "withdrawRecord", [record], "invalid"),
        (MARKET, "withdrawRecord", ["penalty:999"], "not_found"),
        (MARKET, "withdrawRecord", [record], "ok"),
        (MARKET, "withdrawRecord", [record], "not_public"),
    ]
    assert run("{ penalties { edges { node { id } } } }") == {"data": {"penalties": {"edges": []}}}


OPEN = """mutation($id: ID!, $grounds: String!) {
  openObjection(id: $id, grounds: $grounds) {
    __typename
    ... on Objection { recordId openedOn dueOn closedOn outcome }
    ... on MutationError { code }
  }
}"""
RESOLVE = """mutation($objection: Int!, $outcome: ObjectionOutcome!, $corrections: [Correction!]) {
  resolveObjection(objectionId: $objection, outcome: $outcome, corrections: $corrections) {
    __typename
    ... on Objection { closedOn outcome }
    ... on MutationError { code }
  }
}"""


def objection_ids(session: Session) -> list[int]:
    session.expire_all()
    return [
        o.id or 0 for o in session.exec(select(models.Objection).order_by(col(models.Objection.id)))
    ]


def test_objections_are_opened_by_the_operator_and_resolved_by_the_department(
    run: Run, session: Session, secrets: Tokens
) -> None:
    penalty = factories.add_penalty(session)
    session.commit()
    gid = global_id(models.RecordKind.PENALTY, penalty.id or 0)
    opening = {"id": gid, "grounds": "处罚对象认定错误"}
    wrong = [
        run(OPEN, opening, token=token)["data"]["openObjection"]["code"]
        for token in (secrets.market, secrets.tax, None)
    ]
    assert wrong == ["FORBIDDEN", "FORBIDDEN", "UNAUTHENTICATED"]
    assert run(OPEN, opening | {"grounds": " "}, token=secrets.operator)["data"][
        "openObjection"
    ] == {
        "__typename": "Refused",
        "code": "INVALID",
    }
    opened = run(OPEN, opening, token=secrets.operator)
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
    (first,) = objection_ids(session)
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

    run(OPEN, opening, token=secrets.operator)
    second = objection_ids(session)[-1]
    correcting = {
        "objection": second,
        "outcome": "CORRECTED",
        "corrections": [{"field": "content", "value": "罚款1000元"}],
    }
    bad = run(
        RESOLVE,
        correcting | {"corrections": [{"field": "decisionOn", "value": "soon"}]},
        token=secrets.market,
    )
    assert bad["data"]["resolveObjection"]["code"] == "INVALID"
    corrected = run(RESOLVE, correcting, token=secrets.market)
    assert corrected["data"]["resolveObjection"]["outcome"] == "CORRECTED"
    assert run("{ penalties { edges { node { content underObjection } } } }")["data"] == {
        "penalties": {"edges": [{"node": {"content": "罚款1000元", "underObjection": False}}]}
    }
    assert [entry[1:] for entry in audit_trail(session)] == [
        ("openObjection", [f"penalty:{penalty.id}"], "forbidden"),
        ("openObjection", [f"penalty:{penalty.id}"], "forbidden"),
        ("openObjection", [], "unauthenticated"),
        ("openObjection", [f"penalty:{penalty.id}"], "invalid"),
        ("openObjection", [f"penalty:{penalty.id}"], "ok"),
        *[("resolveObjection", [f"penalty:{penalty.id}"], "forbidden")] * 3,
        ("resolveObjection", [], "not_found"),
        ("resolveObjection", [f"penalty:{penalty.id}"], "ok"),
        ("resolveObjection", [f"penalty:{penalty.id}"], "wrong_state"),
        ("openObjection", [f"penalty:{penalty.id}"], "ok"),
        ("resolveObjection", [f"penalty:{penalty.id}"], "invalid"),
        ("resolveObjection", [f"penalty:{penalty.id}"], "ok"),
    ]


def test_corrections_past_their_column_are_refused_and_change_nothing(
    run: Run, session: Session, secrets: Tokens
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
        run(OPEN, {"id": gid, "grounds": "更正"}, token=secrets.operator)
        correcting = {
            "objection": objection_ids(session)[-1],
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
    run: Run, session: Session, secrets: Tokens
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


def test_exit_list_entry(run: Run, session: Session, secrets: Tokens) -> None:
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
    run: Run, session: Session, secrets: Tokens
) -> None:
    objected = factories.add_penalty(session)
    repairable = factories.add_penalty(session, decision_on=ON - dt.timedelta(days=200))
    late = factories.add_penalty(session)
    session.commit()

    def gid(record: models.Penalty) -> str:
        return global_id(models.RecordKind.PENALTY, record.id or 0)

    run(OPEN, {"id": gid(objected), "grounds": "金额有误"}, token=secrets.operator)
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
