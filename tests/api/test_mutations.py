"""Mutations that submit and withdraw records: reports row by row, tokens, the change stream."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from api.cursors import global_id
from disclosure import models, tokens
from tests import factories
from tests.api import grants
from tests.api.conftest import ON, Run
from tests.api.documents import KEYS, SUBMIT, WITHDRAW, rows
from tests.factories import TAX
from tests.template_rows import doc, penalty_cells


@pytest.fixture
def secrets(session: Session) -> grants.Tokens:
    return grants.make_tokens(session)


def test_submit_penalties_reports_each_row(
    run: Run, session: Session, secrets: grants.Tokens
) -> None:
    first = run(SUBMIT, rows(penalty_cells(decision_doc_no=doc(1))), token=secrets.market)
    new_id = grants.penalty_id(session, doc(1))
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
    third = grants.penalty_id(session, doc(3))
    assert grants.audit_trail(session) == [
        (grants.MARKET, "submit penalty", [f"penalty:{new_id}"], "ok"),
        (grants.MARKET, "submit penalty", [f"penalty:{new_id}", f"penalty:{third}"], "ok"),
        (grants.MARKET, "submit penalty", [], "ok"),
    ]
    source = session.get(models.Penalty, third)
    assert source is not None and source.source_unit_id == secrets.market_unit


def test_a_change_through_the_api_is_public_and_in_the_change_stream(
    run: Run, session: Session, secrets: grants.Tokens
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
    run: Run, session: Session, secrets: grants.Tokens
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
    before = grants.state(session)
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
    assert grants.state(session) == before
    assert grants.audit_trail(session) == [
        (grants.MARKET, "submit penalty", [], "forbidden"),
        (grants.MARKET, "submit penalty", [], "forbidden"),
        (TAX, "submit penalty", [f"penalty:{penalty.id}"], "forbidden"),
    ]


def test_revoked_and_expired_tokens_are_refused(
    run: Run, session: Session, secrets: grants.Tokens
) -> None:
    market = factories.add_department(session, grants.MARKET)
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


def test_withdraw_record(run: Run, session: Session, secrets: grants.Tokens) -> None:
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
    assert grants.audit_trail(session) == [
        (None, "withdrawRecord", [], "unauthenticated"),
        (TAX, "withdrawRecord", [record], "forbidden"),
        (grants.OPERATOR, "withdrawRecord", [record], "forbidden"),
        (grants.MARKET, "withdrawRecord", [record], "forbidden"),
        (grants.MARKET, "withdrawRecord", [record], "invalid"),
        (grants.MARKET, "withdrawRecord", ["penalty:999"], "not_found"),
        (grants.MARKET, "withdrawRecord", [record], "ok"),
        (grants.MARKET, "withdrawRecord", [record], "not_public"),
    ]
    assert run("{ penalties { edges { node { id } } } }") == {"data": {"penalties": {"edges": []}}}


def test_a_withdrawal_refuses_a_decision_change_dated_after_today(
    run: Run, session: Session, secrets: grants.Tokens
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
    run: Run, session: Session, secrets: grants.Tokens
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
    run(grants.OPEN, {"id": gid(objected), "grounds": "主体有误"}, token=secrets.operator)
    (objection_id,) = grants.objection_ids(session)
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
