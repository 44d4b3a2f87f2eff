"""Feeds and bulk data of a 1,000,000-record database (BENCH_FEEDS_RECORDS), the size issue 7's
targets name: every feed, and the full bulk export (CSV + JSON Lines + datapackage.json +
checksums) as a first release and again as a second one (with its change file against the first),
each alone, with peak memory. The peer exports the raw record tables to gzipped CSV with the
standard library alone."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench import data, report

RECORDS = int(os.environ.get("BENCH_FEEDS_RECORDS", "1000000"))
AS_OF = "2026-11-28"
EXPORT = Path(__file__).with_name("feeds_export.py")


def _public(workdir: Path) -> int:
    """How many records the bulk files hold: the rows of the JSON Lines files."""
    import gzip

    data = workdir / "bulk" / "current" / "data"
    total = 0
    for path in data.glob("*.jsonl.gz"):
        with gzip.open(path, "rb") as lines:
            total += sum(1 for _ in lines)
    return total


def run(workdir: Path) -> list[report.Result]:
    env = {**os.environ, "GONGSHI_DATA_DIR": str(workdir / "var")}
    env.pop("DATABASE_URL", None)
    data.sample_database(workdir, RECORDS)
    python = sys.executable
    feeds = report.measure(
        "all feeds",
        [python, str(EXPORT), "feeds", str(workdir / "feeds"), AS_OF],
        cwd=workdir,
        env=env,
    )
    bulk = report.measure(
        "bulk export",
        [python, str(EXPORT), "bulk", str(workdir / "bulk"), AS_OF],
        cwd=workdir,
        env=env,
    )
    again = report.measure(
        "bulk export, next release (with its change file)",
        [python, str(EXPORT), "bulk", str(workdir / "bulk"), AS_OF],
        cwd=workdir,
        env=env,
    )
    public = _public(workdir)
    bulk, again = (
        report.Timing(t.label, t.command, t.seconds, t.peak_mb, public, "records")
        for t in (bulk, again)
    )
    peer = report.measure(
        "stdlib csv+gzip of the raw tables",
        [python, str(EXPORT), "peer", str(workdir / "peer"), AS_OF],
        cwd=workdir,
        env=env,
        units=RECORDS,
        unit="records",
    )
    return [
        report.Result(
            title=f"Feeds: every feed of a {RECORDS:,}-record database",
            ours=feeds,
            peer=None,
            target="< 10 s; peak memory < 300 MB",
        ),
        report.Result(
            title=f"Bulk data: CSV + JSON Lines of {public:,} public records",
            ours=bulk,
            peer=peer,
            target="≥ 50,000 records/s; peak memory < 300 MB",
        ),
        report.Result(
            title=f"Bulk data again: the next release of {public:,} public records",
            ours=again,
            peer=peer,
            target="≥ 50,000 records/s; peak memory < 300 MB",
        ),
    ]
