"""Standing (联合奖惩) on the 1,000,000-record database: `standings` of 500 credit codes at once
against 500 separate `subject` lookups of the same standing, in one run; and the one-stop
`subject` lookup with `standing` selected against the same lookup without it.

Both sides run in this process through the schema as the API's query path runs them (the data
version read first, the node's per-version caches shared), so the ratio is the work of the
queries, not of HTTP.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import resource
import shutil
import statistics
from pathlib import Path

import sqlalchemy as sa

from bench import in_process, report
from bench.data import AS_OF
from disclosure import db

CODES = 500
LOOKUPS = 200  # subject lookups with and without standing, interleaved
FIELDS = "cleanSince measures { code state triggers { globalId kind url } }"
STANDING = f"standing {{ {FIELDS} }}"
SUBJECT = """query($code: String!) { subject(creditCode: $code) { name category url
  licenses { id decisionDocNo validToOn url }
  penalties { id decisionDocNo decisionOn severity underObjection url }
  listEntries { id list { code kind } validUntilOn url } %s } }"""
STANDINGS = "query($codes: [String!]!) { standings(creditCodes: $codes) { creditCode %s } }"


def _database(workdir: Path) -> Path:
    source = os.environ.get("GONGSHI_BENCH_DB")
    if not source:
        raise RuntimeError("GONGSHI_BENCH_DB must name the 1,000,000-record sample database")
    target = workdir / "var" / "gongshi.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    key = Path(source).with_name("id.key")
    if key.exists():
        shutil.copyfile(key, target.with_name("id.key"))
    return target


def _codes(engine: sa.Engine, on: dt.date) -> list[str]:
    """500 credit codes, a third of them of subjects with a public list entry or penalty: the
    bidders of a tender, some of them with something on record."""
    with engine.connect() as connection:
        flagged = [
            code
            for (code,) in connection.execute(
                sa.text(
                    "SELECT s.credit_code FROM subject s JOIN list_entry e ON e.subject_id = s.id "
                    "WHERE s.credit_code IS NOT NULL AND e.published_on <= :on "
                    "GROUP BY s.credit_code ORDER BY s.credit_code LIMIT 2000"
                ),
                {"on": on},
            )
        ]
        plain = [
            code
            for (code,) in connection.execute(
                sa.text(
                    "SELECT credit_code FROM subject WHERE credit_code IS NOT NULL "
                    "ORDER BY id LIMIT 20000"
                )
            )
        ]
    rng = random.Random(1)
    chosen = rng.sample(flagged, min(len(flagged), CODES // 3))
    chosen += rng.sample([c for c in plain if c not in set(chosen)], CODES - len(chosen))
    return chosen


def run(workdir: Path) -> list[report.Result]:
    database = _database(workdir)
    url = f"sqlite:///{database}"
    engine = db.create_engine(url)
    db.upgrade(engine)
    on = dt.date.fromisoformat(AS_OF)
    codes = _codes(engine, on)
    execute = in_process.executor(engine, database, on)

    batch_query = STANDINGS % FIELDS
    one_query = SUBJECT % STANDING
    execute(batch_query, {"codes": codes})  # warm the page cache and the parser for both
    for code in codes[:20]:
        execute(one_query, {"code": code})
    batches = [execute(batch_query, {"codes": codes}) for _ in range(5)]
    separate = [sum(execute(one_query, {"code": code}) for code in codes) for _ in range(3)]
    with_standing, without = [], []
    for code in codes[:LOOKUPS]:
        with_standing.append(execute(SUBJECT % STANDING, {"code": code}))
        without.append(execute(SUBJECT % "", {"code": code}))
    engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process, both sides
    ratio = statistics.median(separate) / statistics.median(batches)
    cost = statistics.median(with_standing) / statistics.median(without)
    return [
        report.Result(
            title="standings of 500 credit codes (1,000,000 records) vs 500 subject lookups",
            ours=report.Timing(
                "standings(creditCodes: 500 codes)",
                "bench/standing.py",
                tuple(batches),
                peak,
                CODES,
                "subjects",
            ),
            peer=report.Timing(
                "500 × subject { standing }",
                "bench/standing.py",
                tuple(separate),
                peak,
                CODES,
                "subjects",
            ),
            target="≥ 10× faster",
            notes=f"measured {ratio:.1f}× faster; a third of the codes have a public list entry; "
            "peak MB is the benchmark process's, shared by both sides",
        ),
        report.Result(
            title="subject lookup with standing selected vs without (1,000,000 records)",
            ours=report.Timing(
                "subject { … standing }",
                "bench/standing.py",
                tuple(with_standing),
                peak,
                unit="lookups",
                latency=True,
            ),
            peer=report.Timing(
                "subject { … }",
                "bench/standing.py",
                tuple(without),
                peak,
                unit="lookups",
                latency=True,
            ),
            target="≤ 1.3× the lookup without it",
            notes=f"measured {cost:.2f}× (median of {LOOKUPS} interleaved lookups)",
        ),
    ]
