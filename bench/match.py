"""Screening (`match`): quality on a labelled set built from a fresh sample, and the rate of
screening 10,000 candidates on the 1,000,000-record database against one `search` per name.

The labelled set: for each of a few hundred public companies of the sample, four true variants
(the name shortened to its key, in traditional characters, without its region, with one
character mistyped) and two decoys that are no company (another industry after the same trade
name; the name's words swapped). Precision counts every result with `match` true; recall, the
variants whose company is among them.

Throughput runs through the schema as the API's query path runs it (as bench/standing.py):
`match` 100 candidates a request, against `search(query: name, first: 5)` for each candidate
(a sample of them; rates compared per candidate), on the same database and whoosh index.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import resource
import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opencc
import sqlalchemy as sa
from sqlmodel import Session

from bench import in_process, report
from bench.data import AS_OF
from disclosure import db, lifecycle, matching, models, names, sample, workdays
from disclosure.queries import plain_rows
from search_index import search

QUALITY_RECORDS = int(os.environ.get("BENCH_MATCH_RECORDS", "30000"))
LABELLED = 300  # companies the labelled set is built from
SCREENED = 10_000
PEER = 1_000  # candidates the peer searches for, one by one
TYPOS = "犇淼鑫垚焱骉琍瑨珺琰"  # characters no sample name is made of
MATCH = """query($c: [MatchCandidate!]!) { match(candidates: $c) {
  candidate results { score match features subject { name creditCode } } } }"""
SEARCH = """query($q: String!) { search(query: $q, first: 5) { edges { node { score record {
  ... on Penalty { subject { name creditCode } } ... on License { subject { name creditCode } }
  ... on ListEntry { subject { name creditCode } } } } } } }"""


@dataclass(frozen=True)
class Labelled:
    candidate: matching.Candidate
    source: int | None  # the subject it names; None for a decoy
    kind: str


def _companies(engine: sa.Engine, on: dt.date, count: int, seed: int) -> list[Any]:
    """`count` public companies, at random."""
    subjects = plain_rows.table_of(models.Subject)
    statement = sa.select(subjects.c.id, subjects.c.name, subjects.c.name_key).where(
        subjects.c.category == models.SubjectCategory.LEGAL_PERSON,
        matching.has_public_record(subjects, on),
    )
    with engine.connect() as connection:
        rows = list(connection.execute(statement))
    return random.Random(seed).sample(rows, min(count, len(rows)))


def _labelled(companies: list[Any], keys: set[str], seed: int) -> list[Labelled]:
    rng = random.Random(seed)
    traditional = opencc.OpenCC("s2t")
    industries = sorted(sample.vocabulary()["names"]["industry"], key=len, reverse=True)
    heads = sorted(names.REGIONS, key=len, reverse=True)
    made: list[Labelled] = []
    for company in companies:
        name, key = company.name, company.name_key
        form = next((s for s in names.SUFFIXES if name.endswith(s)), "")
        bare = name
        for region in heads:  # 湛江市赤坎区… loses both
            bare = bare.removeprefix(region)
        for region in heads:
            bare = bare.removeprefix(region)
        head = name[: len(name) - len(bare)]
        at = rng.randrange(len(key))
        typo = key[:at] + rng.choice(TYPOS) + key[at + 1 :]
        made += [
            Labelled(matching.Candidate(key), company.id, "abbreviation"),
            Labelled(matching.Candidate(str(traditional.convert(name))), company.id, "traditional"),
            Labelled(matching.Candidate(bare), company.id, "dropped region"),
            Labelled(matching.Candidate(f"{head}{typo}{form}"), company.id, "typo"),
        ]
        industry = next((i for i in industries if key.endswith(i)), key[-2:])
        trade = key[: len(key) - len(industry)]
        other = rng.choice([i for i in industries if i != industry])
        for decoy, kind in (
            (f"{head}{trade}{other}{form}", "shared trade name"),
            (f"{head}{industry}{trade}{form}", "shared tokens"),
        ):
            if names.normalise(decoy) not in keys:
                made.append(Labelled(matching.Candidate(decoy), None, kind))
    return made


def _quality(workdir: Path, on: dt.date) -> tuple[dict[str, Any], float, int]:
    """Precision, recall and their counts on the labelled set of a fresh sample."""
    url = f"sqlite:///{workdir / 'quality.db'}"
    engine = db.create_engine(url)
    db.upgrade(engine)
    with Session(engine) as session:
        sample.generate(
            session,
            records=QUALITY_RECORDS,
            seed=1,
            as_of=on,
            rules=lifecycle.Rules(),
            calendar=workdays.Calendar.load(None),
        )
        session.commit()
    with engine.connect() as connection:
        keys = set(connection.execute(sa.text("SELECT name_key FROM subject")).scalars())
    labelled = _labelled(_companies(engine, on, LABELLED, 2), keys, 3)
    started = time.perf_counter()
    found: list[list[matching.Scored]] = []
    with Session(engine) as session:
        for start in range(0, len(labelled), matching.MAX_CANDIDATES):
            batch = [one.candidate for one in labelled[start : start + matching.MAX_CANDIDATES]]
            found += matching.screen(session, batch, on=on)
    elapsed = time.perf_counter() - started
    engine.dispose()
    true_positive = false_positive = recalled = 0
    missed: dict[str, int] = {}
    wrong: dict[str, int] = {}
    for one, results in zip(labelled, found, strict=True):
        matched = {s.subject.id for s in results if s.score >= 0.7}
        true_positive += one.source in matched
        false_positive += len(matched - {one.source})
        if matched - {one.source}:
            wrong[one.kind] = wrong.get(one.kind, 0) + 1
        if one.source is not None:
            recalled += one.source in matched
            if one.source not in matched:
                missed[one.kind] = missed.get(one.kind, 0) + 1
    variants = sum(one.source is not None for one in labelled)
    figures = {
        "precision": true_positive / max(1, true_positive + false_positive),
        "recall": recalled / variants,
        "variants": variants,
        "decoys": len(labelled) - variants,
        "missed": missed,
        "wrong": wrong,
    }
    return figures, elapsed, len(labelled)


def _database(workdir: Path) -> tuple[Path, Path]:
    """A copy of the 1,000,000-record database (migrated here, never the original), and the
    whoosh index folder beside the original, which searching only reads."""
    source = os.environ.get("GONGSHI_BENCH_DB")
    if not source:
        raise RuntimeError("GONGSHI_BENCH_DB must name the 1,000,000-record sample database")
    target = workdir / "var" / "gongshi.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    original = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    original.backup(copy)
    copy.close()
    original.close()
    return target, Path(source).with_name("index")


def run(workdir: Path) -> list[report.Result]:
    on = dt.date.fromisoformat(AS_OF)
    figures, quality_seconds, labelled = _quality(workdir, on)
    database, index = _database(workdir)
    url = f"sqlite:///{database}"
    engine = db.create_engine(url)
    started = time.perf_counter()
    db.upgrade(engine)  # 0010 keys every subject's name
    migration = time.perf_counter() - started
    with engine.connect() as connection:
        keys = set(connection.execute(sa.text("SELECT name_key FROM subject")).scalars())
    companies = _companies(engine, on, SCREENED // 5, 4)
    candidates = [one.candidate for one in _labelled(companies, keys, 5)][:SCREENED]
    searcher = search.Searcher(index)
    execute = in_process.executor(engine, database, on, searcher)

    def as_input(candidate: matching.Candidate) -> dict[str, Any]:
        return {"name": candidate.name}

    size = matching.MAX_CANDIDATES
    batches = [
        [as_input(c) for c in candidates[start : start + size]]
        for start in range(0, len(candidates), size)
    ]
    execute(MATCH, {"c": batches[0]})  # warm the parser and the page cache for both
    execute(SEARCH, {"q": candidates[0].name})
    ours, peer = [], []
    for _ in range(2):
        ours.append(sum(execute(MATCH, {"c": batch}) for batch in batches))
        peer.append(sum(execute(SEARCH, {"q": c.name}) for c in candidates[:PEER]))
    searcher.close()
    engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = (len(candidates) / statistics.median(ours)) / (PEER / statistics.median(peer))
    return [
        report.Result(
            title=f"match: precision and recall at threshold 0.7, labelled set of a "
            f"{QUALITY_RECORDS:,}-record sample",
            ours=report.Timing(
                "matching.screen, 100 candidates a batch",
                "bench/match.py",
                (quality_seconds,),
                peak,
                labelled,
                "candidates",
            ),
            peer=None,
            target="precision ≥ 0.95 and recall ≥ 0.95",
            notes=f"precision {figures['precision']:.3f}, recall {figures['recall']:.3f} over "
            f"{figures['variants']} true variants (abbreviation, traditional, dropped region, "
            f"one-character typo) of {LABELLED} companies and {figures['decoys']} decoys; "
            f"variants missed by kind {figures['missed']}, candidates with a wrong match by "
            f"kind {figures['wrong']}",
        ),
        report.Result(
            title=f"match: {len(candidates):,} candidates on 1,000,000 records vs one search "
            "per candidate name",
            ours=report.Timing(
                "match(candidates: 100 a request)",
                "bench/match.py",
                tuple(ours),
                peak,
                len(candidates),
                "candidates",
            ),
            peer=report.Timing(
                "search(query: name, first: 5) per candidate",
                "bench/match.py",
                tuple(peer),
                peak,
                PEER,
                "candidates",
            ),
            target="≥ 5× the peer's rate",
            notes=f"measured {ratio:.1f}× the rate; the peer times the first {PEER:,} of the "
            f"same candidates; migration 0010 keyed the database's subjects in "
            f"{migration:.0f} s; peak MB is the benchmark process's, shared by both sides",
        ),
    ]
