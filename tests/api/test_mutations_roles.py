"""Every mutation refuses each wrong role and another department's records, and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import Session

from api.cursors import global_id
from disclosure import models, objections, repairs, template
from tests import factories
from tests.api import grants
from tests.api.conftest import ON, Run
from tests.factories import TAX
from tests.template_rows import doc, penalty_cells


@pytest.fixture
def secrets(session: Session) -> grants.Tokens:
    return grants.make_tokens(session)


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
    run: Run, session: Session, secrets: grants.Tokens
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
    before = grants.state(session)
    answers = {}
    for name, (query, variables, _right, right) in cases.items():
        for who, token in named.items():
            if who == right or (right == "operator" and who == "market operator"):
                continue
            answer = run(query, variables, token=token)["data"][name]
            answers[name, who] = answer["code"]
            assert grants.state(session) == before, (name, who)
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
    assert [(entry[1], entry[3]) for entry in grants.audit_trail(session)] == [
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
