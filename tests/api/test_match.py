"""Screening (`match`) through the API."""

from __future__ import annotations

from typing import Any

from graphql import parse
from sqlmodel import Session

from api import cost
from disclosure import models
from tests import factories
from tests.api.conftest import Run
from tests.conftest import unmasked_id_numbers

MATCH = """query($candidates: [MatchCandidate!]!, $threshold: Float) {
  match(candidates: $candidates, threshold: $threshold) {
    candidate results { score match features subject { name creditCode } } } }"""


def _public(session: Session, **fields: Any) -> models.Subject:
    """A subject with a public penalty, so that screening may find it."""
    subject = factories.add_subject(session, **fields)
    factories.add_penalty(session, subject_id=subject.id)
    return subject


def _hit(subject: models.Subject, score: float, *features: str, match: bool = True) -> Any:
    return {
        "score": score,
        "match": match,
        "features": list(features),
        "subject": {"name": subject.name, "creditCode": subject.credit_code},
    }


def test_match_answers_each_candidate_in_order_best_first(session: Session, run: Run) -> None:
    hongda = _public(session, name="湛江市赤坎区鸿达兴业食品有限公司", legal_rep_name="李伟")
    jinhai = _public(session, name="湛江市金海物流有限公司", legal_rep_name="王芳")
    _public(session, name="湛江市鸿达兴业装饰工程有限公司")  # shares the trade name only
    session.commit()
    candidates = [
        {"name": "鴻達興業食品有限責任公司"},  # traditional characters, another legal form
        {"name": "湛江鸿达兴叶食品（赤坎）有限公司"},  # a typo, region in brackets
        {"name": "某某公司", "creditCode": jinhai.credit_code},  # the code alone
        {"name": "金海物流", "legalRepresentative": "王芳"},
        {"name": "湛江市鸿达兴业贸易有限公司"},  # a decoy: no such company
    ]
    found = run(MATCH, {"candidates": candidates})
    assert found == {
        "data": {
            "match": [
                {"candidate": 0, "results": [_hit(hongda, 1.0, "name_key")]},
                {"candidate": 1, "results": [_hit(hongda, 0.8333, "name_tokens")]},
                {"candidate": 2, "results": [_hit(jinhai, 0.9, "credit_code")]},
                {
                    "candidate": 3,
                    "results": [_hit(jinhai, 1.0, "name_key", "legal_representative")],
                },
                # shown below the threshold: the trade name and the form only
                {"candidate": 4, "results": [_hit(hongda, 0.5, "name_tokens", match=False)]},
            ]
        }
    }


def test_the_threshold_decides_match_and_a_wrong_legal_representative_lowers_the_score(
    session: Session, run: Run
) -> None:
    hongda = _public(session, name="湛江市鸿达兴业食品有限公司", legal_rep_name="李伟")
    session.commit()
    candidates = [{"name": "鸿达兴业食品", "legalRepresentative": "张三"}]
    assert run(MATCH, {"candidates": candidates, "threshold": 0.9}) == {
        "data": {
            "match": [{"candidate": 0, "results": [_hit(hongda, 0.85, "name_key", match=False)]}]
        }
    }


def test_a_subject_without_a_public_record_is_never_matched(session: Session, run: Run) -> None:
    factories.add_subject(session, name="湛江市鸿达兴业食品有限公司")  # nothing public
    withdrawn = factories.add_subject(session, name="湛江市金海物流有限公司")
    penalty = factories.add_penalty(session, subject_id=withdrawn.id)
    penalty.ended_on = factories.DEFAULT_ON
    penalty.end_reason = models.EndReason.WITHDRAWN
    session.add(penalty)
    session.commit()
    candidates = [{"name": "鸿达兴业食品"}, {"name": "金海物流"}]
    assert run(MATCH, {"candidates": candidates}) == {
        "data": {"match": [{"candidate": 0, "results": []}, {"candidate": 1, "results": []}]}
    }


def test_a_person_matched_by_name_shows_no_identity_number(session: Session, run: Run) -> None:
    person = factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON)
    factories.add_penalty(session, subject_id=person.id)
    session.commit()
    query = """query($c: [MatchCandidate!]!) { match(candidates: $c) {
      results { subject { name maskedIdNumber } } } }"""
    found = run(query, {"c": [{"name": person.name}]})
    (hit,) = found["data"]["match"][0]["results"]
    assert hit["subject"]["name"] == person.name
    assert hit["subject"]["maskedIdNumber"] == person.id_number_masked
    assert unmasked_id_numbers(str(found)) == []


def test_bad_requests_are_refused_with_what_to_fix(run: Run) -> None:
    assert run(MATCH, {"candidates": [{"name": "鸿达"}, {"name": "  "}]}) == {
        "data": None,
        "errors": ["match: candidate 1: name is empty / 名称为空"],
    }
    assert run(MATCH, {"candidates": [{"name": "鸿达"}], "threshold": 1.5}) == {
        "data": None,
        "errors": ["match: threshold 1.5 is not in [0, 1]"],
    }
    assert run(MATCH, {"candidates": [{"name": "鸿达"}] * 101}) == {
        "data": None,
        "errors": ["match: at most 100 candidates, not 101"],
    }


def test_match_is_charged_per_candidate_and_result() -> None:
    document = parse(
        """query($c: [MatchCandidate!]!) { match(candidates: $c) {
        results { subject { penalties { id } } } } }"""
    )
    charged = cost.cost(document, {"c": [{"name": "鸿达"}] * 10}, None)
    assert charged == 10 * 5 + 10 * 5 * 100
