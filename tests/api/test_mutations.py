"""Writes through the API: each mutation's success, and each way it is refused and audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from api.cursors import global_id
from disclosure import models, objections, repairs, template, tokens
from tests import factories
from tests.api.conftest import ON, Run
from tests.api.documents import KEYS, SUBMIT, WITHDRAW, rows
from tests.factories import TAX
from tests.template_rows import doc, penalty_cells

MARKET = "赤坎区市场监督管理局"  # the factories' department
OPERATOR = "赤坎区发展和改革局"


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


def state(session: Session) -> dict[str, list[str]]:
    """Every table but the audit trail, row by row: what a refused write leaves as it was."""
    session.expire_all()
    connection = session.connection()
    return {
        table.name: sorted(repr(tuple(row)) for row in connection.execute(sa.select(table)))
        for table in SQLModel.metadata.sorted_tables
        if table.name != models.AuditEntry.__tablename__
    }


def events(session: Session) -> list[tuple[str, int, str]]:
    rows = session.exec(select(models.Event).order_by(col(models.Event.id))).all()
    return [(row.record_kind.value, row.record_id, row.type.value) for row in rows]


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


def test_a_batch_with_a_row_about_another_departments_records_is_refused_whole(
    run: Run, session: Session, secrets: Tokens
) -> None:
    penalty = factories.add_penalty(session)  # the market department's
    tax = factories.add_department(session, TAX)
    session.commit()
    columns = [*KEYS, "source_unit", "source_unit_uscc"]
    tax_unit = {"source_unit": TAX, "source_unit_uscc": tax.credit_code}

    def batch(*cells: dict[str, str]) -> dict[str, Any]:
        return {"columns": columns, "rows": [[row.get(k, "") for k in columns] for row in cells]}

    ours = penalty_cells(decision_doc_no=doc(1))  # fine for the market department
    theirs = penalty_cells(decision_doc_no=penalty.decision_doc_no, penalty_content="改")
    refusal = """mutation($columns: [String!]!, $rows: [[String!]!]!) {
      submitPenalties(columns: $columns, rows: $rows) { ... on Forbidden { code message rows } }
    }"""
    before = state(session)
    assert run(refusal, batch(ours, ours | tax_unit), token=secrets.market) == {
        "data": {
            "submitPenalties": {
                "code": "FORBIDDEN",
                "message": "第 2 行是其他单位的记录，整批未写入 / rows 2 are about another "
                "department's records (another source unit, or the document number of a record "
                "another unit supplied); nothing was written",
                "rows": [2],
            }
        }
    }
    answers = [
        run(refusal, variables, token=token)["data"]["submitPenalties"]["rows"]
        for token, variables in (
            (secrets.market, batch(penalty_cells(decision_doc_no=doc(2)) | tax_unit, ours)),
            (secrets.tax, batch(ours | tax_unit, theirs | tax_unit, theirs)),
        )
    ]
    assert answers == [[1], [2, 3]]
    assert state(session) == before
    assert audit_trail(session) == [
        (MARKET, "submit penalty", [], "forbidden"),
        (MARKET, "submit penalty", [], "forbidden"),
        (TAX, "submit penalty", [f"penalty:{penalty.id}"], "forbidden"),
    ]


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
RESOLVE = """mutation($objection: Int!, $outcome: ObjectionOutcome!, $columns: [String!],
                  $row: [String!]) {
  resolveObjection(objectionId: $objection, outcome: $outcome, columns: $columns, row: $row) {
    __typename
    ... on Objection { closedOn outcome }
    ... on MutationError { code }
    ... on RowRejected { column header rule }
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
    ]


def test_an_upheld_objection_corrects_the_record_with_a_checked_template_row(
    run: Run, session: Session, secrets: Tokens
) -> None:
    submitted = run(SUBMIT, rows(penalty_cells(decision_doc_no=doc(1))), token=secrets.market)
    gid = submitted["data"]["submitPenalties"]["rows"][0]["id"]
    record = f"penalty:{penalty_id(session, doc(1))}"
    run(OPEN, {"id": gid, "grounds": "罚款金额有误"}, token=secrets.operator)
    (objection,) = objection_ids(session)
    tax = factories.add_department(session, TAX)
    session.commit()
    correcting = {"objection": objection, "outcome": "CORRECTED"}

    def corrected(**overrides: str) -> dict[str, Any]:
        cells = penalty_cells(decision_doc_no=doc(1)) | overrides
        return rows(cells) | {"row": [cells.get(key, "") for key in KEYS], "rows": None}

    fixed = {"penalty_content": "罚款1000元", "fine_amount_wan": "0.1"}
    before = (events(session), run(PUBLIC))
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
    assert (events(session), run(PUBLIC)) == before  # still under objection, as it was

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
    assert [event[2] for event in events(session)] == [
        "PUBLISHED",
        "OBJECTION_OPENED",
        "OBJECTION_CLOSED",
        "CORRECTED",
    ]
    assert [entry[1:] for entry in audit_trail(session)] == [
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
    run: Run, session: Session, secrets: Tokens
) -> None:
    submitted = run(SUBMIT, rows(penalty_cells(decision_doc_no=doc(1))), token=secrets.market)
    gid = submitted["data"]["submitPenalties"]["rows"][0]["id"]
    run(OPEN, {"id": gid, "grounds": "企业名称有误"}, token=secrets.operator)
    (objection,) = objection_ids(session)
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
    assert [event[2] for event in events(session)] == [
        "PUBLISHED",
        "OBJECTION_OPENED",
        "OBJECTION_CLOSED",
        "CORRECTED",  # of this record alone: its party's name, as any field of it
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


def _parties() -> dict[str, str]:
    """The subject, authority and source unit of the sample penalty row."""
    return {
        key: value
        for key, value in penalty_cells().items()
        if key.startswith(("subject", "legal_rep", "authority", "source"))
    }


def license_cells(**overrides: str) -> dict[str, str]:
    """A valid license row of the template, by our column keys (the penalty row's parties)."""
    parties = _parties()
    return (
        parties
        | {
            "decision_doc_name": "食品经营许可决定书",
            "decision_doc_no": "赤市监许〔2026〕1号",
            "license_category": "普通",
            "license_content": "准予食品经营许可",
            "decision_date": "2026/05/20",
            "valid_from": "2026/05/20",
            "valid_to": "2031/05/19",
        }
        | overrides
    )


def entry_cells(list_code: str, **overrides: str) -> dict[str, str]:
    """A valid list entry row, by our column keys (the penalty row's parties)."""
    parties = _parties()
    return (
        parties
        | {
            "list_code": list_code,
            "decision_doc_no": "赤市监失信〔2026〕1号",
            "reason": "因销售假冒伪劣商品受到较重行政处罚",
            "decision_date": "2026/05/20",
        }
        | overrides
    )


def template_rows(kind: models.RecordKind, *cells: dict[str, str]) -> dict[str, Any]:
    columns = [column.key for column in template.COLUMNS[kind]]
    return {"columns": columns, "rows": [[row.get(key, "") for key in columns] for row in cells]}


SUBMITS = "mutation($columns: [String!]!, $rows: [[String!]!]!) { %s(columns: $columns, rows: $rows) { __typename ... on MutationError { code } } }"  # noqa: E501
BY_ID = "mutation($id: ID!) { %s(id: $id%s) { __typename ... on MutationError { code } } }"
BY_NUMBER = "mutation($n: Int!) { %s(%s: $n%s) { __typename ... on MutationError { code } } }"


def test_every_mutation_refuses_each_wrong_role_and_other_department_and_changes_nothing(
    run: Run, session: Session, secrets: Tokens
) -> None:
    """Each mutation, tried with no token, each wrong role and another department's token, is
    refused and leaves every table as it was, with the attempt audited; then the right token
    does it (so the refusals were about who asked, not about the input)."""
    old = ON - dt.timedelta(days=200)  # past the minimum publicity period: repairable
    license = factories.add_license(session)
    penalty = factories.add_penalty(session)
    objected = factories.add_penalty(session)
    repairable = [factories.add_penalty(session, decision_on=old) for _ in range(3)]
    entry = factories.add_list_entry(session)
    ctx = factories.ctx(ON)
    objection = objections.open_objection(session, objected, grounds="金额有误", ctx=ctx)
    applied = [
        repairs.apply_for_repair(session, record, commitment="承诺", ctx=ctx)
        for record in repairable[:2]
    ]
    tax = factories.add_department(session, TAX)
    session.commit()
    tax_unit = {"source_unit": TAX, "source_unit_uscc": tax.credit_code}
    code = entry.credit_list.code
    kinds = models.RecordKind

    def gid(record: models.Record) -> dict[str, Any]:
        return {"id": global_id(record.KIND, record.id or 0)}

    # name: (query, variables for the wrong tokens, for the right one, the right token's name)
    cases: dict[str, tuple[str, dict[str, Any], dict[str, Any], str]] = {
        "submitLicenses": (
            SUBMITS % "submitLicenses",
            template_rows(
                kinds.LICENSE,
                license_cells(decision_doc_no="赤税许〔2026〕1号") | tax_unit,
                license_cells(decision_doc_no=license.decision_doc_no) | tax_unit,
            ),
            template_rows(kinds.LICENSE, license_cells()),
            "market",
        ),
        "submitPenalties": (
            SUBMITS % "submitPenalties",
            template_rows(
                kinds.PENALTY,
                penalty_cells(decision_doc_no=doc(500)) | tax_unit,
                penalty_cells(decision_doc_no=penalty.decision_doc_no) | tax_unit,
            ),
            template_rows(kinds.PENALTY, penalty_cells(decision_doc_no=doc(501))),
            "market",
        ),
        "submitListEntries": (
            SUBMITS % "submitListEntries",
            template_rows(
                kinds.LIST_ENTRY,
                entry_cells(code, decision_doc_no="赤税失信〔2026〕1号") | tax_unit,
                entry_cells(code, decision_doc_no=entry.decision_doc_no) | tax_unit,
            ),
            template_rows(kinds.LIST_ENTRY, entry_cells(code)),
            "market",
        ),
        "withdrawRecord": (
            BY_ID % ("withdrawRecord", ', reason: "决定已撤销"'),
            gid(penalty),
            gid(penalty),
            "market",
        ),
        "exitListEntry": (BY_ID % ("exitListEntry", ""), gid(entry), gid(entry), "market"),
        "openObjection": (
            BY_ID % ("openObjection", ', grounds: "认定错误"'),
            gid(license),
            gid(license),
            "operator",
        ),
        "resolveObjection": (
            BY_NUMBER % ("resolveObjection", "objectionId", ", outcome: REJECTED"),
            {"n": objection.id},
            {"n": objection.id},
            "market",
        ),
        "applyForRepair": (
            BY_ID % ("applyForRepair", ', commitment: "承诺"'),
            gid(repairable[2]),
            gid(repairable[2]),
            "operator",
        ),
        "approveRepair": (
            BY_NUMBER % ("approveRepair", "repairId", ""),
            {"n": applied[0].id},
            {"n": applied[0].id},
            "market",
        ),
        "refuseRepair": (
            BY_NUMBER % ("refuseRepair", "repairId", ', note: "未整改"'),
            {"n": applied[1].id},
            {"n": applied[1].id},
            "market",
        ),
    }
    named = {
        "nobody": None,
        "market": secrets.market,
        "tax": secrets.tax,
        "operator": secrets.operator,
        "market operator": secrets.market_operator,
    }
    before = state(session)
    answers = {}
    for name, (query, variables, _right, right) in cases.items():
        for who, token in named.items():
            if who == right or (right == "operator" and who == "market operator"):
                continue
            answer = run(query, variables, token=token)["data"][name]
            answers[name, who] = answer["code"]
            assert state(session) == before, (name, who)
    department_wrong = {"nobody": "UNAUTHENTICATED"} | dict.fromkeys(
        ["tax", "operator", "market operator"], "FORBIDDEN"
    )
    operator_wrong = {"nobody": "UNAUTHENTICATED", "market": "FORBIDDEN", "tax": "FORBIDDEN"}
    assert answers == {
        (name, who): expected
        for name, (_q, _v, _r, right) in cases.items()
        for who, expected in (department_wrong if right == "market" else operator_wrong).items()
    }
    operations = {
        "submitLicenses": "submit license",
        "submitPenalties": "submit penalty",
        "submitListEntries": "submit list_entry",
    }
    assert [(entry[1], entry[3]) for entry in audit_trail(session)] == [
        (operations.get(name, name), expected.lower()) for (name, _who), expected in answers.items()
    ]

    done = {
        name: run(query, right_variables, token=named[right])["data"][name]["__typename"]
        for name, (query, _v, right_variables, right) in cases.items()
    }
    assert done == {
        "submitLicenses": "SubmitReport",
        "submitPenalties": "SubmitReport",
        "submitListEntries": "SubmitReport",
        "withdrawRecord": "RecordEnded",
        "exitListEntry": "RecordEnded",
        "openObjection": "Objection",
        "resolveObjection": "Objection",
        "applyForRepair": "Repair",
        "approveRepair": "Repair",
        "refuseRepair": "Repair",
    }


def test_a_withdrawal_refuses_a_decision_change_dated_after_today(
    run: Run, session: Session, secrets: Tokens
) -> None:
    penalty = factories.add_penalty(session)
    session.commit()
    events_before = session.exec(select(sa.func.count()).select_from(models.Event)).one()
    gid = global_id(models.RecordKind.PENALTY, penalty.id or 0)
    variables = {"id": gid, "reason": "行政复议撤销", "changed": "2026-06-02"}
    answer = run(WITHDRAW, variables, token=secrets.market)["data"]["withdrawRecord"]
    assert answer["code"] == "INVALID"
    assert answer["field"] == "decision_changed_on"
    assert "2026-06-02" in answer["message"]
    session.expire_all()
    assert session.exec(select(sa.func.count()).select_from(models.Event)).one() == events_before


def test_a_withdrawal_says_its_reason_and_its_end_in_the_receipt_and_the_change_stream(
    run: Run, session: Session, secrets: Tokens
) -> None:
    withdrawn = factories.add_penalty(session)
    objected = factories.add_penalty(session)
    session.commit()
    raw_id = "440802199001011234"

    def gid(record: models.Penalty) -> str:
        return global_id(models.RecordKind.PENALTY, record.id or 0)

    withdraw = """mutation($id: ID!, $reason: String!, $changed: Date) {
      withdrawRecord(id: $id, reason: $reason, decisionChangedOn: $changed) {
        ... on RecordEnded { reason explanation dueOn late }
      }
    }"""
    # changed on Wednesday 05-27: Thursday, Friday and Monday 06-01 are its three working days
    done = run(
        withdraw,
        {"id": gid(withdrawn), "reason": "经复议撤销原处罚决定", "changed": "2026-05-27"},
        token=secrets.market,
    )
    assert done == {
        "data": {
            "withdrawRecord": {
                "reason": "WITHDRAWN",
                "explanation": "经复议撤销原处罚决定",
                "dueOn": "2026-06-01",
                "late": False,
            }
        }
    }
    run(OPEN, {"id": gid(objected), "grounds": "主体有误"}, token=secrets.operator)
    (objection_id,) = objection_ids(session)
    resolve = """mutation($objection: Int!, $reason: String!) {
      resolveObjection(objectionId: $objection, outcome: WITHDRAWN, reason: $reason) {
        __typename
      }
    }"""
    resolved = run(
        resolve,
        {"objection": objection_id, "reason": f"经核查，当事人（{raw_id}）并非违法主体"},
        token=secrets.market,
    )
    assert resolved == {"data": {"resolveObjection": {"__typename": "Objection"}}}
    stream = run(
        """{ changes(first: 20) { changes { type recordId
             tombstone { id endedOn reason label explanation } } } }"""
    )
    ended = [c for c in stream["data"]["changes"]["changes"] if c["type"] == "WITHDRAWN"]
    assert ended == [
        {
            "type": "WITHDRAWN",
            "recordId": withdrawn.id,
            "tombstone": {
                "id": withdrawn.id,
                "endedOn": "2026-06-01",
                "reason": "withdrawn",
                "label": "依法撤回",
                "explanation": "经复议撤销原处罚决定",
            },
        },
        {
            "type": "WITHDRAWN",
            "recordId": objected.id,
            "tombstone": {
                "id": objected.id,
                "endedOn": "2026-06-01",
                "reason": "objection_upheld",
                "label": "异议成立",
                "explanation": "经核查，当事人（440802********1234）并非违法主体",
            },
        },
    ]
    assert raw_id not in str(stream)
