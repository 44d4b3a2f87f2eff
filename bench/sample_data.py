"""`gongshi sample --records 1000000` on SQLite, beside the floor: sqlite3 inserting the same
number of rows of the same tables with no generation, no rules and no workflows."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench import report

RECORDS = int(os.environ.get("BENCH_RECORDS", "1000000"))

PEER = Path(__file__).with_name("sample_floor.py")


def run(workdir: Path) -> list[report.Result]:
    gongshi = str(Path(sys.executable).with_name("gongshi"))
    env = {**os.environ, "GONGSHI_DATA_DIR": str(workdir / "var")}
    env.pop("DATABASE_URL", None)
    ours = report.measure(
        "gongshi sample",
        [gongshi, "sample", "--records", str(RECORDS), "--seed", "1", "--as-of", "2026-11-28"],
        cwd=workdir,
        env=env,
        setup=[[gongshi, "init"]],
        units=RECORDS,
        unit="records",
    )
    peer = report.measure(
        "sqlite3 executemany (floor)",
        [sys.executable, str(PEER), str(RECORDS)],
        cwd=workdir,
        units=RECORDS,
        unit="records",
    )
    return [
        report.Result(
            title=f"Sample data: {RECORDS:,} records into SQLite",
            ours=ours,
            peer=peer,
            target="`gongshi sample --records 1000000` under 5 minutes",
            notes=(
                "gongshi generates subjects with valid codes, decisions of three kinds with their "
                "publicity windows and working-day publication dates, appends a PUBLISHED event "
                "per record and runs ~2,000 withdrawal, repair, objection and exit stories through "
                "the workflows, all in one transaction. The peer only inserts the same number of "
                "records, subjects and events with constant values: the floor of the storage."
            ),
        )
    ]
