"""Every root field and filter of the API, through the real schema on a real database."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from api import cursors
from disclosure import endings, models, objections, sample
from tests import factories
from tests.api.conftest import ON, Run

DAY = dt.timedelta(days=1)


def ids(response: dict[str, Any], field: str) -> list[int]:
    assert "errors" not in response, response
    return [edge["node"]["id"] for edge in response["data"][field]["edges"]]


def test_subject_one_stop_lookup(run: Run, session: Session) -> None:
    subject = factories.add_subject(session)
    penalty = factories.add_penalty(session, subject_id=subject.id)
    license = factories.add_license(session, subject_id=subject.id)
    entry = factories.add_list_entry(session, subject_id=subject.id)
    factories.add_penalty(session)  # someone else's
    session.commit()
    query = """query ($code: String!) {
      subject(creditCode: $code) {
        key name category creditCode maskedIdNumber url
        licenses { id url certificateName lapsed }
        penalties { id decisionDocNo fineAmountWan categories severity underObjection url }
        listEntries { id list { kind } punishmentSuspended }
      }
    }"""
    assert run(query, {"code": subject.credit_code}) == {
        "data": {
            "subject": {
                "key": subject.credit_code,
                "name": "湛江市赤坎区鸿达食品有限公司",
                "category": "LEGAL_PERSON",
                "creditCode": subject.credit_code,
                "maskedIdNumber": None,
                "url": f"http://127.0.0.1:8000/subjects/{subject.credit_code}.html",
                "licenses": [
                    {
                        "id": license.id,
                        "url": f"http://127.0.0.1:8000/records/licenses/{license.id}.html",
                        "certificateName": "食品经营许可证",
                        "lapsed": False,
                    }
                ],
                "penalties": [
                    {
                        "id": penalty.id,
                        "decisionDocNo": penalty.decision_doc_no,
                        "fineAmountWan": "0.2",
                        "categories": ["罚款"],
                        "severity": "GENERAL",
                        "underObjection": False,
                        "url": f"http://127.0.0.1:8000/records/penalties/{penalty.id}.html",
                    }
                ],
                "listEntries": [
                    {"id": entry.id, "list": {"kind": "BLACK"}, "punishmentSuspended": False}
                ],
            }
        }
    }


def test_a_person_is_found_by_key_and_shown_masked(run: Run, session: Session) -> None:
    person = factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON)
    factories.add_penalty(session, subject_id=person.id)
    session.commit()
    found = run(f'{{ subject(creditCode: "P{person.id}") {{ key maskedIdNumber creditCode }} }}')
    assert found == {
        "data": {
            "subject": {
                "key": f"P{person.id}",
                "maskedIdNumber": person.id_number_masked,
                "creditCode": None,
            }
        }
    }
    assert person.id_number_masked is not None and "*" in person.id_number_masked


def test_no_subject_for_unknown_codes_nor_for_subjects_no_longer_public(
    run: Run, session: Session
) -> None:
    penalty = factories.add_penalty(session)
    endings.withdraw(
        session,
        penalty,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议撤销",
        ctx=factories.ctx(ON),
    )
    session.commit()
    query = "query ($code: String!) { subject(creditCode: $code) { name } }"
    assert run(query, {"code": penalty.subject.credit_code}) == {"data": {"subject": None}}
    assert run(query, {"code": "91440802MA00000000"}) == {"data": {"subject": None}}


def test_penalty_filters(run: Run, session: Session) -> None:
    other_unit = factories.add_department(session, "赤坎区应急管理局")
    person = factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON)
    plain = factories.add_penalty(session, decision_on=ON - 10 * DAY)
    by_other = factories.add_penalty(
        session, authority_id=other_unit.id, source_unit_id=other_unit.id
    )
    of_person = factories.add_penalty(session, subject_id=person.id, decision_on=ON - 20 * DAY)
    warned = factories.add_penalty(
        session, categories="警告", fine_amount_wan=None, content="警告", decision_on=ON - 5 * DAY
    )
    serious = factories.add_penalty(
        session, severity=models.Severity.SERIOUS, decision_on=ON - 30 * DAY
    )
    objections.open_objection(session, serious, grounds="事实认定有误", ctx=factories.ctx(ON))
    session.commit()
    unit_code = sample.department_code("赤坎区市场监督管理局")
    query = (
        "query ($f: PenaltyFilter) { penalties(filter: $f) { totalCount edges { node { id } } } }"
    )
    cases = {
        "department": ({"department": other_unit.credit_code}, [by_other.id]),
        "authority": ({"authority": unit_code}, [warned.id, plain.id, of_person.id, serious.id]),
        "subjectCategory": ({"subjectCategory": "NATURAL_PERSON"}, [of_person.id]),
        "category": ({"category": "警告"}, [warned.id]),
        "severity": ({"severity": "SERIOUS"}, [serious.id]),
        "dates": (
            {"decidedFrom": str(ON - 20 * DAY), "decidedTo": str(ON - 10 * DAY)},
            [plain.id, of_person.id],
        ),
        "underObjection": ({"underObjection": True}, [serious.id]),
        "none": (None, [by_other.id, warned.id, plain.id, of_person.id, serious.id]),
    }
    for name, (filters, expected) in cases.items():
        response = run(query, {"f": filters})
        assert (ids(response, "penalties"), response["data"]["penalties"]["totalCount"]) == (
            expected,
            len(expected),
        ), name


def test_license_and_list_entry_filters(run: Run, session: Session) -> None:
    registered = factories.add_license(session)
    franchise = factories.add_license(session, category=models.LicenseCategory.FRANCHISE)
    red = factories.add_list(session, models.ListKind.RED, name="诚信典型名单")
    praised = factories.add_list_entry(session, list_id=red.id)
    blacklisted = factories.add_list_entry(session)
    session.commit()
    licenses = "query ($f: LicenseFilter) { licenses(filter: $f) { edges { node { id } } } }"
    assert ids(run(licenses, {"f": {"category": "FRANCHISE"}}), "licenses") == [franchise.id]
    assert ids(run(licenses, {"f": {"category": "REGISTRATION"}}), "licenses") == [registered.id]
    entries = "query ($f: ListEntryFilter) { listEntries(filter: $f) { edges { node { id } } } }"
    assert ids(run(entries, {"f": {"listKind": "RED"}}), "listEntries") == [praised.id]
    assert ids(run(entries, {"f": {"list": red.code}}), "listEntries") == [praised.id]
    assert ids(run(entries, {"f": {"listKind": "BLACK"}}), "listEntries") == [blacklisted.id]


def test_keyset_paging_has_no_duplicates_or_gaps_while_records_arrive(
    run: Run, session: Session
) -> None:
    first_batch = [
        factories.add_penalty(session, decision_on=ON - (i % 7) * DAY) for i in range(23)
    ]
    session.commit()
    query = """query ($after: String) {
      penalties(first: 5, after: $after, filter: {decidedTo: "%s"}) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor }
      }
    }""" % (ON - DAY)
    expected = sorted(
        (p for p in first_batch if p.decision_on <= ON - DAY),
        key=lambda p: (p.decision_on, p.id or 0),
        reverse=True,
    )
    seen: list[int] = []
    after = None
    while True:
        page = run(query, {"after": after})["data"]["penalties"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        # newer records, and records of days already passed, arrive between pages
        factories.add_penalty(session, decision_on=ON - DAY)
        factories.add_penalty(session, decision_on=ON - 6 * DAY)
        session.commit()
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # records inserted behind the cursor are picked up; none is seen twice, none of the
    # first batch is skipped
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in {p.id for p in expected}] == [p.id for p in expected]


def test_node_by_global_id(run: Run, session: Session) -> None:
    penalty = factories.add_penalty(session)
    session.commit()
    assert penalty.id is not None
    gid = cursors.global_id(models.RecordKind.PENALTY, penalty.id)
    query = "query ($id: ID!) { node(id: $id) { __typename ... on Penalty { id globalId } } }"
    assert run(query, {"id": gid}) == {
        "data": {"node": {"__typename": "Penalty", "id": penalty.id, "globalId": gid}}
    }
    missing = cursors.global_id(models.RecordKind.LICENSE, 999)
    assert run(query, {"id": missing}) == {"data": {"node": None}}
    assert run(query, {"id": "not-an-id"}) == {
        "data": {"node": None},
        "errors": ["not a record ID: 'not-an-id'"],
    }


def test_ids_and_cursors_past_the_columns_are_refused(run: Run) -> None:
    # a record id is an INTEGER, an event id a BIGINT: a larger number is no id at all
    too_far = {
        "node": ("{ node(id: $x) { __typename } }", f"penalty:{2**31}", "ID!"),
        "penalties": ("{ penalties(after: $x) { totalCount } }", f"k:2026-01-01:{2**31}", "String"),
        "changes": ("{ changes(after: $x) { hasMore } }", f"e:{2**63}", "String"),
    }
    messages = {
        field: run(
            f"query ($x: {kind}) {query}",
            {"x": base64.urlsafe_b64encode(text.encode()).decode()},
        )["errors"][0].split(":")[0]
        for field, (query, text, kind) in too_far.items()
    }
    assert messages == {
        "node": "not a record ID",
        "penalties": "not a cursor of this list",
        "changes": "not a cursor of the change stream",
    }


def test_lists_departments_and_stats(run: Run, session: Session) -> None:
    red = factories.add_list(session, models.ListKind.RED, code="chengxin", name="诚信典型名单")
    factories.add_list_entry(session, list_id=red.id)
    late = factories.add_penalty(session, decision_on=ON - 30 * DAY)  # published 30 days on
    factories.add_license(session)
    objections.open_objection(session, late, grounds="处罚过重", ctx=factories.ctx(ON))
    session.commit()
    unit = {
        "name": "赤坎区市场监督管理局",
        "creditCode": sample.department_code("赤坎区市场监督管理局"),
    }
    assert run("{ lists { list { code kind name } active } }") == {
        "data": {
            "lists": [
                {"list": {"code": "chengxin", "kind": "RED", "name": "诚信典型名单"}, "active": 1}
            ]
        }
    }
    assert run(
        "{ departments { department { name creditCode } licenses penalties listEntries } }"
    ) == {
        "data": {
            "departments": [{"department": unit, "licenses": 1, "penalties": 1, "listEntries": 1}]
        }
    }
    stats = run(
        """{ stats { asOf kinds { kind public underObjection }
             onTime { department { name } published onTime rate } } }"""
    )
    assert stats == {
        "data": {
            "stats": {
                "asOf": "2026-06-01",
                "kinds": [
                    {"kind": "LICENSE", "public": 1, "underObjection": 0},
                    {"kind": "PENALTY", "public": 1, "underObjection": 1},
                    {"kind": "LIST_ENTRY", "public": 1, "underObjection": 0},
                ],
                "onTime": [
                    {"department": None, "published": 3, "onTime": 2, "rate": 0.6667},
                    {
                        "department": {"name": unit["name"]},
                        "published": 3,
                        "onTime": 2,
                        "rate": 0.6667,
                    },
                ],
            }
        }
    }


def test_objection_annotation(run: Run, session: Session) -> None:
    entry = factories.add_list_entry(session)
    objections.open_objection(session, entry, grounds="已整改", ctx=factories.ctx(ON))
    session.commit()
    query = """{ listEntries { edges { node {
      underObjection objectionOpenedOn punishmentSuspended } } } }"""
    assert run(query) == {
        "data": {
            "listEntries": {
                "edges": [
                    {
                        "node": {
                            "underObjection": True,
                            "objectionOpenedOn": "2026-06-01",
                            "punishmentSuspended": True,
                        }
                    }
                ]
            }
        }
    }


CHANGES = """query ($after: String, $first: Int!) {
  changes(after: $after, first: $first) {
    changes {
      type kind recordId effectiveOn
      record { __typename ... on Penalty { id content } }
      tombstone { id kind endedOn reason }
    }
    endCursor hasMore
  }
}"""


def test_changes_carry_public_records_and_only_tombstones_of_withdrawn_ones(
    run: Run, session: Session
) -> None:
    kept = factories.add_penalty(session)
    gone = factories.add_penalty(session, content="罚款3000元", fine_amount_wan=Decimal("0.3"))
    session.commit()
    endings.withdraw(
        session, gone, kind=models.WithdrawalKind.REVOKED, reason="复议撤销", ctx=factories.ctx(ON)
    )
    session.commit()
    first = run(CHANGES, {"after": None, "first": 2})["data"]["changes"]
    assert first["changes"] == [
        {
            "type": "PUBLISHED",
            "kind": "PENALTY",
            "recordId": kept.id,
            "effectiveOn": "2026-06-01",
            "record": {"__typename": "Penalty", "id": kept.id, "content": "罚款2000元"},
            "tombstone": None,
        },
        {
            "type": "PUBLISHED",
            "kind": "PENALTY",
            "recordId": gone.id,
            "effectiveOn": "2026-06-01",
            "record": None,
            "tombstone": {
                "id": gone.id,
                "kind": "PENALTY",
                "endedOn": "2026-06-01",
                "reason": "withdrawn",
            },
        },
    ]
    assert first["hasMore"] is True
    rest = run(CHANGES, {"after": first["endCursor"], "first": 2})["data"]["changes"]
    assert rest["changes"] == [
        {
            "type": "WITHDRAWN",
            "kind": "PENALTY",
            "recordId": gone.id,
            "effectiveOn": "2026-06-01",
            "record": None,
            "tombstone": {
                "id": gone.id,
                "kind": "PENALTY",
                "endedOn": "2026-06-01",
                "reason": "withdrawn",
            },
        }
    ]
    assert rest["hasMore"] is False
    caught_up = run(CHANGES, {"after": rest["endCursor"], "first": 2})["data"]["changes"]
    assert caught_up == {"changes": [], "endCursor": rest["endCursor"], "hasMore": False}


def test_an_expired_penalty_vanishes_the_day_after_without_any_batch_job(
    run: Run, session: Session
) -> None:
    last_day = ON + 10 * DAY
    penalty = factories.add_penalty(
        session,
        decision_on=ON - 80 * DAY,
        severity=models.Severity.MINOR,
        publicity_end_on=last_day,
    )
    session.commit()
    assert penalty.id is not None
    gid = cursors.global_id(models.RecordKind.PENALTY, penalty.id)
    query = """query ($code: String!, $id: ID!) {
      penalties { totalCount edges { node { id } } }
      subject(creditCode: $code) { penalties { id } }
      node(id: $id) { ... on Penalty { id } }
      departments { penalties }
      stats { kinds { kind public } }
      changes { changes { record { ... on Penalty { id } } tombstone { endedOn reason } } }
    }"""
    variables = {"code": penalty.subject.credit_code, "id": gid}
    public = run(query, variables, on=last_day)["data"]
    assert public["penalties"] == {"totalCount": 1, "edges": [{"node": {"id": penalty.id}}]}
    assert public["subject"] == {"penalties": [{"id": penalty.id}]}
    assert public["node"] == {"id": penalty.id}
    assert public["departments"] == [{"penalties": 1}]
    assert public["changes"]["changes"] == [{"record": {"id": penalty.id}, "tombstone": None}]
    after = run(query, variables, on=last_day + DAY)["data"]
    assert after == {
        "penalties": {"totalCount": 0, "edges": []},
        "subject": None,
        "node": None,
        "departments": [{"penalties": 0}],
        "stats": {
            "kinds": [
                {"kind": "LICENSE", "public": 0},
                {"kind": "PENALTY", "public": 0},
                {"kind": "LIST_ENTRY", "public": 0},
            ]
        },
        "changes": {
            "changes": [
                {"record": None, "tombstone": {"endedOn": str(last_day + DAY), "reason": "expired"}}
            ]
        },
    }
