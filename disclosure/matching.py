"""Screening (名单筛查): the public subjects that may be each of a list of candidates, scored.

A batch of candidates costs two statements whatever its size: the subjects sharing a credit
code or a name key with any candidate, then, for the candidates that found no name key, the
subjects whose key begins with the first half or ends with the second half of theirs (one edit
leaves one half whole). Only subjects with a public record on the day are found.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import lifecycle, models, names
from disclosure.queries import plain_rows

MAX_CANDIDATES = 100  # one request's, one file batch's
MAX_RESULTS = 5  # subjects per candidate, best first
FLOOR = 0.5  # below this score a subject is not worth showing, whatever the threshold
NEIGHBOURS = 200  # subjects one half of a key may bring per candidate

# What made a score, as results name them.
CREDIT_CODE = "credit_code"  # the same unified social credit code
NAME_KEY = "name_key"  # names equal after normalisation (names.normalise)
NAME_TOKENS = "name_tokens"  # names alike, not equal: most of their characters in order
LEGAL_REPRESENTATIVE = "legal_representative"  # the same legal representative

CODE_ONLY = 0.9  # the code is the identity: a renamed company keeps it
OTHER_CODE = 0.6  # both have codes and they differ: another registered organisation
LEGAL_REP_WEIGHT = 0.15  # up when the legal representative is the same, down when not


class MatchError(ValueError):
    """A candidate that cannot be screened; the message names it and its field."""


@dataclasses.dataclass(frozen=True)
class Candidate:
    """Who to look for: a name, and what else the list knows of them."""

    name: str
    credit_code: str | None = None
    legal_representative: str | None = None
    region: str | None = None  # a region the name may lead with (湛江市, 霞山区, …)

    def key(self) -> str:
        name = self.name.strip()
        region = (self.region or "").strip()
        if region and name.startswith(region) and len(name) > len(region):
            name = name[len(region) :]
        return names.normalise(name)


@dataclasses.dataclass(frozen=True)
class Scored:
    """A subject that may be the candidate: a plain row of its table, with its score."""

    score: float
    features: tuple[str, ...]
    subject: Any


def check(candidates: Sequence[Candidate], at: int = 0) -> None:
    """Refuse a candidate with no name, naming its place (`at` + its index) and field."""
    for index, candidate in enumerate(candidates, at):
        if not candidate.name.strip():
            raise MatchError(f"candidate {index}: name is empty / 名称为空")
        if candidate.credit_code is not None and len(candidate.credit_code.strip()) > 18:
            raise MatchError(
                f"candidate {index}: credit_code {candidate.credit_code!r} is longer than 18 "
                "characters / 统一社会信用代码超过18位"
            )


def screen(session: Session, candidates: Sequence[Candidate], *, on: dt.date) -> list[list[Scored]]:
    """For each candidate, in their order, the public subjects scoring at least FLOOR, best
    first, at most MAX_RESULTS."""
    check(candidates)
    if len(candidates) > MAX_CANDIDATES:
        raise MatchError(f"at most {MAX_CANDIDATES} candidates at once, not {len(candidates)}")
    keys = [candidate.key() for candidate in candidates]
    codes = [(c.credit_code or "").strip().upper() for c in candidates]
    exact = _rows(session, _exact({code for code in codes if code}, set(keys), on))
    by_key: dict[str, list[Any]] = {}
    by_code: dict[str, Any] = {}
    for row in exact:
        by_key.setdefault(row.name_key, []).append(row)
        if row.credit_code:
            by_code[row.credit_code] = row
    fuzzy = sorted({key for key in keys if key not in by_key and len(key) >= 2})
    near = _rows(session, _neighbours(fuzzy, on)) if fuzzy else []
    found = []
    for candidate, key, code in zip(candidates, keys, codes, strict=True):
        pool = {row.id: row for row in by_key.get(key, ())}
        if code in by_code:
            pool[by_code[code].id] = by_code[code]
        if key not in by_key:
            pool |= {row.id: row for row in near if _one_edit_apart(key, row.name_key)}
        found.append(_best(candidate, key, pool.values()))
    return found


def _one_edit_apart(key: str, other: str) -> bool:
    """What `_neighbours` asks of a row, for one key: its length and one of its halves."""
    half = (len(key) + 1) // 2
    return abs(len(other) - len(key)) <= 1 and (
        other.startswith(key[:half]) or other.endswith(key[half:])
    )


def _best(candidate: Candidate, key: str, rows: Iterable[Any]) -> list[Scored]:
    scored = [s for row in rows if (s := score(candidate, key, row)).score >= FLOOR]
    scored.sort(key=lambda s: (-s.score, s.subject.id))
    return scored[:MAX_RESULTS]


def score(candidate: Candidate, key: str, subject: Any) -> Scored:
    """How likely `subject` is the candidate whose name has key `key`, and why."""
    features: list[str] = []
    stored = subject.name_key or ""
    similar = names.similarity(key, stored)
    if key == stored:
        features.append(NAME_KEY)
    elif similar > 0:
        features.append(NAME_TOKENS)
    value = similar
    code = (candidate.credit_code or "").strip().upper()
    if code and subject.credit_code:
        if code == subject.credit_code:
            features.insert(0, CREDIT_CODE)
            value = max(similar, CODE_ONLY)
        else:
            value = similar * OTHER_CODE
    given = (candidate.legal_representative or "").strip()
    if given and subject.legal_rep_name:
        if names.normalise(given) == names.normalise(subject.legal_rep_name):
            features.append(LEGAL_REPRESENTATIVE)
            value += LEGAL_REP_WEIGHT
        else:
            value -= LEGAL_REP_WEIGHT
    return Scored(round(min(1.0, max(0.0, value)), 4), tuple(features), subject)


def _subjects() -> sa.Table:
    return plain_rows.table_of(models.Subject)


def has_public_record(subjects: sa.Table, on: dt.date) -> sa.ColumnElement[bool]:
    """The subject has a public record on `on`: one no longer public is not shown anywhere."""
    return sa.or_(
        *(
            sa.exists()
            .where(model.__table__.c.subject_id == subjects.c.id)  # type: ignore[union-attr]
            .where(lifecycle.public_clause(model, on))
            for model in models.RECORD_MODELS.values()
        )
    )


def _exact(codes: set[str], keys: set[str], on: dt.date) -> sa.Select[Any]:
    subjects = _subjects()
    wanted = [subjects.c.name_key.in_(sorted(keys))]
    if codes:
        wanted.append(subjects.c.credit_code.in_(sorted(codes)))
    return sa.select(*plain_rows.kept(subjects)).where(
        sa.or_(*wanted), has_public_record(subjects, on)
    )


def _neighbours(keys: Sequence[str], on: dt.date) -> sa.Executable:
    """Subjects whose key has the first half of one of `keys` as its prefix, or its second
    half as its suffix, and a length one edit away: at most NEIGHBOURS per half."""
    subjects = _subjects()
    branches = []
    for key in keys:
        half = (len(key) + 1) // 2
        length = sa.func.length(subjects.c.name_key).between(len(key) - 1, len(key) + 1)
        for column, prefix in (
            (subjects.c.name_key, key[:half]),
            (subjects.c.name_key_reversed, key[::-1][: len(key) - half]),
        ):
            branch = (
                sa.select(*plain_rows.kept(subjects))
                .where(column >= prefix, column < prefix + "\U0010ffff", length)
                .where(has_public_record(subjects, on))
                .limit(NEIGHBOURS)
            )
            branches.append(branch.subquery().select())
    return branches[0] if len(branches) == 1 else sa.union_all(*branches)


def _rows(session: Session, statement: sa.Executable) -> list[Any]:
    make = plain_rows.row_type(_subjects(), None)._make
    return [make(row) for row in session.connection().execute(statement)]
