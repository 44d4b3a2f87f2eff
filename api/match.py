"""Screening through the API: `match` scores the public subjects that may be each candidate."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.errors import ApiError
from api.types import ContextInfo, Subject
from disclosure import matching, privacy

DEFAULT_THRESHOLD = 0.7


@strawberry.input(description="筛查对象 a name to screen, with what else the list knows")
class MatchCandidate:
    name: str = strawberry.field(description="名称 the organisation's name as the list has it")
    credit_code: str | None = strawberry.field(default=None, description="统一社会信用代码")
    legal_representative: str | None = strawberry.field(
        default=None, description="法定代表人 the legal representative's name"
    )
    region: str | None = strawberry.field(
        default=None, description="地区 a region the name may lead with (湛江市, 赤坎区, …)"
    )


@strawberry.type(description="候选主体 a public subject that may be the candidate")
class MatchHit:
    score: float = strawberry.field(description="相似度 in [0, 1]")
    match: bool = strawberry.field(description="是否匹配 score ≥ threshold")
    features: list[str] = strawberry.field(
        description="依据 what made the score: credit_code, name_key (equal after "
        "normalisation), name_tokens (alike), legal_representative"
    )
    subject: Subject = strawberry.field(description="信用主体")


@strawberry.type(description="筛查结果 the subjects that may be one candidate, best first")
class MatchResult:
    candidate: int = strawberry.field(description="the candidate's index in the request")
    results: list[MatchHit] = strawberry.field(
        description=f"at most {matching.MAX_RESULTS}, best first"
    )


Candidates = Annotated[
    list[MatchCandidate],
    strawberry.argument(description=f"筛查名单 at most {matching.MAX_CANDIDATES} candidates"),
]
Threshold = Annotated[
    float, strawberry.argument(description="阈值 the score from which a subject matches")
]


def match(
    info: ContextInfo, candidates: list[MatchCandidate], threshold: float
) -> list[MatchResult]:
    """The screening of each candidate, in their order."""
    if not 0.0 <= threshold <= 1.0:
        raise ApiError(f"match: threshold {threshold} is not in [0, 1]")
    if len(candidates) > matching.MAX_CANDIDATES:
        raise ApiError(
            f"match: at most {matching.MAX_CANDIDATES} candidates, not {len(candidates)}"
        )
    asked = [
        matching.Candidate(c.name, c.credit_code, c.legal_representative, c.region)
        for c in candidates
    ]
    context = info.context
    try:
        found = matching.screen(context.session, asked, on=context.on)
    except matching.MatchError as error:
        raise ApiError(f"match: {error}") from None
    results = []
    for index, scored in enumerate(found):
        hits = []
        for one in scored:
            public = privacy.subject(one.subject)
            context.subject_ids[public.key] = one.subject.id  # for its standing, if asked
            hits.append(
                MatchHit(
                    score=one.score,
                    match=one.score >= threshold,
                    features=list(one.features),
                    subject=public,  # type: ignore[arg-type]
                )
            )
        results.append(MatchResult(candidate=index, results=hits))
    return results
